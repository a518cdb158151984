"""The workflow side of a durable Temporal run: the agent's own loop, its steps as activities.

`WorkflowRun` is an `Interceptor` the workflow gives to ``Agent.run``: each model request and each
tool execution becomes an activity (recorded by Temporal, so a replay returns the recorded
output instead of running it again), and approval becomes a durable wait for a signal. The rest
of the loop runs in the workflow as it runs in a plain run; it is deterministic given those
outputs. This module is passed through the workflow sandbox (it holds the agents a worker
registered), so it imports nothing that is not safe to share between workflows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

from agentkit.context import RunContext
from agentkit.errors import AgentKitError
from agentkit.events import ToolCallRequest
from agentkit.interceptors import ApproveCall, Interceptor, ModelCall, ToolCall
from agentkit.result import RunUsage

if TYPE_CHECKING:
    from agentkit.durable.temporal import TemporalAgent

__all__ = ["WORKFLOW_NAME", "WorkflowRun", "register"]

WORKFLOW_NAME = "agentkit.AgentRun"
"""The workflow type every durable agent run has (the agent's name is in its input)."""

_AGENTS: dict[str, TemporalAgent[Any]] = {}


def register(durable: TemporalAgent[Any]) -> None:
    """Make ``durable`` known to the workflows of this process, under its name.

    Raises:
        ValueError: Another agent is registered under the same name.
    """
    known = _AGENTS.setdefault(durable.name, durable)
    if known is not durable:
        raise ValueError(
            f"two durable agents are named {durable.name!r}; activity and run names derive from "
            "it, so give each TemporalAgent its own name"
        )


class WorkflowRun(Interceptor):
    """One durable run inside its workflow: the activities, the approvals and the status."""

    def __init__(self) -> None:
        self.state = "running"
        self.steps = 0
        self.usage = RunUsage()
        self.waiting: dict[str, ToolCallRequest] = {}
        self._waiters: dict[str, int] = {}  # calls of one turn may share an id (some servers)
        self._decisions: dict[str, bool] = {}
        self._durable: TemporalAgent[Any] | None = None
        self._deps: Any = None

    async def execute(self, request: dict[str, Any]) -> dict[str, Any]:
        """Run the agent named in ``request`` to its result (as JSON data).

        Raises:
            ApplicationError: The run failed (non-retryable, so the workflow fails with it);
                its details hold the messages and usage of the run so far.
        """
        name = request["agent"]
        durable = _AGENTS.get(name)
        if durable is None:
            raise ApplicationError(
                f"this worker has no durable agent named {name!r}; build the worker with "
                "agentkit.durable.temporal.worker(client, [your TemporalAgent, ...], ...)",
                type="UnknownAgent",
            )
        self._durable, self._deps = durable, request.get("deps")
        try:
            result = await durable.agent.run(
                request.get("input"),
                history=request.get("history"),
                deps=durable.load_deps(self._deps),
                run_id=workflow.info().workflow_id,
                interceptors=[self],
            )
        except AgentKitError as exc:
            self.state = "failed"
            usage = exc.usage.to_dict() if isinstance(exc.usage, RunUsage) else None
            raise ApplicationError(
                f"{type(exc).__name__}: {exc}",
                {"messages": exc.messages, "usage": usage},
                type=type(exc).__name__,
                non_retryable=True,
            ) from exc
        self.state = "finished"
        self.steps, self.usage = result.steps, result.usage
        return result.to_dict()

    def decide(self, decision: dict[str, Any]) -> None:
        """Record an approval decision ``{"call_id", "approved"}`` for a waiting call."""
        call_id = decision.get("call_id")
        if not isinstance(call_id, str) or call_id not in self.waiting:
            # Call ids repeat across turns on some servers: a decision is only ever for a call
            # that waits now, never kept for one that may come.
            workflow.logger.warning("approval for %r ignored: no such call is waiting", call_id)
            return
        self._decisions[call_id] = bool(decision.get("approved"))

    def status(self) -> dict[str, Any]:
        """The run's status as JSON data (see `agentkit.durable.temporal.RunStatus`)."""
        state = "awaiting_approval" if self.waiting and self.state == "running" else self.state
        return {
            "state": state,
            "steps": self.steps,
            "usage": self.usage.to_dict(),
            "waiting": [
                {"call_id": r.call_id, "name": r.name, "arguments": r.arguments}
                for r in self.waiting.values()
            ],
        }

    # --- the interceptor: what the loop does, as activities and signals ----------------------

    def _seen(self, ctx: RunContext[Any]) -> TemporalAgent[Any]:
        self.steps, self.usage = ctx.step, ctx.usage
        assert self._durable is not None  # set by execute() before the run starts
        return self._durable

    async def model_request(
        self, ctx: RunContext[Any], params: dict[str, Any], call_next: ModelCall
    ) -> dict[str, Any]:
        """The model request as the activity ``<agent>.model_request``."""
        durable = self._seen(ctx)
        completion: dict[str, Any] = await workflow.execute_activity(
            durable.model_activity_name,
            params,
            result_type=dict,
            **durable.model_activity,
        )
        self.steps = ctx.step + 1
        return completion

    async def tool_call(
        self, ctx: RunContext[Any], call: dict[str, Any], call_next: ToolCall
    ) -> dict[str, Any]:
        """The tool execution as the activity ``<agent>.tool.<tool>``."""
        durable = self._seen(ctx)
        name = call["function"]["name"]
        payload = {
            "call": call,
            "deps": self._deps,
            "run_id": ctx.run_id,
            "step": ctx.step,
            "usage": ctx.usage.to_dict(),
        }
        outcome: dict[str, Any] = await workflow.execute_activity(
            durable.tool_activity_name(name),
            payload,
            result_type=dict,
            **durable.tool_activity(name),
        )
        return outcome

    async def approve(
        self, ctx: RunContext[Any], request: ToolCallRequest, call_next: ApproveCall
    ) -> bool:
        """Wait, durably and using no worker, for the ``approve`` signal of this call."""
        self._seen(ctx)
        call_id = request.call_id
        self.waiting[call_id] = request
        self._waiters[call_id] = self._waiters.get(call_id, 0) + 1
        try:
            await workflow.wait_condition(lambda: call_id in self._decisions)
            return self._decisions[call_id]
        finally:
            # The last waiter of an id takes the decision away: a later turn reusing the id
            # waits for a decision of its own.
            self._waiters[call_id] -= 1
            if not self._waiters[call_id]:
                del self._waiters[call_id], self.waiting[call_id]
                self._decisions.pop(call_id, None)
