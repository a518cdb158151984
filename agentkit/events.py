"""Observing a run: the events `Agent.stream` yields, and the `Hooks` an agent calls.

Events are built only while streaming; hooks are called only when some are registered, so a
plain `Agent.run` pays for neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from agentkit.result import RunResult, RunUsage

if TYPE_CHECKING:
    from agentkit.context import RunContext
    from agentkit.tools import ToolResult
    from agentkit.types import ChatCompletion, Message

__all__ = [
    "AgentEvent",
    "Hooks",
    "ReasoningDelta",
    "RunFinished",
    "StepFinished",
    "TextDelta",
    "ToolCallFinished",
    "ToolCallRequest",
    "ToolCallStarted",
]


@dataclass(frozen=True, kw_only=True)
class ToolCallRequest:
    """One tool call the model asked for, as shown to ``approve`` and to hooks."""

    call_id: str
    """The call's ``id``; its reply carries it as ``tool_call_id``."""
    name: str
    """The tool's name."""
    arguments: str
    """The arguments as the model sent them: a JSON string, possibly invalid."""


@dataclass(frozen=True, kw_only=True)
class TextDelta:
    """A piece of the assistant's answer text, as it arrives."""

    text: str
    """The new text."""


@dataclass(frozen=True, kw_only=True)
class ReasoningDelta:
    """A piece of the model's ``reasoning_content``, as it arrives."""

    text: str
    """The new reasoning text."""


@dataclass(frozen=True, kw_only=True)
class ToolCallStarted:
    """The run is about to handle a tool call (approval, if needed, comes next)."""

    call_id: str
    """The call's ``id``."""
    name: str
    """The tool's name, as the model wrote it."""
    arguments: str
    """The JSON arguments, as the model wrote them."""


@dataclass(frozen=True, kw_only=True)
class ToolCallFinished:
    """A tool call has its reply (yielded once every call of the turn has finished)."""

    call_id: str
    """The call's ``id``."""
    name: str
    """The tool's name."""
    content: str
    """The text sent back to the model as the ``tool`` message."""
    is_error: bool
    """True when the call failed, was denied, or named an unknown tool."""
    duration: float
    """Seconds from the start of the call to its reply."""


@dataclass(frozen=True, kw_only=True)
class StepFinished:
    """A model request has been answered (its tool calls, if any, run next)."""

    step: int
    """The number of model requests made so far in this run (1 for the first)."""
    usage: RunUsage
    """The usage of this request alone."""
    message: Message
    """The assistant message received, ``reasoning_content`` included."""


@dataclass(frozen=True, kw_only=True)
class RunFinished:
    """The run is over; always the last event."""

    result: RunResult[Any]
    """The same result `Agent.run` returns."""


AgentEvent: TypeAlias = (
    TextDelta | ReasoningDelta | ToolCallStarted | ToolCallFinished | StepFinished | RunFinished
)
"""Any event yielded by `Agent.stream`."""


class Hooks:
    """Callbacks around model requests and tool calls; subclass and override what you need.

    Every method is a no-op by default. Hooks run inside the run's task: an exception raised by
    a hook stops the run. Tool hooks run in the tool call's task, so they may run concurrently.

    Example:
        ```python
        class Timing(Hooks):
            async def after_tool(self, ctx, call, result):
                print(call.name, "->", result.content)

        agent = Agent("m", tools=[add], hooks=[Timing()])
        ```
    """

    async def before_request(self, ctx: RunContext[Any], request_params: dict[str, Any]) -> None:
        """Called before each model request.

        Args:
            ctx: The run's context (deps, usage and messages so far, step).
            request_params: The keyword arguments about to be passed to ``ChatClient``
                (``model``, ``messages``, ``tools``, settings...); changes are sent as made.
        """

    async def after_request(self, ctx: RunContext[Any], completion: ChatCompletion) -> None:
        """Called after each model request, with the completion received.

        Args:
            ctx: The run's context; ``usage`` and ``step`` already count this request.
            completion: The response (assembled from chunks when streaming).
        """

    async def before_tool(self, ctx: RunContext[Any], call: ToolCallRequest) -> None:
        """Called before each tool call is handled (before approval).

        Args:
            ctx: The context given to the tool (``tool_name`` and ``tool_call_id`` set).
            call: The call the model asked for.
        """

    async def after_tool(
        self, ctx: RunContext[Any], call: ToolCallRequest, result: ToolResult
    ) -> None:
        """Called as soon as a tool call has its reply.

        Args:
            ctx: The context given to the tool.
            call: The call the model asked for.
            result: What the call produced; ``result.content`` is sent back to the model.
        """
