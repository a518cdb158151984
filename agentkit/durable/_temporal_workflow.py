"""The Temporal workflow of a durable agent run: a thin shell around `WorkflowRun`.

Temporal re-imports a workflow's module inside its sandbox for every run, so this module holds
the workflow class alone; the agents and the run logic live in modules passed through.
"""

from __future__ import annotations

from typing import Any

from temporalio import workflow

from agentkit.durable._temporal_run import WORKFLOW_NAME, WorkflowRun

__all__ = ["AgentWorkflow"]


@workflow.defn(name=WORKFLOW_NAME)
class AgentWorkflow:
    """Runs one agent run; ``approve`` (signal) decides a waiting call, ``status`` (query)."""

    def __init__(self) -> None:
        self._run = WorkflowRun()

    @workflow.run
    async def run(self, request: dict[str, Any]) -> dict[str, Any]:
        """Run the agent named in ``request`` with its input, history and deps."""
        return await self._run.execute(request)

    @workflow.signal(name="approve")
    def approve(self, decision: dict[str, Any]) -> None:
        """Decide a call that waits for approval: ``{"call_id": ..., "approved": bool}``."""
        self._run.decide(decision)

    @workflow.query(name="status")
    def status(self) -> dict[str, Any]:
        """Where the run is: state, steps, usage and the calls waiting for approval."""
        return self._run.status()
