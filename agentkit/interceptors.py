"""Interceptor: wrap what a run does — the run, each model request, approval, tool execution.

The loop has exactly two side effects, both JSON in and JSON out: the model request and the
tool execution. An interceptor sees (and may replace) each of them, plus the approval decision
of a tool that needs one and a scope around the whole run. It is the one seam that tracing
(`agentkit.otel`) and durable execution engines (`agentkit.durable`) are built on, and it is
open to users the same way: logging, caching, rate shaping, fault injection in tests.

Interceptors are given per agent (``Agent(..., interceptors=[...])``) and per run
(``agent.run(..., interceptors=[...])``). Agent-level ones are outermost, then run-level ones,
each in list order: the first wraps all that follow. A run without interceptors takes exactly
the code path it takes without this module.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from agentkit.agent import Agent
    from agentkit.context import RunContext
    from agentkit.events import ToolCallRequest

__all__ = ["ApproveCall", "Interceptor", "ModelCall", "ToolCall", "wrap"]

ModelCall = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
"""A model request: `ChatClient.complete` keywords in, the completion out (JSON data)."""

ToolCall = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
"""A tool execution: the wire tool call in, ``{"content", "is_error", "duration"}`` out."""

ApproveCall = Callable[["ToolCallRequest"], Awaitable[bool]]
"""An approval decision: the call the model asked for in, True to run it."""


class Interceptor:
    """Wraps a run's steps; subclass it and override what you need.

    Every method's default passes straight through to ``call_next``. An override may look at
    or change the input, call ``call_next`` (once, several times, or not at all), and look at
    or change the output, as long as it returns the same shape of JSON data. Exceptions raised
    here leave the run as they are (a tool execution's exception is not turned into a reply).

    Example:
        ```python
        class Log(Interceptor):
            async def tool_call(self, ctx, call, call_next):
                print("calling", call["function"]["name"])
                return await call_next(call)

        agent = Agent("m", tools=[add], interceptors=[Log()])
        ```
    """

    def run(self, agent: Agent[Any], ctx: RunContext[Any]) -> AbstractAsyncContextManager[None]:
        """A scope around a whole run (``run``, ``run_sync`` and ``stream`` alike).

        It is entered in the task that runs the loop before the first request, so tasks the
        run starts (concurrent tool calls) inherit context variables set in it, and it sees
        the exception that ends a run, if one does.

        Args:
            agent: The agent running.
            ctx: The run's context (``run_id``, ``deps``, the messages it starts with).

        Returns:
            An async context manager; the default does nothing.
        """
        return contextlib.nullcontext()

    async def model_request(
        self, ctx: RunContext[Any], params: dict[str, Any], call_next: ModelCall
    ) -> dict[str, Any]:
        """Around each model request.

        In ``agent.stream()``, ``call_next`` streams: inside ``async with agent.stream(...)``
        its text and reasoning deltas reach the reader as they arrive; a stream iterated
        plainly gets a request's deltas when the request ends.

        Args:
            ctx: The run's context (``step`` counts the requests made before this one).
            params: The `ChatClient.complete` keywords (``model``, ``messages``, ``tools``,
                settings...) as JSON data; copy before editing what you keep.
            call_next: Makes the request (or calls the next interceptor).

        Returns:
            The completion as JSON data (``ChatCompletion.model_dump(exclude_unset=True)``).
        """
        return await call_next(params)

    async def tool_call(
        self, ctx: RunContext[Any], call: dict[str, Any], call_next: ToolCall
    ) -> dict[str, Any]:
        """Around each tool execution, in the call's own task (a turn's calls run concurrently).

        Called after ``Hooks.before_tool`` and after approval; not called for an unknown tool
        or a denied call, whose replies are made without executing anything.

        Args:
            ctx: The context given to the tool (``tool_name`` and ``tool_call_id`` set).
            call: The wire tool call ``{"id", "type", "function": {"name", "arguments"}}``.
            call_next: Runs the tool (or calls the next interceptor).

        Returns:
            ``{"content": str, "is_error": bool, "duration": float}``, plus ``"usage"`` (a
            `RunUsage` dict) when the tool added usage with ``ctx.add_usage``, and
            ``"error_type"`` (e.g. ``"ValueError"``, ``"ArgumentsError"``) when it failed.
        """
        return await call_next(call)

    async def approve(
        self, ctx: RunContext[Any], request: ToolCallRequest, call_next: ApproveCall
    ) -> bool:
        """Around the approval decision of a call to a tool with ``requires_approval=True``.

        ``call_next`` asks the agent's ``approve`` callback (and denies without one). A durable
        engine replaces it with a durable wait for a decision another process sends.

        Args:
            ctx: The context given to the tool.
            request: The call the model asked for.
            call_next: Asks for the decision (or calls the next interceptor).

        Returns:
            True to run the call, False to deny it.
        """
        return await call_next(request)


def wrap(
    interceptors: Sequence[Interceptor],
    step: Literal["model_request", "tool_call", "approve"],
    ctx: RunContext[Any],
    inner: Callable[[Any], Awaitable[Any]],
) -> Callable[[Any], Awaitable[Any]]:
    """``inner`` wrapped by each interceptor's ``step`` method, the first outermost.

    Args:
        interceptors: The run's interceptors, outermost first.
        step: Which method wraps ``inner``.
        ctx: The context each method is given.
        inner: The step itself.

    Returns:
        A function of the step's input that runs the whole chain.
    """
    call = inner
    for interceptor in reversed(interceptors):
        call = _bind(getattr(interceptor, step), ctx, call)
    return call


def _bind(method: Callable[[Any, Any, Any], Awaitable[Any]], ctx: Any, call_next: Any) -> Any:
    async def call(value: Any) -> Any:
        return await method(ctx, value, call_next)

    return call
