"""agentkit tools the serving tests expose over MCP (``--tool tests.mcp_servers.served:add``)."""

from __future__ import annotations

from agentkit import Agent, tool


@tool
def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


def divide(a: float, b: float) -> float:
    """Divide a by b."""
    return a / b


researcher = Agent("m", instructions="You research.").as_tool(
    "research", "Ask the research agent a question."
)
