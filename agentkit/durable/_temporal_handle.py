"""A handle to a durable Temporal run (result, status, approval) and the status it reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal

from temporalio.client import WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from typing_extensions import TypeVar

from agentkit.errors import AgentRunError
from agentkit.events import ToolCallRequest
from agentkit.result import RunResult, RunUsage

if TYPE_CHECKING:
    from agentkit.durable.temporal import TemporalAgent

__all__ = ["AgentRunHandle", "RunStatus"]

OutputT = TypeVar("OutputT", default=str)


@dataclass(frozen=True, kw_only=True)
class RunStatus:
    """Where a durable run is, as its ``status`` query reports it."""

    state: Literal["running", "awaiting_approval", "finished", "failed"]
    """``awaiting_approval`` while a call waits for its ``approve`` signal."""
    steps: int
    """Model requests made so far."""
    usage: RunUsage
    """Usage of the requests made so far."""
    waiting: list[ToolCallRequest]
    """The calls waiting for approval (decide each with `AgentRunHandle.approve`)."""


class AgentRunHandle(Generic[OutputT]):
    """A durable run: await its result, query its status, approve its waiting calls.

    Args:
        durable: The agent the run belongs to.
        workflow_handle: Temporal's handle of the run's workflow.
    """

    def __init__(
        self, durable: TemporalAgent[OutputT], workflow_handle: WorkflowHandle[Any, Any]
    ) -> None:
        self.durable = durable
        """The agent the run belongs to."""
        self.workflow_handle = workflow_handle
        """Temporal's handle (cancel, terminate, describe, fetch the history...)."""

    @property
    def id(self) -> str:
        """The run's id: its workflow id."""
        return self.workflow_handle.id

    async def result(self) -> RunResult[OutputT]:
        """Wait for the run's result.

        Returns:
            The result, as `Agent.run` returns it.

        Raises:
            AgentRunError: The run failed (``.messages`` and ``.usage`` hold it so far).
            WorkflowFailureError: The run failed otherwise (a step ran out of retries...).
        """
        try:
            data = await self.workflow_handle.result()
        except WorkflowFailureError as exc:
            cause = exc.cause
            if not isinstance(cause, ApplicationError):
                raise
            details = cause.details
            if not details or not isinstance(details[0], dict) or "messages" not in details[0]:
                raise
            usage = details[0].get("usage")
            raise AgentRunError(
                f"durable run {self.id!r} failed: {cause.message}",
                messages=details[0]["messages"],
                usage=RunUsage(**usage) if usage else None,
            ) from exc
        return self.durable._result(data, self.id)

    async def status(self) -> RunStatus:
        """Ask the run where it is (a Temporal query; a worker must be running)."""
        data = await self.workflow_handle.query("status", result_type=dict)
        return RunStatus(
            state=data["state"],
            steps=data["steps"],
            usage=RunUsage(**data["usage"]),
            waiting=[ToolCallRequest(**call) for call in data["waiting"]],
        )

    async def approve(self, call_id: str, approved: bool = True) -> None:
        """Decide a call waiting for approval (`RunStatus.waiting`): run it, or deny it.

        A decision for a call that is not waiting is ignored (and logged by the worker).
        """
        await self.workflow_handle.signal("approve", {"call_id": call_id, "approved": approved})

    async def cancel(self) -> None:
        """Ask the run to stop (the workflow is cancelled; running activities are too)."""
        await self.workflow_handle.cancel()
