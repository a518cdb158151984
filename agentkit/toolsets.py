"""Toolset: a group of tools an agent resolves when a run starts (an MCP server, a registry...).

A `Tool` is known when the agent is built; a toolset's tools may live elsewhere and change,
so the agent asks for them at the start of each run, through ``tools_for_run()``: an async
context manager that yields the tools for that run (cached by the toolset as it sees fit)
and releases whatever it opened for the run when the run ends.

Example:
    ```python
    class Registry:
        def __init__(self, *tools):
            self.tools = list(tools)

        @contextlib.asynccontextmanager
        async def tools_for_run(self):
            yield self.tools  # fetched, connected, cached... as the toolset needs

    agent = Agent("m", tools=[add, Registry(get_weather)])
    ```
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any, Protocol, runtime_checkable

from agentkit.errors import ToolDefinitionError
from agentkit.tools import Tool

__all__ = ["Toolset", "open_toolsets"]


@runtime_checkable
class Toolset(Protocol):
    """Anything in ``Agent(tools=[...])`` that yields its tools when a run starts.

    Its tools take part in the run like local ones: validated arguments, ``requires_approval``,
    timeouts, hooks, events. Their names must not clash with the agent's other tools (the
    run fails at its start with `ToolDefinitionError` if they do).
    """

    def tools_for_run(self) -> AbstractAsyncContextManager[Sequence[Tool[..., Any]]]:
        """Open the toolset for one run.

        Returns:
            An async context manager entered when the run starts and left when it ends;
            it yields the tools the run may call.
        """
        ...


async def open_toolsets(
    stack: AsyncExitStack, toolsets: Iterable[Toolset], local: dict[str, Tool[..., Any]]
) -> dict[str, Tool[..., Any]]:
    """Enter each toolset on ``stack`` and merge its tools after the local ones.

    Args:
        stack: Holds the toolsets open; the caller closes it when the run ends.
        toolsets: The toolsets, in the order the agent was given them.
        local: The agent's own tools, by name.

    Returns:
        Every tool of the run, by name: local ones first.

    Raises:
        ToolDefinitionError: A toolset's tool has the name of a local tool or of another
            toolset's tool.
    """
    merged = dict(local)
    owner: dict[str, str] = dict.fromkeys(local, "a local tool")
    for toolset in toolsets:
        for found in await stack.enter_async_context(toolset.tools_for_run()):
            if found.name in merged:
                raise ToolDefinitionError(
                    f"tool {found.name!r} of {toolset!r} clashes with {owner[found.name]} of "
                    "that name; tool names must be unique in a run (give the toolset a prefix, "
                    "or leave the tool out)"
                )
            merged[found.name] = found
            owner[found.name] = f"{toolset!r}'s tool"
    return merged
