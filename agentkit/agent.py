"""Agent: the loop that asks the model, runs the tools it calls, and repeats until an answer.

`Agent.run` and `Agent.stream` share one loop (`Agent._iterate`, an async generator of events
that only builds events when streaming). Its only side effects are the model request
(`Agent._model_request`, or `Agent._model_stream` when streaming) and the tool call
(`Agent._call_tool`), whose inputs and outputs are JSON data, and every change of the run's state
goes through a `RunState`, so a checkpointed run can stop anywhere and resume.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import logging
import os
import types
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar, Generic, Literal, cast

import anyio
import anyio.lowlevel
from typing_extensions import TypeVar

from agentkit._output import OutputError, OutputSpec
from agentkit._tools_exec import Approve, Run, ToolExecutor
from agentkit.checkpoint import CheckpointStore, RunState
from agentkit.client import ChatClient
from agentkit.context import RunContext
from agentkit.errors import (
    AgentKitError,
    APIResponseError,
    InvalidRequestError,
    MaxStepsExceeded,
    OutputValidationError,
    ToolDefinitionError,
    UsageLimitExceeded,
)
from agentkit.events import (
    AgentEvent,
    AgentStream,
    EventSink,
    Hooks,
    ReasoningDelta,
    RunFinished,
    StepFinished,
    TextDelta,
)
from agentkit.interceptors import Interceptor, wrap
from agentkit.result import RunResult, RunUsage, UsageLimits
from agentkit.tools import Tool, check_unique
from agentkit.toolsets import Toolset, open_toolsets
from agentkit.types import ChatCompletion, MessageParam, ModelSettings, ToolChoice

__all__ = ["Agent"]

# Defaults to str, so `Agent("m")` is an `Agent[str]` without annotations.
OutputT = TypeVar("OutputT", default=str)

logger = logging.getLogger("agentkit")

_STORE_METHODS = ("claim", "release", "load", "save", "delete")  # the CheckpointStore protocol
_RELEASE_SECONDS = 10.0  # the most a run waits, once cancelled, for its store to release its id

Instructions = str | Callable[[RunContext[Any]], str | Awaitable[str]]


class Agent(Generic[OutputT]):
    """A model, its instructions and tools, run in a loop until the model gives an answer.

    Each step sends the conversation (with the tool definitions, settings and tool choice) to
    the model. If the answer calls tools, they all run concurrently, their results are added
    in call order, and the loop repeats; an answer without tool calls is the final answer.
    An agent holds configuration only, so one agent can serve many concurrent runs.

    Args:
        model: The model id sent with every request.
        instructions: The system message: a string, or a function of the `RunContext` (sync
            or async) evaluated at the start of each run.
        tools: Tools the model may call (names must be unique), and toolsets (`Toolset`:
            MCP servers...) whose tools are fetched when each run starts.
        client: The `ChatClient` to use; by default one is created from the environment
            (``AGENTKIT_BASE_URL`` ...) on first use.
        settings: Request parameters (temperature, max_tokens, reasoning_effort ...).
        tool_choice: ``"auto"``, ``"none"``, ``"required"`` or a named function. A forced
            choice (required or named) applies to the first request only, then ``"auto"``.
        max_steps: Most model requests a run makes without reaching a final answer.
        output_type: The type of the final answer: ``str`` (default), a pydantic model, a
            dataclass, a TypedDict, a list or a primitive. Non-str types are requested with
            a JSON schema ``response_format`` and validated.
        strict_tools: Send tool schemas in strict mode (tools that set ``strict`` keep theirs).
        max_concurrency: Most tool calls of one turn running at once.
        reasoning_history: When to send reasoning back in later requests, in the field the
            server used (``reasoning_content`` or ``reasoning``): never, on assistant turns
            that call tools (what DeepSeek thinking models require), or always. The run's
            messages keep it on every assistant turn either way.
        on_max_steps: ``"raise"`` `MaxStepsExceeded`, or ``"final_answer"``: make one more
            request with ``tool_choice="none"`` and return its answer.
        usage_limits: Request and token limits; reaching one raises `UsageLimitExceeded`.
        approve: Asked before each call of a tool with ``requires_approval``; returns (or
            awaits to) True to run it. Without it such calls are denied.
        hooks: `Hooks` called around every request and tool call.
        output_retries: How many times an answer that fails validation is sent back to the
            model with the error before `OutputValidationError` is raised.
        run_timeout: Seconds each run (each call of `run`, `run_sync` or `stream`; a resumed
            run starts afresh) may take, model requests, tool calls and hooks included. Past
            it, whatever is in flight is cancelled and `RunTimeoutError` is raised with the
            messages and usage so far. None (default): no bound.
        name: A name for logs, and the default name of `as_tool`.
        interceptors: `Interceptor`s around every run of this agent, its model requests, tool
            executions and approvals (tracing, durable execution...); they wrap those given to
            a single run.

    Raises:
        ToolDefinitionError: ``tools`` is not a list of tools and functions, two tools share
            a name, or a schema can't be made strict.
        InvalidRequestError: ``model`` is not a model id, or an option is out of range.
    """

    default_interceptors: ClassVar[tuple[Interceptor, ...]] = ()
    """Interceptors around every run of every agent, outside each agent's own. Set by
    integrations that apply process-wide, e.g. ``agentkit.otel.instrument()``; with
    ``AGENTKIT_OTEL=1`` in the environment, making an agent turns that on (once)."""

    def __init__(
        self,
        model: str,
        *,
        instructions: Instructions | None = None,
        tools: Sequence[Tool[..., Any] | Toolset] = (),
        client: ChatClient | None = None,
        settings: ModelSettings | None = None,
        tool_choice: ToolChoice | None = None,
        max_steps: int = 10,
        output_type: type[OutputT] = str,  # type: ignore[assignment]
        strict_tools: bool = False,
        max_concurrency: int = 16,
        reasoning_history: Literal["never", "tool_calls", "always"] = "never",
        on_max_steps: Literal["raise", "final_answer"] = "raise",
        usage_limits: UsageLimits | None = None,
        approve: Approve | None = None,
        hooks: Sequence[Hooks] = (),
        output_retries: int = 2,
        run_timeout: float | None = None,
        name: str | None = None,
        interceptors: Sequence[Interceptor] = (),
    ) -> None:
        if not isinstance(model, str) or not model.strip():
            raise InvalidRequestError(
                f"model must be a model id such as 'gpt-5.4-mini', got {model!r}"
            )
        if isinstance(tools, str | Tool) or callable(tools):
            raise ToolDefinitionError(f"tools must be a list, e.g. tools=[{_name_of(tools)}]")
        tools = list(tools)  # a generator is read once, here
        for item in tools:
            if not isinstance(item, Tool | Toolset) and not callable(item):
                raise ToolDefinitionError(
                    f"tools holds {item!r}, which is not a function, a Tool or a Toolset: "
                    "pass the function itself (tools=[search]), not its name"
                )
        if max_steps < 1 or max_concurrency < 1 or output_retries < 0:
            raise InvalidRequestError(
                "max_steps and max_concurrency must be >= 1 and output_retries >= 0"
            )
        if run_timeout is not None and not run_timeout > 0:  # NaN too
            raise InvalidRequestError(
                f"run_timeout must be a number of seconds > 0 (or None), got {run_timeout!r}"
            )
        self.model = model
        """The model id."""
        self.name = name
        """The agent's name, if given."""
        self.instructions = instructions
        """The system message, or the function producing it."""
        self.max_steps = max_steps
        """Most model requests without a final answer."""
        self.output_type = output_type
        """The type of the final answer."""
        self.usage_limits = usage_limits
        """Request and token limits of each run."""
        self.run_timeout = run_timeout
        """Seconds each run may take, or None."""
        self._client = client
        self._toolsets = [t for t in tools if isinstance(t, Toolset)]
        self._tools = check_unique(t for t in tools if not isinstance(t, Toolset))
        self._strict_tools = strict_tools
        # Built once: the hot path reuses these objects on every request.
        strict = frozenset(
            name
            for name, t in self._tools.items()
            if (t.strict if t.strict is not None else strict_tools)
        )
        self._tool_defs = [t.definition(name in strict) for name, t in self._tools.items()] or None
        self._output = OutputSpec.for_type(output_type)
        self._output_name = getattr(output_type, "__name__", repr(output_type))
        self._base: dict[str, Any] = {"model": model, **(settings or {})}
        if self._tool_defs is not None:
            self._base["tools"] = self._tool_defs
        if self._output.response_format is not None:
            self._base["response_format"] = self._output.response_format
        self._tool_choice = tool_choice
        self._forced = tool_choice == "required" or isinstance(tool_choice, dict)
        self._reasoning = reasoning_history
        self._on_max_steps = on_max_steps
        self._hooks = tuple(hooks)
        self._executor = ToolExecutor(
            self._tools, self._hooks, approve, max_concurrency, strict=strict
        )
        self._output_retries = output_retries
        self._interceptors = tuple(interceptors)
        # A subclass that overrides a side effect (to record or replay it) gets the JSON seam;
        # otherwise the client's completion is used as it is, not dumped and validated again.
        self._typed_request = type(self)._model_request is Agent._model_request
        self._typed_stream = type(self)._model_stream is Agent._model_stream
        if os.environ.get("AGENTKIT_OTEL", "").strip().lower() in ("1", "true"):
            # Tracing asked for by the environment: the only way the core loads an integration.
            from agentkit.otel import instrument_from_env

            instrument_from_env()

    def __repr__(self) -> str:
        return f"Agent(model={self.model!r}, tools={list(self._tools)!r})"

    @property
    def tools(self) -> Mapping[str, Tool[..., Any]]:
        """The agent's tools by name (read-only: an agent's tools are fixed at construction)."""
        return types.MappingProxyType(self._tools)

    @property
    def client(self) -> ChatClient:
        """The client requests go through (created from the environment on first use).

        One client serves every run, from any event loop and thread: a `ChatClient` that
        makes its own connection pool keeps one per event loop.
        """
        if self._client is None:
            self._client = ChatClient()
        return self._client

    # --- the public doors -------------------------------------------------------------------

    async def run(
        self,
        input: str | Sequence[MessageParam] | None = None,
        *,
        history: Sequence[MessageParam] | None = None,
        deps: Any = None,
        checkpoint: CheckpointStore | None = None,
        run_id: str | None = None,
        interceptors: Sequence[Interceptor] = (),
    ) -> RunResult[OutputT]:
        """Run the agent to its final answer.

        Args:
            input: The user's message (a string), or messages to add, or None to continue
                ``history`` as it is.
            history: Earlier messages (e.g. a previous result's ``messages``). If it starts
                with a system message, the agent's instructions replace it.
            deps: Anything tools and instructions need, given to them as ``ctx.deps``.
            checkpoint: Save the run's state at its start and after every model request and
                tool call; if a state is saved under ``run_id``, resume it (``input`` and
                ``history`` are then ignored). The run claims ``run_id`` in the store while it
                runs, and the state is deleted when it succeeds.
            run_id: The run's id (``RunResult.run_id``, ``RunContext.run_id``) and checkpoint
                key; a fresh one is made when ``checkpoint`` is given without it (it is on the
                result, and on the error if the run fails).
            interceptors: `Interceptor`s for this run alone, inside the agent's own.

        Returns:
            The typed output, the conversation and the usage.

        Raises:
            MaxStepsExceeded: No final answer within ``max_steps`` requests.
            UsageLimitExceeded: A usage limit was reached.
            OutputValidationError: The answer never matched ``output_type``.
            RunTimeoutError: The agent's ``run_timeout`` passed first.
            RunClaimedError: Another run holds ``run_id`` in ``checkpoint``.
            APIError: The server failed for good (after retries); ``.messages`` holds the run.
        """
        result = None
        start = self._running(input, history, deps, checkpoint, run_id, interceptors, emit=False)
        async with start as run:
            async for event in self._iterate(run):  # without emit, RunFinished is the only one
                result = cast(RunFinished, event).result
        return cast(RunResult[OutputT], result)

    def run_sync(
        self,
        input: str | Sequence[MessageParam] | None = None,
        *,
        history: Sequence[MessageParam] | None = None,
        deps: Any = None,
        checkpoint: CheckpointStore | None = None,
        run_id: str | None = None,
        interceptors: Sequence[Interceptor] = (),
    ) -> RunResult[OutputT]:
        """`run` from synchronous code, on a new event loop; same arguments.

        Returns:
            The result of the run.

        Raises:
            RuntimeError: Called from inside a running event loop (``await agent.run()``
                there instead).
        """
        try:
            anyio.lowlevel.current_token()
        except anyio.NoEventLoopError:
            pass
        else:
            raise RuntimeError(
                "Agent.run_sync() cannot run inside an event loop; use `await agent.run(...)`"
            )
        call = functools.partial(
            self.run,
            input,
            history=history,
            deps=deps,
            checkpoint=checkpoint,
            run_id=run_id,
            interceptors=interceptors,
        )
        return anyio.run(call)

    def stream(
        self,
        input: str | Sequence[MessageParam] | None = None,
        *,
        history: Sequence[MessageParam] | None = None,
        deps: Any = None,
        checkpoint: CheckpointStore | None = None,
        run_id: str | None = None,
        interceptors: Sequence[Interceptor] = (),
    ) -> AgentStream:
        """Run the agent, yielding events as they happen; the last is `RunFinished`.

        Same arguments and errors as `run`; nothing is sent until you read the stream (and
        ``run_timeout`` counts from then, your own code's time between events included). Text
        and reasoning arrive as deltas, and each tool call as `ToolCallStarted` before it runs
        and `ToolCallFinished` with its reply. Read it inside ``async with agent.stream(...) as
        events:`` to get each `ToolCallFinished` the moment its call ends (leaving the block
        stops the run), or iterate it directly (see `AgentStream` for the difference).

        Returns:
            An `AgentStream` of `TextDelta`, `ReasoningDelta`, `StepFinished`,
            `ToolCallStarted` and `ToolCallFinished` events, then `RunFinished` with the same
            result `run` returns.
        """

        async def events(sink: EventSink | None) -> AsyncGenerator[AgentEvent, None]:
            start = self._running(input, history, deps, checkpoint, run_id, interceptors, emit=True)
            async with start as run:
                run.sink = sink
                # Close the loop's generator with this one, even when the reader stops early.
                async with contextlib.aclosing(self._iterate(run)) as loop:
                    async for event in loop:
                        yield event

        return AgentStream(events)

    def as_tool(self, name: str, description: str) -> Tool[..., Any]:
        """This agent as a tool another agent can call with a plain-text ``input``.

        The sub-agent runs with the caller's ``deps``, and its usage is added to the caller's.

        Args:
            name: The tool's name.
            description: What the tool does, for the calling model.

        Returns:
            A tool whose only parameter is ``input: str``.
        """
        agent = self

        async def run_agent(ctx: RunContext[Any], input: str) -> Any:
            """Hand a task to the agent.

            Args:
                ctx: The caller's run context; its deps are passed on.
                input: The task or question, with everything the agent needs to know.
            """
            try:
                result = await agent.run(input, deps=ctx.deps)
            except AgentKitError as exc:  # the requests it made before failing are billed too
                if isinstance(exc.usage, RunUsage):
                    ctx.add_usage(exc.usage)
                raise
            ctx.add_usage(result.usage)
            return result.output

        return Tool.from_function(run_agent, name=name, description=description)

    # --- the loop ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _running(
        self,
        input: str | Sequence[MessageParam] | None,
        history: Sequence[MessageParam] | None,
        deps: Any,
        store: CheckpointStore | None,
        run_id: str | None,
        interceptors: Sequence[Interceptor],
        *,
        emit: bool,
    ) -> AsyncIterator[Run]:
        """One run, from its start to its end: the deadline, and the claim on ``run_id``.

        A checkpointed run claims its id in the store first (so two resumes of one run can't
        both run its pending tools), and releases it however the run ends. An error that
        stops it carries ``run_id`` (a note, on an exception that is not agentkit's), which is
        also logged, so a generated id is never lost with the state it keys.
        """
        if store is not None:
            missing = [m for m in _STORE_METHODS if not callable(getattr(store, m, None))]
            if missing:
                raise InvalidRequestError(
                    f"checkpoint store {type(store).__name__} lacks {', '.join(missing)}: a "
                    "CheckpointStore has async claim, release, load, save and delete methods "
                    "(see docs/agents.md, Durable runs)"
                )
            run_id = run_id or uuid.uuid4().hex
        timeout = self.run_timeout
        run = Run(
            RunState(messages=[]),
            deps,
            emit,
            store,
            run_id,
            agent=self,
            # process-wide ones (agentkit.otel.instrument) outermost, then the agent's, the run's
            interceptors=type(self).default_interceptors + self._interceptors + tuple(interceptors),
            timeout=timeout,
            deadline=None if timeout is None else anyio.current_time() + timeout,
        )
        if store is None or run_id is None:
            await self._begin(run, input, history)
            yield run
            return
        with anyio.CancelScope(shield=True):  # cancelled half-way, we couldn't tell if we hold it
            await store.claim(run_id)
        try:
            await self._begin(run, input, history)
            try:
                yield run
            except Exception as exc:
                _stopped(exc, run_id)
                raise
            except BaseException:  # cancelled, or the reader of a stream left early
                logger.info("run %s stopped; resume it with run_id=%r", run_id, run_id)
                raise
        finally:
            # Shielded: a cancelled run must still let go of its id, but never hang on it.
            with anyio.move_on_after(_RELEASE_SECONDS, shield=True):
                await store.release(run_id)

    async def _begin(
        self,
        run: Run,
        input: str | Sequence[MessageParam] | None,
        history: Sequence[MessageParam] | None,
    ) -> None:
        """Load a checkpointed run's saved state, or start a new one; within the deadline."""
        try:
            with run.bounded():
                saved = None
                if run.store is not None and run.run_id is not None:
                    saved = await run.store.load(run.run_id)
                if saved is None:
                    await self._start(run, input, history)
                else:
                    logger.info("resuming run %s at step %d", run.run_id, saved.steps)
                    run.state = saved
        except AgentKitError as exc:  # a timeout, say: handed the run so far, like any other
            _fill(exc, run.state)
            raise

    async def _start(
        self,
        run: Run,
        input: str | Sequence[MessageParam] | None,
        history: Sequence[MessageParam] | None,
    ) -> None:
        """Fill a new run's messages (history, instructions, input); checkpointed at once."""
        messages = run.state.messages
        messages.extend(cast(Sequence[dict[str, Any]], history or ()))
        if self.instructions is not None:
            text = self.instructions
            if not isinstance(text, str):
                made = text(run.context())
                text = await made if inspect.isawaitable(made) else made
            system = {"role": "system", "content": text}
            if messages and messages[0].get("role") in ("system", "developer"):
                messages[0] = system
            else:
                messages.insert(0, system)
        run.state.new_start = len(messages)
        if isinstance(input, str):
            messages.append({"role": "user", "content": input})
        elif input is not None:
            messages.extend(cast(Sequence[dict[str, Any]], input))
        if run.store is not None:
            # Saved before the first request, so a run that fails at once can still be resumed
            # by its id (with the input it was given) instead of leaving nothing behind.
            logger.info("run %s started", run.run_id)
            await run.save()

    def _iterate(self, run: Run) -> AsyncGenerator[AgentEvent, None]:
        """The loop: yields events when ``run.emit``, and always `RunFinished` last."""
        # Without interceptors, the steps themselves: no generator passing each event on.
        return self._in_run_scopes(run) if run.interceptors else self._steps(run)

    async def _in_run_scopes(self, run: Run) -> AsyncGenerator[AgentEvent, None]:
        """The steps inside the interceptors' run scopes."""
        async with contextlib.AsyncExitStack() as scopes:
            for interceptor in run.interceptors:
                await scopes.enter_async_context(interceptor.run(self, run.context()))
            async with contextlib.aclosing(self._steps(run)) as steps:
                async for event in steps:
                    yield event

    async def _steps(self, run: Run) -> AsyncGenerator[AgentEvent, None]:
        """The steps of the loop (`_iterate` without the interceptors' run scopes)."""
        state = run.state
        base, stack = self._base, None
        try:
            if self._toolsets:  # per-run tools; the plain path keeps the prebuilt request
                stack = contextlib.AsyncExitStack()
                base = await self._open_toolsets(run, stack)
            while True:
                if state.pending:
                    if run.emit:
                        for started in self._executor.started(run):
                            yield started
                    with run.bounded():
                        events = await self._executor.run_tool_calls(run, self._call_tool)
                    for event in events:
                        yield event
                elif state.steps and state.messages[-1].get("role") == "assistant":
                    result = self._final(run)
                    if result is not None:
                        if run.store is not None and run.run_id is not None:
                            await run.store.delete(run.run_id)
                        logger.info(
                            "run finished: %d steps, %d tokens",
                            state.steps,
                            state.usage.total_tokens,
                        )
                        yield RunFinished(result=result)
                        return
                final = state.steps >= self.max_steps
                if final and (self._on_max_steps == "raise" or state.final_request):
                    raise MaxStepsExceeded(
                        self.max_steps, messages=state.messages, usage=state.usage
                    )
                if self.usage_limits is not None:
                    hit = self.usage_limits.exceeded(state.usage)
                    if hit is not None:
                        raise UsageLimitExceeded(
                            hit[1], limit=hit[0], messages=state.messages, usage=state.usage
                        )
                params = {**base, "messages": self._request_messages(state.messages)}
                if final:
                    state.final_request = True
                    if "tools" in base:
                        params["tool_choice"] = "none"
                elif self._tool_choice is not None:
                    forced = self._forced and state.steps > 0
                    params["tool_choice"] = "auto" if forced else self._tool_choice
                if self._hooks:
                    # Hooks may edit what is sent, never the run's record or the agent's tools.
                    params = copy.deepcopy(params)
                    ctx = run.context()
                    with run.bounded():
                        for hook in self._hooks:
                            await hook.before_request(ctx, params)
                if logger.isEnabledFor(logging.DEBUG):
                    logger.debug("request %d: %d messages", state.steps + 1, len(state.messages))
                if run.interceptors:
                    deltas: list[AgentEvent] = []
                    request = wrap(
                        run.interceptors,
                        "model_request",
                        run.context(),
                        functools.partial(self._streamed, run, deltas)
                        if run.emit
                        else self._model_request,
                    )
                    with run.bounded():
                        answer = await request(params)
                    completion = ChatCompletion.model_validate(answer)
                    for delta in deltas:
                        yield delta
                elif run.emit:
                    got: ChatCompletion | dict[str, Any] | None = None
                    items = (
                        self._stream_completion(params)
                        if self._typed_stream
                        else self._model_stream(params)
                    )
                    async with contextlib.aclosing(items):
                        while True:
                            with run.bounded():  # each wait for an item, not the reader's time
                                item = await anext(items, None)
                            if item is None:
                                break
                            if isinstance(item, dict | ChatCompletion):
                                got = item
                            else:
                                yield item
                    if got is None:
                        raise APIResponseError("the streamed request ended without a completion")
                    completion = (
                        got
                        if isinstance(got, ChatCompletion)
                        else ChatCompletion.model_validate(got)
                    )
                elif self._typed_request:
                    with run.bounded():
                        completion = await self.client.complete(**params)
                else:
                    with run.bounded():
                        data = await self._model_request(params)
                    completion = ChatCompletion.model_validate(data)
                step_usage = self._record(run, completion)
                await run.save()  # not bounded: what was received is kept, whatever the time
                if self._hooks:
                    ctx = run.context()
                    with run.bounded():
                        for hook in self._hooks:
                            await hook.after_request(ctx, completion)
                if run.emit:
                    message = completion.choices[0].message
                    yield StepFinished(step=state.steps, usage=step_usage, message=message)
        except AgentKitError as exc:
            _fill(exc, state)
            raise
        finally:
            if stack is not None:
                await stack.aclose()

    async def _open_toolsets(self, run: Run, stack: contextlib.AsyncExitStack) -> dict[str, Any]:
        """Open the toolsets for ``run``; returns its request base, with every tool in it."""
        tools = await open_toolsets(stack, self._toolsets, self._tools)
        strict = frozenset(
            name
            for name, t in tools.items()
            if (t.strict if t.strict is not None else self._strict_tools)
        )
        run.executor = self._executor.with_tools(tools, strict)
        defs = [t.definition(name in strict) for name, t in tools.items()]
        base = {key: value for key, value in self._base.items() if key != "tools"}
        if defs:
            base["tools"] = defs
        return base

    # --- the side effects: JSON in, JSON out (what a durable execution engine wraps) ---------

    async def _model_request(self, params: dict[str, Any]) -> dict[str, Any]:
        """The model request of `run`: `ChatClient.complete` keywords in, the completion out.

        Args:
            params: ``model``, ``messages``, ``tools``, settings... (JSON data).

        Returns:
            The completion as JSON data (``ChatCompletion.model_validate`` reads it back).
        """
        completion = await self.client.complete(**params)
        return completion.model_dump(exclude_unset=True)

    async def _model_stream(
        self, params: dict[str, Any]
    ) -> AsyncGenerator[ReasoningDelta | TextDelta | dict[str, Any], None]:
        """The model request of `stream`: the deltas as they arrive, then the completion.

        Args:
            params: As for `_model_request`.

        Yields:
            `ReasoningDelta` and `TextDelta` events, then last the completion as JSON data,
            the same that `_model_request` returns for the same answer.
        """
        async with contextlib.aclosing(self._stream_completion(params)) as items:
            async for item in items:
                yield (
                    item
                    if not isinstance(item, ChatCompletion)
                    else item.model_dump(exclude_unset=True)
                )

    async def _stream_completion(
        self, params: dict[str, Any]
    ) -> AsyncGenerator[ReasoningDelta | TextDelta | ChatCompletion, None]:
        """`_model_stream` with the completion as the client assembled it (not JSON data)."""
        async with self.client.stream(**params) as chunks:
            async for reasoning, text in chunks.text_deltas():  # reasoning_content or reasoning
                if reasoning:
                    yield ReasoningDelta(text=reasoning)
                if text:
                    yield TextDelta(text=text)
            completion = await chunks.get_final_completion()
        yield completion

    async def _streamed(
        self, run: Run, deltas: list[AgentEvent], params: dict[str, Any]
    ) -> dict[str, Any]:
        """`_model_stream` as a JSON-in/JSON-out call, for interceptors to wrap.

        Deltas go to the live reader when there is one, else into ``deltas`` for the loop to
        yield once the request is over (an async generator can't yield from inside an await).
        """
        deltas.clear()  # an interceptor that calls again starts the answer over
        data: dict[str, Any] | None = None
        async with contextlib.aclosing(self._model_stream(params)) as items:
            async for item in items:
                if isinstance(item, dict):
                    data = item
                elif run.sink is not None:
                    await run.sink(item)
                else:
                    deltas.append(item)
        if data is None:
            raise APIResponseError("the streamed request ended without a completion")
        return data

    async def _call_tool(self, call: dict[str, Any], run: Run) -> dict[str, Any]:
        """One tool call: the wire tool call in, its outcome out (see `ToolExecutor.call_tool`).

        Args:
            call: ``{"id", "type", "function": {"name", "arguments"}}`` (JSON data).
            run: The in-process side of the run (deps, usage): context, not input.

        Returns:
            ``{"content", "is_error", "duration"}``, plus ``"usage"`` (a `RunUsage` dict) when
            the tool added usage (e.g. a sub-agent's) with ``ctx.add_usage``.
        """
        return await (run.executor or self._executor).call_tool(call, run)

    def _request_messages(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The messages to send: reasoning only where ``reasoning_history`` wants it.

        The run keeps it on every assistant message, in the field the server sent it in
        (``reasoning_content`` or ``reasoning``), so it goes back the way that server reads
        it; this shallow pass copies only the assistant messages whose reasoning the policy
        leaves out.
        """
        if self._reasoning == "always":
            return messages
        on_calls = self._reasoning == "tool_calls"
        return [
            _without_reasoning(m)
            if ("reasoning_content" in m or "reasoning" in m)
            and m.get("role") == "assistant"
            and not (on_calls and m.get("tool_calls"))
            else m
            for m in messages
        ]

    def _record(self, run: Run, completion: ChatCompletion) -> RunUsage:
        """Add a completion to the state; returns the request's usage."""
        state = run.state
        if not completion.choices:
            raise APIResponseError("the completion has no choices")
        usage = RunUsage.from_usage(completion.usage)
        state.usage = state.usage + usage
        state.steps += 1
        message = completion.choices[0].message
        param = message.to_param(reasoning=True)  # the record is complete; sending is per policy
        state.messages.append(cast(dict[str, Any], param))
        state.reasoning = message.reasoning_text
        if message.tool_calls:
            if state.final_request:
                # Answer the calls it made anyway, so the messages stay a valid history (an
                # assistant tool call without its reply is rejected when sent back).
                state.messages.extend(
                    {
                        "role": "tool",
                        "tool_call_id": call["id"],
                        "content": f"not run: the run reached max_steps={self.max_steps}",
                    }
                    for call in cast(list[dict[str, Any]], param["tool_calls"])
                )
                raise MaxStepsExceeded(self.max_steps, messages=state.messages, usage=state.usage)
            state.pending = cast(list[dict[str, Any]], param["tool_calls"])
            state.results = {}
        return usage

    def _final(self, run: Run) -> RunResult[OutputT] | None:
        """Validate the last answer; None when it was sent back to the model to correct."""
        state = run.state
        content = state.messages[-1].get("content")
        try:
            output = self._output.validate(content if isinstance(content, str) else None)
        except OutputError as exc:
            error = exc.message
            if state.final_request or state.output_retries >= self._output_retries:
                raise OutputValidationError(
                    f"the answer does not match {self._output_name}: {error}",
                    errors=error,
                    messages=state.messages,
                    usage=state.usage,
                ) from exc
            state.output_retries += 1
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug("answer rejected (retry %d): %s", state.output_retries, error)
            state.messages.append({"role": "user", "content": error})
            return None
        messages = list(state.messages)
        return RunResult(
            output=output,
            messages=messages,
            new_messages=messages[state.new_start :],
            usage=state.usage,
            steps=state.steps,
            reasoning=state.reasoning,
            run_id=run.run_id,
        )


def _fill(exc: AgentKitError, state: RunState) -> None:
    """Hand the run so far to an error that stops it (unless it carries its own)."""
    if not exc.messages:
        exc.messages = _answered(state)
    if exc.usage is None:
        exc.usage = state.usage


def _answered(state: RunState) -> list[dict[str, Any]]:
    """The run's messages, each pending tool call answered: a history a server accepts.

    A run stopped mid-turn (its timeout, say) has an assistant message whose calls are not all
    answered, and a server rejects such a history. The calls that finished get their reply; the
    others say they were stopped. The state itself is left as it is, so a checkpointed run
    still resumes those calls.
    """
    messages = list(state.messages)
    for i, call in enumerate(state.pending):
        done = state.results.get(str(i))
        messages.append(
            {
                "role": "tool",
                "tool_call_id": call["id"],
                "content": done["content"]
                if done is not None
                else "error: the run stopped before this call finished",
            }
        )
    return messages


def _stopped(exc: Exception, run_id: str) -> None:
    """Put a failed checkpointed run's id on its error, and in the log: its state is kept."""
    if isinstance(exc, AgentKitError):
        if exc.run_id is None:
            exc.run_id = run_id
    else:  # not ours to add attributes to: a note shows in its traceback
        exc.add_note(f"agentkit: the checkpointed run {run_id!r} stopped here; its state is kept")
    logger.warning(
        "run %s failed (%s: %s); its state is kept: resume it with run_id=%r",
        run_id,
        type(exc).__name__,
        exc,
        run_id,
    )


_REASONING_FIELDS = frozenset({"reasoning_content", "reasoning"})


def _without_reasoning(message: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in message.items() if key not in _REASONING_FIELDS}


def _name_of(tools: object) -> str:
    """How ``tools=[...]`` would spell the one tool passed bare, for the error message."""
    if isinstance(tools, Tool):
        return tools.name
    return str(getattr(tools, "__name__", "search"))
