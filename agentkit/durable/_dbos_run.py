"""The interceptor that makes one agent run a DBOS workflow: its requests and tool calls steps.

DBOS numbers the operations of a workflow in the order they start, and replays a recovered
workflow by matching those numbers, so every operation must start in the same order on every
execution. The model request is sequential, but a turn's tool calls run concurrently, and when
each reaches its step depends on scheduling. So at its first tool call, a turn reserves one
step ID per call, in call order (`DBOS.reserve_step`), and each call runs its step at its own
reserved ID whenever it gets there. Approval waits (``DBOS.recv``) cannot be reserved: they
take their IDs one call after another, in call order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import anyio
from dbos import DBOS, StepReservation

from agentkit.events import StepFinished, ToolCallFinished, ToolCallRequest, ToolCallStarted
from agentkit.interceptors import ApproveCall, Interceptor, ModelCall, ToolCall
from agentkit.result import RunUsage
from agentkit.types import ChatCompletion

if TYPE_CHECKING:
    from agentkit.agent import Agent
    from agentkit.context import RunContext

__all__ = ["EVENTS_KEY", "ApprovalRequested", "Names", "StepsInterceptor", "approval_topic"]

logger = logging.getLogger("agentkit")

EVENTS_KEY = "agentkit.events"
"""The DBOS stream a run publishes its events to."""


def approval_topic(call_id: str) -> str:
    """The DBOS message topic that carries the decision on one tool call."""
    return f"agentkit.approval:{call_id}"


@dataclass(frozen=True, kw_only=True)
class ApprovalRequested:
    """A durable run is waiting for a decision on a tool call (send it with `DBOSRun.approve`)."""

    call_id: str
    """The call's ``id``: pass it to `DBOSRun.approve`."""
    name: str
    """The tool's name."""
    arguments: str
    """The JSON arguments, as the model wrote them."""


@dataclass(frozen=True)
class Names:
    """The stable DBOS names of one durable agent's workflow and steps."""

    agent: str

    @property
    def workflow(self) -> str:
        return f"agentkit.{self.agent}"

    @property
    def model_step(self) -> str:
        return f"agentkit.{self.agent}.model_request"

    def tool_step(self, tool: str) -> str:
        return f"agentkit.{self.agent}.tool.{tool}"


class _Turn:
    """The step IDs reserved for one assistant turn's tool calls, and its approval order."""

    def __init__(self, calls: list[dict[str, Any]], needs_approval: Callable[[str], bool]) -> None:
        self.calls = calls
        self.steps: list[StepReservation] = [DBOS.reserve_step() for _ in calls]
        waiting = [i for i, call in enumerate(calls) if needs_approval(call["function"]["name"])]
        # Approval i may take its recv ID once the approval before it has taken its own.
        self.after = dict(zip(waiting[1:], waiting, strict=False))
        self.entered = {i: anyio.Event() for i in waiting}
        self.asked: set[int] = set()

    def index_of(self, call: dict[str, Any]) -> int:
        # By identity: the executor hands each call the turn's own dict.
        return next(i for i, candidate in enumerate(self.calls) if candidate is call)

    def approval_index(self, request: ToolCallRequest) -> int:
        # Call ids may repeat within a turn (some servers send "" for every call): the first
        # call with this id that has not asked yet, in call order.
        i = next(
            i
            for i in self.entered
            if i not in self.asked and self.calls[i]["id"] == request.call_id
        )
        self.asked.add(i)
        return i


class StepsInterceptor(Interceptor):
    """Runs one agent run's model requests and tool calls as DBOS steps (one per run)."""

    def __init__(
        self,
        agent: Agent[Any],
        names: Names,
        *,
        approval_timeout: float,
        events: bool,
    ) -> None:
        self._agent = agent
        self._names = names
        self._approval_timeout = approval_timeout
        self._events = events
        self._turn: _Turn | None = None
        self._turn_step = -1

    async def model_request(
        self, ctx: RunContext[Any], params: dict[str, Any], call_next: ModelCall
    ) -> dict[str, Any]:
        async def request() -> dict[str, Any]:
            return await call_next(params)

        completion = await DBOS.run_step_async({"name": self._names.model_step}, request)
        if self._events:
            # Written by the workflow, after the step: recorded, so published exactly once.
            parsed = ChatCompletion.model_validate(completion)
            for choice in parsed.choices[:1]:  # none: the loop raises APIResponseError next
                event = StepFinished(
                    step=ctx.step + 1,
                    usage=RunUsage.from_usage(parsed.usage),
                    message=choice.message,
                )
                await DBOS.write_stream_async(EVENTS_KEY, event)
        return completion

    def _turn_of(self, ctx: RunContext[Any]) -> _Turn:
        # The first tool call of a turn reserves the whole turn's step IDs, in call order.
        if self._turn is None or self._turn_step != ctx.step:
            calls = ctx.messages[-1]["tool_calls"]
            self._turn = _Turn(calls, self._needs_approval)
            self._turn_step = ctx.step
        return self._turn

    def _needs_approval(self, name: str) -> bool:
        tool = self._agent.tools.get(name)
        return tool is not None and tool.requires_approval

    async def approve(
        self, ctx: RunContext[Any], request: ToolCallRequest, call_next: ApproveCall
    ) -> bool:
        turn = self._turn_of(ctx)
        i = turn.approval_index(request)
        before = turn.after.get(i)
        if before is not None:
            await turn.entered[before].wait()
        if self._events:
            event = ApprovalRequested(
                call_id=request.call_id, name=request.name, arguments=request.arguments
            )
            await DBOS.write_stream_async(EVENTS_KEY, event)
        # recv takes its step IDs the moment it starts, before its first suspension, so
        # the next approval may go once this one is awaited.
        decision = DBOS.recv_async(approval_topic(request.call_id), self._approval_timeout)
        turn.entered[i].set()
        verdict = await decision
        if verdict is None:
            logger.info(
                "tool call %s %s: no decision within %.0f s, denied",
                request.call_id,
                request.name,
                self._approval_timeout,
            )
            return False
        return verdict is True  # only an explicit True runs the call (not "no", not 1)

    async def tool_call(
        self, ctx: RunContext[Any], call: dict[str, Any], call_next: ToolCall
    ) -> dict[str, Any]:
        turn = self._turn_of(ctx)
        step = turn.steps[turn.index_of(call)]
        function = call["function"]

        async def execute() -> dict[str, Any]:
            if self._events:  # inside the step: published again if the step runs again
                started = ToolCallStarted(
                    call_id=call["id"], name=function["name"], arguments=function["arguments"]
                )
                await DBOS.write_stream_async(EVENTS_KEY, started)
            outcome = await call_next(call)
            if self._events:
                finished = ToolCallFinished(
                    call_id=call["id"],
                    name=function["name"],
                    content=outcome["content"],
                    is_error=outcome["is_error"],
                    duration=outcome["duration"],
                )
                await DBOS.write_stream_async(EVENTS_KEY, finished)
            return outcome

        return await step.run_async({"name": self._names.tool_step(function["name"])}, execute)
