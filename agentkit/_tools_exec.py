"""Running the tool calls of one assistant turn: concurrently, replies in call order.

`ToolExecutor.call_tool` is the tool-call side effect of the loop (the agent reaches it through
`Agent._call_tool`): a wire tool call in, a JSON outcome out. It never raises (but for
cancellation, and errors in hooks or ``approve``).
`Run` is the mutable side of one run, shared by the loop and the tool calls, and the holder of
its deadline.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import anyio

from agentkit._taskgroup import run_concurrently
from agentkit.checkpoint import CheckpointStore, RunState
from agentkit.context import RunContext
from agentkit.errors import RunTimeoutError
from agentkit.events import (
    AgentEvent,
    EventSink,
    Hooks,
    ToolCallFinished,
    ToolCallRequest,
    ToolCallStarted,
)
from agentkit.interceptors import Interceptor, wrap
from agentkit.result import RunUsage
from agentkit.tools import Tool, ToolResult

if TYPE_CHECKING:
    from agentkit.agent import Agent

__all__ = ["Approve", "Run", "ToolExecutor"]

logger = logging.getLogger("agentkit")

Approve = Callable[[ToolCallRequest], bool | Awaitable[bool]]
"""The ``approve`` callback of an agent: sync or async, True to run the call."""

CallTool = Callable[[dict[str, Any], "Run"], Awaitable[dict[str, Any]]]
"""The tool-call side effect: a wire tool call and the run in, the call's JSON outcome out."""


class Run:
    """One execution of the loop: the state plus what is not state (deps, store, flags)."""

    __slots__ = (
        "agent",
        "deadline",
        "deps",
        "emit",
        "executor",
        "interceptors",
        "lock",
        "run_id",
        "sink",
        "state",
        "store",
        "timeout",
    )

    def __init__(
        self,
        state: RunState,
        deps: Any,
        emit: bool,
        store: CheckpointStore | None,
        run_id: str | None,
        *,
        agent: Agent[Any] | None = None,
        interceptors: tuple[Interceptor, ...] = (),
        timeout: float | None = None,
        deadline: float | None = None,
    ) -> None:
        self.state = state
        self.agent = agent
        # Outermost first; empty for most runs, which then take no interceptor code path.
        self.interceptors = interceptors
        self.deps = deps
        self.emit = emit
        # Set by a live `AgentStream`: tool calls send their `ToolCallFinished` there as they end.
        self.sink: EventSink | None = None
        self.store = store
        self.run_id = run_id
        # Set when the agent has toolsets: the run's own tools (local + toolsets').
        self.executor: ToolExecutor | None = None
        # Tool calls finish concurrently; saves must not overtake each other.
        self.lock = anyio.Lock() if store is not None else None
        self.timeout = timeout
        self.deadline = deadline  # on anyio's clock, when `timeout` is set

    def bounded(self) -> contextlib.AbstractContextManager[None]:
        """A block of the run's work, cancelled at the run's deadline: `RunTimeoutError` instead.

        Past the deadline, the block doesn't start. Everything the block started (an HTTP
        request, tool calls and their task group) is cancelled and has finished before the
        error is raised. The loop wraps each stretch between two of its ``yield``s in one: a
        cancel scope must not stay open across a ``yield``, where the reader's code runs.
        """
        if self.deadline is None or self.timeout is None:
            return _UNBOUNDED
        return _deadline_scope(self.deadline, self.timeout)

    def add_usage(self, usage: RunUsage) -> None:
        self.state.usage = self.state.usage + usage

    def context(
        self,
        tool_name: str | None = None,
        call_id: str | None = None,
        usage_sink: Callable[[RunUsage], None] | None = None,
    ) -> RunContext[Any]:
        state = self.state
        return RunContext(
            deps=self.deps,
            usage=state.usage,
            messages=state.messages,
            step=state.steps,
            tool_name=tool_name,
            tool_call_id=call_id,
            run_id=self.run_id,
            agent=self.agent,
            usage_sink=usage_sink or self.add_usage,
        )

    async def save(self) -> None:
        if self.store is not None and self.lock is not None and self.run_id is not None:
            async with self.lock:
                await self.store.save(self.run_id, self.state)


_UNBOUNDED = contextlib.nullcontext()


@contextlib.contextmanager
def _deadline_scope(deadline: float, timeout: float) -> Iterator[None]:
    if anyio.current_time() >= deadline:  # no new work past it, even work that never waits
        raise RunTimeoutError(timeout)
    with anyio.CancelScope(deadline=deadline) as scope:
        yield
    if scope.cancelled_caught:
        raise RunTimeoutError(timeout)


class ToolExecutor:
    """Runs tool calls for one agent; built once, at the agent's construction."""

    def __init__(
        self,
        tools: dict[str, Tool[..., Any]],
        hooks: Sequence[Hooks],
        approve: Approve | None,
        max_concurrency: int,
        strict: frozenset[str] = frozenset(),
    ) -> None:
        self._tools = tools
        self._strict = strict  # the tools sent in strict mode: no key outside their schema
        self._hooks = tuple(hooks)
        self._approve = approve
        self._max_concurrency = max_concurrency

    def with_tools(self, tools: dict[str, Tool[..., Any]], strict: frozenset[str]) -> ToolExecutor:
        """The same executor (hooks, approval, concurrency) over other tools: one run's."""
        return ToolExecutor(tools, self._hooks, self._approve, self._max_concurrency, strict)

    def started(self, run: Run) -> list[ToolCallStarted]:
        """The `ToolCallStarted` events of the calls `run_tool_calls` is about to make."""
        calls, done = run.state.pending, run.state.results
        return [
            ToolCallStarted(
                call_id=call["id"],
                name=call["function"]["name"],
                arguments=call["function"]["arguments"],
            )
            for i, call in enumerate(calls)
            if str(i) not in done
        ]

    async def run_tool_calls(self, run: Run, call_tool: CallTool) -> list[AgentEvent]:
        """Answer every pending call (concurrently), then add the replies in call order.

        Args:
            run: The run whose ``state.pending`` calls are answered.
            call_tool: Makes one call (`Agent._call_tool`, the seam a durable engine wraps).

        Returns:
            The turn's `ToolCallFinished` events, when ``run.emit`` and ``run.sink`` is unset
            (with a sink, each is sent there as its call ends).
        """
        state = run.state
        calls = state.pending
        # Keyed by position, not id: some servers send empty or repeated call ids. Calls
        # answered before a resume are not run again.
        results = state.results
        todo = [i for i in range(len(calls)) if str(i) not in results]
        events: list[AgentEvent] = []
        # A limiter only when it can matter: most turns have fewer calls than the bound.
        limiter = (
            anyio.CapacityLimiter(self._max_concurrency)
            if len(todo) > self._max_concurrency
            else None
        )

        async def answer(i: int) -> None:
            call = calls[i]
            if limiter is None:
                outcome = await call_tool(call, run)
            else:
                async with limiter:
                    outcome = await call_tool(call, run)
            usage = outcome.get("usage")
            if usage is not None:  # work the tool did for the run, e.g. a sub-agent's requests
                run.add_usage(RunUsage(**usage))
            results[str(i)] = outcome
            await run.save()
            if run.emit:
                finished = ToolCallFinished(
                    call_id=call["id"],
                    name=call["function"]["name"],
                    content=outcome["content"],
                    is_error=outcome["is_error"],
                    duration=outcome["duration"],
                )
                if run.sink is None:
                    events.append(finished)
                else:
                    await run.sink(finished)

        if len(todo) == 1:  # the common case needs no task group
            await answer(todo[0])
        elif todo:  # a hook's error comes out as itself
            await run_concurrently([functools.partial(answer, i) for i in todo])
        state.messages.extend(
            {"role": "tool", "tool_call_id": call["id"], "content": results[str(i)]["content"]}
            for i, call in enumerate(calls)
        )
        state.pending = []
        state.results = {}
        return events

    async def call_tool(self, call: dict[str, Any], run: Run) -> dict[str, Any]:
        """The tool-call side effect: a wire tool call in, ``{content, is_error, duration}`` out.

        Never raises (but cancellation, and exceptions from hooks or ``approve``): unknown
        tools, bad arguments, failures, timeouts and denials become the reply's text. Usage the
        tool adds with ``ctx.add_usage`` is returned under ``"usage"`` (a `RunUsage` dict), not
        added to the run here, so the outcome is the call's whole effect on the run.
        """
        start = time.perf_counter()
        call_id, function = call["id"], call["function"]
        name, arguments = function["name"], function["arguments"]
        tool = self._tools.get(name)
        added: list[RunUsage] = []
        ctx = run.context(name, call_id, added.append)
        request = None
        if self._hooks or (tool is not None and tool.requires_approval):
            request = ToolCallRequest(call_id=call_id, name=name, arguments=arguments)
        if self._hooks and request is not None:
            for hook in self._hooks:
                await hook.before_tool(ctx, request)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("tool call %s %s(%s)", call_id, name, arguments)
        if tool is None:
            known = ", ".join(self._tools) or "none"
            result = ToolResult(
                content=f"error: there is no tool named {name!r} (available tools: {known})",
                is_error=True,
                error_type="UnknownTool",
            )
        elif (
            request is not None
            and tool.requires_approval
            and (why := await self._denial(run, ctx, request)) is not None
        ):
            result = ToolResult(
                content=f"error: {why}; it was not run", is_error=True, error_type="Denied"
            )
        elif run.interceptors:
            return await self._intercepted(call, run, ctx, tool, request, added, start)
        else:
            result = await tool.invoke(arguments, ctx, strict=name in self._strict)
        return await self._reply(call, ctx, request, result, added, start)

    async def _intercepted(
        self,
        call: dict[str, Any],
        run: Run,
        ctx: RunContext[Any],
        tool: Tool[..., Any],
        request: ToolCallRequest | None,
        added: list[RunUsage],
        start: float,
    ) -> dict[str, Any]:
        """Execute through the run's interceptors, which see the call's JSON outcome."""

        async def execute(call: dict[str, Any]) -> dict[str, Any]:
            begun = time.perf_counter()
            result = await tool.invoke(
                call["function"]["arguments"], ctx, strict=tool.name in self._strict
            )
            outcome = _outcome(result, added, time.perf_counter() - begun)
            added.clear()  # now in the outcome: an engine may replay the outcome alone
            return outcome

        outcome = await wrap(run.interceptors, "tool_call", ctx, execute)(call)
        result = ToolResult(
            content=outcome["content"],
            is_error=outcome["is_error"],
            error_type=(outcome.get("error_type") or "ToolError") if outcome["is_error"] else None,
        )
        usage = outcome.get("usage")
        if usage is not None:
            added.append(RunUsage(**usage))
        return await self._reply(call, ctx, request, result, added, start)

    async def _reply(
        self,
        call: dict[str, Any],
        ctx: RunContext[Any],
        request: ToolCallRequest | None,
        result: ToolResult,
        added: list[RunUsage],
        start: float,
    ) -> dict[str, Any]:
        """Log, run the after-tool hooks, and make the call's JSON outcome."""
        call_id, name = call["id"], call["function"]["name"]
        if result.error_type == "Denied":  # the user's decision, not a failure
            logger.info("tool call %s %s denied", call_id, name)
        elif result.is_error:  # a raised exception was logged by Tool.invoke, with its traceback
            logger.debug("tool call %s %s failed: %s", call_id, name, result.content[:200])
        if self._hooks and request is not None:
            for hook in self._hooks:
                await hook.after_tool(ctx, request, result)
        return _outcome(result, added, time.perf_counter() - start)

    async def _denial(self, run: Run, ctx: RunContext[Any], request: ToolCallRequest) -> str | None:
        """None when the call may run, else why not (for the model to read)."""
        asked = False  # did the decision reach the agent's own callback?

        async def ask(request: ToolCallRequest) -> bool:
            nonlocal asked
            asked = True
            return await self._approved(request)

        if run.interceptors:
            approved = bool(await wrap(run.interceptors, "approve", ctx, ask)(request))
        else:
            approved = await ask(request)
        if approved:
            return None
        if asked and self._approve is None:
            name = request.name
            return f"{name!r} needs the user's approval and no approve callback is configured"
        return f"the user denied this call to {request.name!r}"

    async def _approved(self, request: ToolCallRequest) -> bool:
        if self._approve is None:
            return False
        verdict = self._approve(request)  # a sync callback runs on the event loop
        if inspect.isawaitable(verdict):
            verdict = await verdict
        return bool(verdict)


def _outcome(result: ToolResult, added: list[RunUsage], duration: float) -> dict[str, Any]:
    outcome: dict[str, Any] = {
        "content": result.content,
        "is_error": result.is_error,
        "duration": duration,
    }
    if result.is_error and result.error_type:  # what failed, for tracing: "ValueError"...
        outcome["error_type"] = result.error_type
    if added:
        outcome["usage"] = sum(added, RunUsage()).to_dict()
    return outcome
