"""Durable agent runs on DBOS: each run a workflow, each model request and tool call a step.

```python
from dbos import DBOS
from agentkit.durable.dbos import DBOSAgent

durable = DBOSAgent(agent, name="support")  # before DBOS.launch(): registers the workflow
DBOS(config={"name": "app", "system_database_url": "sqlite:///runs.sqlite"})
DBOS.launch()  # also resumes the runs a crashed process left unfinished
result = await durable.run("Where is my order?")
```

A run's id is its workflow id. A crashed run resumes where it stopped: requests and tool calls
that completed are read back from the database, not made again. `DBOSRuns` starts runs on a
DBOS queue, spread over every worker process that shares the database, and finds them again
(result, status, cancel, approvals, events) from any process, with or without the agent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any, Generic, Literal

from typing_extensions import TypeVar

try:
    from dbos import DBOS, DBOSClient, SetWorkflowID, WorkflowHandleAsync, WorkflowStatus
except ImportError as exc:  # pragma: no cover - tested in a subprocess without dbos
    raise ImportError(
        "agentkit.durable.dbos needs DBOS: pip install 'agentkit-loop[dbos]'"
    ) from exc

from agentkit.agent import Agent
from agentkit.durable import _only_own_tools
from agentkit.durable._dbos_run import (
    EVENTS_KEY,
    ApprovalRequested,
    Names,
    StepsInterceptor,
    approval_topic,
)
from agentkit.errors import InvalidRequestError
from agentkit.events import AgentEvent, RunFinished
from agentkit.result import RunResult
from agentkit.types import MessageParam

__all__ = ["ApprovalRequested", "DBOSAgent", "DBOSRun", "DBOSRuns", "DurableEvent"]

OutputT = TypeVar("OutputT", default=str)

DurableEvent = AgentEvent | ApprovalRequested
"""What a durable run publishes: `Agent.stream`'s events (but text deltas) and approvals."""

RunStatus = Literal[
    "ENQUEUED", "PENDING", "SUCCESS", "ERROR", "CANCELLED", "MAX_RECOVERY_ATTEMPTS_EXCEEDED"
]

_WEEK = 7 * 24 * 3600.0


class DBOSAgent(Generic[OutputT]):
    """An `Agent` whose runs are DBOS workflows; the agent itself is unchanged.

    Each run is the workflow ``agentkit.<name>``; each model request the step
    ``agentkit.<name>.model_request`` and each tool call ``agentkit.<name>.tool.<tool>``. Create
    it at import time in every process that runs agents, before ``DBOS.launch()``, so DBOS
    knows the workflow when it resumes or dequeues a run.

    Args:
        agent: The agent to run durably.
        name: The stable name of its workflow and steps (default: the agent's ``name``).
            Change it and unfinished runs can no longer resume.
        deps: The ``deps`` of every run, made in the worker process (a database pool, an
            http client...): deps are not recorded.
        concurrency: Most runs of this agent executing at once across all workers.
        worker_concurrency: Most runs executing at once in one worker process.
        polling_interval: Seconds between two looks at the queue for runs to start.
        approval_timeout: Seconds a tool call waits for a decision before it is denied.
        events: Publish each run's events for `DBOSRun.events` (a database write each).

    Raises:
        InvalidRequestError: No name, or a limit below 1.
    """

    def __init__(
        self,
        agent: Agent[OutputT],
        *,
        name: str | None = None,
        deps: Any = None,
        concurrency: int | None = None,
        worker_concurrency: int | None = None,
        polling_interval: float = 1.0,
        approval_timeout: float = _WEEK,
        events: bool = False,
    ) -> None:
        name = name or agent.name
        if not name:
            raise InvalidRequestError(
                "a durable agent needs a stable name: Agent(..., name='support') or "
                "DBOSAgent(agent, name='support')"
            )
        _only_own_tools(agent, "DBOSAgent")
        if (concurrency is not None and concurrency < 1) or (
            worker_concurrency is not None and worker_concurrency < 1
        ):
            raise InvalidRequestError("concurrency and worker_concurrency must be >= 1")
        self.agent = agent
        """The agent run in each workflow."""
        self.name = name
        """The name of its workflow, steps and queue."""
        self.deps = deps
        """The deps of every run executed by this process."""
        self._names = Names(name)
        self._approval_timeout = approval_timeout
        self._events = events

        async def run_workflow(
            input: str | list[MessageParam] | None, history: list[MessageParam] | None
        ) -> RunResult[OutputT]:
            return await self._execute(input, history)

        self._workflow = DBOS.workflow(name=self._names.workflow)(run_workflow)
        self.runs: DBOSRuns[OutputT] = DBOSRuns(
            name,
            concurrency=concurrency,
            worker_concurrency=worker_concurrency,
            polling_interval=polling_interval,
        )
        """Start, find, list and cancel this agent's runs (through this process's DBOS)."""

    def __repr__(self) -> str:
        return f"DBOSAgent(name={self.name!r}, agent={self.agent!r})"

    async def run(
        self,
        input: str | Sequence[MessageParam] | None = None,
        *,
        history: Sequence[MessageParam] | None = None,
        run_id: str | None = None,
    ) -> RunResult[OutputT]:
        """Run the agent as a workflow in this process and return its result.

        Given the ``run_id`` of a run that already finished, it returns that run's result
        without running anything again.

        Args:
            input: The user's message, or messages to add (as for `Agent.run`).
            history: Earlier messages.
            run_id: The workflow id (default: a new one).

        Returns:
            The run's result; its ``run_id`` is the workflow id.
        """
        recorded, earlier = _listed(input), None if history is None else list(history)
        if run_id is None:
            return await self._workflow(recorded, earlier)
        with SetWorkflowID(run_id):
            return await self._workflow(recorded, earlier)

    async def start(
        self,
        input: str | Sequence[MessageParam] | None = None,
        *,
        history: Sequence[MessageParam] | None = None,
        run_id: str | None = None,
        priority: int | None = None,
    ) -> DBOSRun[OutputT]:
        """Queue a run for any worker: ``self.runs.start``, same arguments (see `DBOSRuns.start`).

        Returns:
            A handle to the run.
        """
        return await self.runs.start(input, history=history, run_id=run_id, priority=priority)

    async def _execute(self, input: Any, history: list[MessageParam] | None) -> RunResult[OutputT]:
        steps = StepsInterceptor(
            self.agent, self._names, approval_timeout=self._approval_timeout, events=self._events
        )
        result = await self.agent.run(
            input, history=history, deps=self.deps, run_id=DBOS.workflow_id, interceptors=[steps]
        )
        if self._events:
            await DBOS.write_stream_async(EVENTS_KEY, RunFinished(result=result))
            await DBOS.close_stream_async(EVENTS_KEY)
        return result


class DBOSRuns(Generic[OutputT]):
    """The runs of one durable agent, from any process that reaches its database.

    In a process that launched DBOS, ``DBOSAgent.runs`` is one. Elsewhere (a web server that
    only starts runs and reads results) pass a `dbos.DBOSClient`; the agent's code need not be
    there, but its results and events are unpickled, so the classes they hold must be.

    Args:
        name: The durable agent's name.
        client: Reach the database through this client instead of the launched DBOS.
        concurrency: Registered with the queue, when this object registers it.
        worker_concurrency: Registered with the queue, when this object registers it.
        polling_interval: How often workers look at the queue, when this object registers it.
    """

    def __init__(
        self,
        name: str,
        *,
        client: DBOSClient | None = None,
        concurrency: int | None = None,
        worker_concurrency: int | None = None,
        polling_interval: float = 1.0,
    ) -> None:
        self._names = Names(name)
        self._backend: type[DBOS] | DBOSClient = client if client is not None else DBOS
        self._queue_limits = {
            "global_concurrency": concurrency,
            "worker_concurrency": worker_concurrency,
            "polling_interval_sec": polling_interval,
        }
        self._queue_ready = False

    @property
    def queue_name(self) -> str:
        """The DBOS queue runs are started on (also the workflow's name)."""
        return self._names.workflow

    async def _ensure_queue(self) -> None:
        # Registered once per process; after that the queue lives in the database.
        if self._queue_ready:
            return
        backend = self._backend
        if await backend.retrieve_queue_async(self.queue_name) is None:
            await backend.register_queue_async(self.queue_name, **self._queue_limits)  # type: ignore[arg-type]
        self._queue_ready = True

    async def start(
        self,
        input: str | Sequence[MessageParam] | None = None,
        *,
        history: Sequence[MessageParam] | None = None,
        run_id: str | None = None,
        priority: int | None = None,
    ) -> DBOSRun[OutputT]:
        """Queue a run; a worker with a free slot starts it (this process too, if launched).

        Args:
            input: The user's message, or messages to add.
            history: Earlier messages.
            run_id: The workflow id (default: a new one). A run id already in use gives a
                handle to that run rather than a second run.
            priority: Lower runs first (1 is the highest; default: before any prioritised).

        Returns:
            A handle to the run.
        """
        await self._ensure_queue()
        options: dict[str, Any] = {
            "workflow_name": self._names.workflow,
            "queue_name": self.queue_name,
        }
        if run_id is not None:
            options["workflow_id"] = run_id
        if priority is not None:
            options["priority"] = priority
        args = (_listed(input), None if history is None else list(history))
        handle: WorkflowHandleAsync[Any]
        if isinstance(self._backend, DBOSClient):
            handle = await self._backend.enqueue_async(options, *args)  # type: ignore[arg-type]
        else:
            handle = await DBOS.enqueue_workflow_with_options_async(options, *args)  # type: ignore[arg-type]
        return self.get(handle.get_workflow_id())

    def get(self, run_id: str) -> DBOSRun[OutputT]:
        """A handle to the run ``run_id`` (not checked: `DBOSRun.status` is None if unknown)."""
        return DBOSRun(run_id, self._backend)

    async def list(
        self,
        *,
        status: RunStatus | Sequence[RunStatus] | None = None,
        limit: int | None = None,
        newest_first: bool = True,
    ) -> list[WorkflowStatus]:
        """This agent's runs, as DBOS records them (id, status, times, executor...).

        Args:
            status: Only runs with this status (or one of these).
            limit: At most this many.
            newest_first: Sort by creation time, newest first (else oldest first).

        Returns:
            DBOS's `WorkflowStatus` of each run, without inputs and outputs.
        """
        statuses = [status] if isinstance(status, str) else list(status or ()) or None
        return await self._backend.list_workflows_async(
            name=self._names.workflow,
            status=statuses,  # type: ignore[arg-type]
            limit=limit,
            sort_desc=newest_first,
            load_input=False,
            load_output=False,
        )


class DBOSRun(Generic[OutputT]):
    """A handle to one durable run, usable from any process that reaches the database."""

    def __init__(self, run_id: str, backend: type[DBOS] | DBOSClient) -> None:
        self.run_id = run_id
        """The run's id: its workflow id."""
        self._backend = backend

    def __repr__(self) -> str:
        return f"DBOSRun({self.run_id!r})"

    async def result(self, *, poll_interval: float = 0.2) -> RunResult[OutputT]:
        """Wait for the run to end and return its result, or raise what it raised.

        Args:
            poll_interval: Seconds between two looks at the database.

        Returns:
            The same result `Agent.run` returns.

        Raises:
            DBOSAwaitedWorkflowCancelledError: The run was cancelled.
            AgentKitError: The run failed (``MaxStepsExceeded``, ``APIError``...).
        """
        handle: WorkflowHandleAsync[RunResult[OutputT]]
        handle = await self._backend.retrieve_workflow_async(self.run_id)
        result: RunResult[OutputT] = await handle.get_result(polling_interval_sec=poll_interval)
        return result

    async def status(self) -> RunStatus | None:
        """The run's status (``"ENQUEUED"``, ``"PENDING"``, ``"SUCCESS"``...), None if unknown."""
        found = await self._backend.list_workflows_async(
            workflow_ids=[self.run_id], load_input=False, load_output=False
        )
        return found[0].status if found else None  # type: ignore[return-value]

    async def cancel(self) -> None:
        """Stop the run: it starts no further step (one running finishes) and ends CANCELLED."""
        await self._backend.cancel_workflow_async(self.run_id)

    async def resume(self) -> None:
        """Queue the run again, to go on from its last recorded step on any worker.

        For a run whose worker is gone for good (a restarted worker with the same
        ``executor_id`` recovers its runs by itself), or one that was cancelled. Never resume a
        run that is still running on a live worker: it would then run in two places.
        """
        await self._backend.resume_workflow_async(self.run_id)

    async def approve(self, call_id: str, approved: bool = True) -> None:
        """Decide on a tool call the run waits on (or will wait on) for approval.

        Args:
            call_id: The call's id (from `ApprovalRequested` or the run's messages).
            approved: True to run the call, False to deny it.
        """
        await self._backend.send_async(self.run_id, approved, approval_topic(call_id))

    async def events(self, *, idle_timeout: float | None = None) -> AsyncIterator[DurableEvent]:
        """The run's events from the start, live, until it ends (the agent needs ``events=True``).

        `ToolCallStarted` and `ToolCallFinished` are written by the tool call's step, so a call
        that runs again after a crash publishes them again; `StepFinished`,
        `ApprovalRequested` and the final `RunFinished` are published once.

        Args:
            idle_timeout: Most seconds to wait for each next event (default: no limit); then
                DBOS raises ``DBOSStreamTimeoutError``.

        Yields:
            `StepFinished`, `ToolCallStarted`, `ToolCallFinished`, `ApprovalRequested`, and
            `RunFinished` last when the run succeeds.
        """
        stream = self._backend.read_stream_async(
            self.run_id, EVENTS_KEY, timeout_seconds=idle_timeout, polling_interval_sec=0.05
        )
        async for event in stream:
            yield event


def _listed(
    messages: str | Sequence[MessageParam] | None,
) -> str | list[MessageParam] | None:
    # Recorded as the workflow's input: plain lists, whatever sequence the caller had.
    return messages if messages is None or isinstance(messages, str) else list(messages)
