"""Observing a run: the events of `Agent.stream`, the `AgentStream` of them, and `Hooks`.

Events are built only while streaming; hooks are called only when some are registered, so a
plain `Agent.run` pays for neither.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeAlias

import anyio

from agentkit._taskgroup import first_failure
from agentkit.result import RunResult, RunUsage

if TYPE_CHECKING:
    from anyio.abc import TaskGroup
    from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

    from agentkit.context import RunContext
    from agentkit.tools import ToolResult
    from agentkit.types import ChatCompletion, Message

__all__ = [
    "AgentEvent",
    "AgentStream",
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
    """A piece of the model's reasoning (``reasoning_content`` or ``reasoning``), as it arrives."""

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
    """A tool call has its reply.

    Inside ``async with agent.stream(...)`` it arrives the moment the call ends; when the
    stream is iterated without ``async with``, a turn's calls all arrive once the last one ends.
    """

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
    """The assistant message received, its reasoning included (see ``reasoning_text``)."""


@dataclass(frozen=True, kw_only=True)
class RunFinished:
    """The run is over; always the last event."""

    result: RunResult[Any]
    """The same result `Agent.run` returns."""


AgentEvent: TypeAlias = (
    TextDelta | ReasoningDelta | ToolCallStarted | ToolCallFinished | StepFinished | RunFinished
)
"""Any event yielded by `Agent.stream`."""

EventSink: TypeAlias = Callable[[AgentEvent], Awaitable[None]]
"""Where a live stream's tool calls send their `ToolCallFinished` events as they end."""


class AgentStream:
    """The events of one agent run, as `Agent.stream` returns them; `RunFinished` is last.

    Read it in one of two ways:

    ```python
    async with agent.stream("hi") as events:      # live: the run is a task of this block
        async for event in events:
            ...

    async for event in agent.stream("hi"):         # plain: the run happens as you iterate
        ...
    ```

    Both yield the same events in the same order within a turn, and the same result. Inside
    ``async with``, each tool call's `ToolCallFinished` arrives the moment that call ends, and
    leaving the block (``break``, an exception, a cancellation) stops the run, its HTTP
    request and its tool calls. Iterated plainly, the run advances only while you wait for the
    next event, so a turn's `ToolCallFinished` events arrive together once its last call ends
    (an async generator cannot run tasks while it waits at a ``yield``); close it early with
    ``contextlib.aclosing`` to release the HTTP response at once.

    Errors of the run (`MaxStepsExceeded`, `APIError`...) are raised where you iterate, as
    they are by `Agent.run`.
    """

    def __init__(self, events: Callable[[EventSink | None], AsyncGenerator[AgentEvent, None]]):
        """Wrap a run's event generator (made by `Agent.stream`; not called directly).

        Args:
            events: Starts the run and yields its events; given a sink, it sends each
                `ToolCallFinished` there as the call ends instead of yielding it.
        """
        self._events = events
        self._plain: AsyncGenerator[AgentEvent, None] | None = None
        self._group: TaskGroup | None = None
        self._scope: anyio.CancelScope | None = None  # the live run's alone, not the block
        self._receive: MemoryObjectReceiveStream[AgentEvent] | None = None
        self._error: Exception | None = None

    def __aiter__(self) -> AgentStream:
        return self

    async def __anext__(self) -> AgentEvent:
        if self._receive is None:
            if self._plain is None:
                self._plain = self._events(None)
            return await self._plain.__anext__()
        try:
            return await self._receive.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            pass
        error, self._error = self._error, None
        if error is not None:
            raise error  # outside the except: its own cause and traceback stay as they were
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Stop the run and release its HTTP response (`contextlib.aclosing` calls this)."""
        if self._plain is not None:
            await self._plain.aclose()
        if self._scope is not None:
            self._scope.cancel()

    async def __aenter__(self) -> AgentStream:
        if self._plain is not None or self._group is not None:
            raise RuntimeError("enter the stream with `async with` before iterating it, once")
        send, self._receive = anyio.create_memory_object_stream[AgentEvent]()
        self._scope = anyio.CancelScope()
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        self._group.start_soon(self._produce, send)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        assert self._group is not None and self._scope is not None and self._receive is not None
        self._scope.cancel()  # a block left before RunFinished stops the run
        escaped: BaseException | None = None
        try:
            await self._group.__aexit__(exc_type, exc, traceback)
        except BaseExceptionGroup as group:
            # The run reports its errors through the stream, so the group holds the block's own
            # exception or one the run could not report (a BaseException from a tool): raise it
            # as itself, as `Agent.run` would, not wrapped in a group.
            escaped = first_failure(group)
            if escaped is None:  # only cancellations: the scope that cancelled us handles them
                raise
        finally:
            self._receive.close()
        if escaped is not None and escaped is not exc:
            raise escaped
        return False

    async def _produce(self, send: MemoryObjectSendStream[AgentEvent]) -> None:
        assert self._scope is not None
        with self._scope, send:
            try:
                async with contextlib.aclosing(self._events(send.send)) as events:
                    async for event in events:
                        await send.send(event)
            except Exception as exc:  # raised to the reader once the stream is drained
                self._error = exc


class Hooks:
    """Callbacks around model requests and tool calls; subclass and override what you need.

    Every method is a no-op by default. Hooks run inside the run's task: an exception raised by
    a hook stops the run (the turn's other tool calls are cancelled) and comes out of
    ``run``/``stream`` as itself, never inside an `ExceptionGroup`, however many calls the turn
    had. Tool hooks run in the tool call's task, so they may run concurrently.

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
                (``model``, ``messages``, ``tools``, settings...): a deep copy made for this
                request, so edits change what it sends, never the run's messages, later
                requests or the agent's tools.
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
