"""Durable agent runs on existing engines: runs that survive crashes and spread over workers.

Each engine is its own optional extra and module, imported only by whoever uses it:
`agentkit.durable.dbos` (``pip install 'agentkit-loop[dbos]'``) and `agentkit.durable.temporal`
(``pip install 'agentkit-loop[temporal]'``). Importing this package imports neither engine.
"""

from __future__ import annotations

from typing import Any

from agentkit.agent import Agent
from agentkit.errors import ToolDefinitionError

__all__: list[str] = []


def _only_own_tools(agent: Agent[Any], wrapper: str) -> None:
    """Refuse an agent with toolsets: their tools exist per run, not as named steps."""
    if agent._toolsets:
        raise ToolDefinitionError(
            f"{wrapper} runs an agent's own tools, each a named step registered up front; "
            "toolsets (MCP servers) list their tools when a run starts, so a durable run "
            "cannot replay them yet. Give the durable agent plain tools (wrap the server's "
            "calls in functions), or run this agent without the durable wrapper"
        )
