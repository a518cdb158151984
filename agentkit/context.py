"""RunContext: what a tool or an instructions function may know about the run it serves."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from agentkit.result import RunUsage

if TYPE_CHECKING:
    from agentkit.agent import Agent

__all__ = ["RunContext"]

DepsT = TypeVar("DepsT")


@dataclass(kw_only=True)
class RunContext(Generic[DepsT]):
    """Passed to tools that declare a parameter typed ``RunContext[...]``; never in the schema.

    Example:
        ```python
        @tool
        async def lookup(ctx: RunContext[Database], key: str) -> str:
            return await ctx.deps.get(key)
        ```
    """

    deps: DepsT
    """The ``deps=`` object given to ``Agent.run`` (db handle, http client, settings...)."""
    usage: RunUsage = field(default_factory=RunUsage)
    """Usage of the run so far."""
    messages: list[dict[str, Any]] = field(default_factory=list)
    """The conversation so far (read it; don't mutate it)."""
    step: int = 0
    """Number of model requests made so far in this run."""
    tool_name: str | None = None
    """The tool being called, when the context is given to a tool."""
    tool_call_id: str | None = None
    """The id of the tool call being served, when the context is given to a tool."""
    run_id: str | None = None
    """The run's id: the ``run_id=`` given to the run (or its checkpoint's), else None."""
    agent: Agent[Any] | None = field(default=None, repr=False)
    """The agent running (None for a context made outside a run)."""
    usage_sink: Callable[[RunUsage], None] | None = field(default=None, repr=False)
    """Where `add_usage` reports to; set by the agent running the tool."""

    def add_usage(self, usage: RunUsage) -> None:
        """Count work done for this run (e.g. a sub-agent's requests) in the run's usage.

        Args:
            usage: The usage to add.
        """
        self.usage = self.usage + usage
        if self.usage_sink is not None:
            self.usage_sink(usage)
