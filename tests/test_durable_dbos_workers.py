"""agentkit.durable.dbos across processes: crash recovery, a worker pool on Postgres, handles.

Workers are `tests/durable_dbos_worker.py` subprocesses (the same agent code in each, as in
production); this process is the "other process" that starts runs, follows them, approves,
cancels and awaits results through a `dbos.DBOSClient`. The model is a FakeServer here, with a
responder, so a resumed run gets the same answers. Every wait is bounded.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from dbos import DBOSClient
from dbos import error as dbos_errors

from agentkit import MaxStepsExceeded
from agentkit.durable.dbos import ApprovalRequested, DBOSRuns
from agentkit.events import RunFinished, StepFinished, ToolCallFinished, ToolCallStarted
from agentkit.testing import FakeServer, Reply, text, tool_calls
from tests._postgres import Postgres

ROOT = Path(__file__).resolve().parent.parent
APP = "agentkit-tests"  # the workers' DBOS application name


def respond(body: dict[str, Any]) -> Reply:
    """The model every worker talks to: deterministic, so a resumed run sees the same answers."""
    messages = body["messages"]
    words = next(m["content"] for m in messages if m["role"] == "user").split()
    if words[0] == "loop":  # always calls a tool, never answers
        return tool_calls(("add", {"a": 1, "b": 1}))
    if messages[-1]["role"] == "tool":
        return text(" | ".join(m["content"] for m in messages if m["role"] == "tool"))
    if words[0] == "add":
        return tool_calls(("add", {"a": int(words[1]), "b": int(words[2])}))
    if words[0] == "ship":
        return tool_calls(("fetch_order", {"order": 7}), ("ship_order", {"order": 7}))
    return tool_calls(("refund", {"order": int(words[1])}), ("add", {"a": 1, "b": 1}))


@pytest.fixture(scope="module")
def model() -> Iterator[FakeServer]:
    with FakeServer(respond) as server:
        yield server


class Workers:
    """Worker subprocesses sharing one system database and work directory."""

    def __init__(self, database: str, work: Path, model: FakeServer) -> None:
        self.database, self.work, self.model = database, work, model
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, worker_id: str) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "AGENTKIT_"))}
        env.update(
            AGENTKIT_BASE_URL=self.model.url,
            AGENTKIT_API_KEY="sk-test",
            WORKER_ID=worker_id,
            PYTHONPATH=str(ROOT),
        )
        log = (self.work / f"worker-{worker_id}-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.durable_dbos_worker", self.database, str(self.work)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.processes.append(process)
        wait_until(lambda: (self.work / f"ready-{process.pid}").exists(), 60, self.logs)
        return process

    def logs(self) -> str:
        return "\n".join(p.read_text()[-3000:] for p in sorted(self.work.glob("worker-*.log")))

    def stop(self) -> None:
        (self.work / "stop").touch()
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def wait_until(check: Callable[[], bool], seconds: float, why: Callable[[], str]) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {seconds} s; worker logs:\n{why()}")
        time.sleep(0.02)


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


@pytest.fixture
def work(tmp_path: Path) -> Path:
    return tmp_path


def client_for(database: str) -> DBOSClient:
    return DBOSClient(system_database_url=database, application_name=APP)


# --- crash recovery, on the embedded default (SQLite) ----------------------------------------


@pytest.mark.parametrize("recovery", ["restart", "resume"])
async def test_a_killed_worker_s_run_resumes_in_a_new_worker_without_repeating_done_calls(
    model: FakeServer, work: Path, recovery: str
):
    """restart: a worker with the dead one's executor id recovers its runs by itself.
    resume: a worker with another id takes the run over once it is resumed (queued again)."""
    database = f"sqlite:///{work / 'runs.sqlite'}"
    workers = Workers(database, work, model)
    try:
        first = workers.start("w1")
        client = client_for(database)
        runs: DBOSRuns[str] = DBOSRuns("shop", client=client, polling_interval=0.05)
        run = await runs.start("ship my order", run_id="crash-1")

        async def fetch_recorded() -> bool:
            steps = await client.list_workflow_steps_async("crash-1")
            return any(
                s["function_name"] == "agentkit.shop.tool.fetch_order"
                and s["completed_at_epoch_ms"] is not None
                for s in steps
            )

        # Kill the worker once the first tool call is recorded and the second one is running.
        for _ in range(1500):
            if await fetch_recorded() and lines(work / "ran-ship_order"):
                break
            await anyio.sleep(0.02)
        else:
            pytest.fail(f"the first tool call was never recorded:\n{workers.logs()}")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        (work / "release").touch()  # from now on ship_order completes

        if recovery == "restart":
            workers.start("w1")  # the same executor id: DBOS recovers its unfinished runs
        else:
            workers.start("w2")
            await run.resume()
        with anyio.fail_after(30):
            result = await run.result(poll_interval=0.05)
        assert result.output == "order 7: 2 books | order 7 shipped"
        assert result.run_id == "crash-1"
        assert len(lines(work / "ran-fetch_order")) == 1  # completed before the kill: once
        assert len(lines(work / "ran-ship_order")) == 2  # interrupted: ran again, once
        assert await run.status() == "SUCCESS"
        client.destroy()
    finally:
        workers.stop()


# --- handles from another process: approval, events, list, cancel, errors -------------------


@pytest.fixture(scope="module")
def sqlite_worker(
    model: FakeServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    work = tmp_path_factory.mktemp("dbos-worker")
    database = f"sqlite:///{work / 'runs.sqlite'}"
    workers = Workers(database, work, model)
    workers.start("solo")
    yield database, work
    workers.stop()


@pytest.fixture
async def refunds(sqlite_worker: tuple[str, Path]) -> AsyncIterator[DBOSRuns[str]]:
    client = client_for(sqlite_worker[0])
    yield DBOSRuns("refunds", client=client, polling_interval=0.05)
    client.destroy()


async def test_another_process_approves_a_waiting_call_and_follows_the_events(
    refunds: DBOSRuns[str], sqlite_worker: tuple[str, Path]
):
    run = await refunds.start("refund 41", run_id="refund-41")
    seen: list[Any] = []
    with anyio.fail_after(30):
        async for event in run.events(idle_timeout=20):
            seen.append(event)
            if isinstance(event, ApprovalRequested):
                assert (event.name, event.arguments) == ("refund", '{"order": 41}')
                assert await run.status() == "PENDING"  # waiting, holding no thread
                await run.approve(event.call_id)
        result = await run.result(poll_interval=0.05)
    assert result.output == "order 41 refunded | 2"
    kinds = [type(event) for event in seen]
    assert kinds[0] is StepFinished and kinds[-2:] == [StepFinished, RunFinished]
    assert sorted(k.__name__ for k in kinds[1:-2]) == [
        "ApprovalRequested",
        "ToolCallFinished",
        "ToolCallFinished",
        "ToolCallStarted",
        "ToolCallStarted",
    ]
    finished = {e.name: e.content for e in seen if isinstance(e, ToolCallFinished)}
    assert finished == {"refund": "order 41 refunded", "add": "2"}
    assert {e.name for e in seen if isinstance(e, ToolCallStarted)} == {"refund", "add"}
    assert isinstance(seen[-1], RunFinished) and seen[-1].result.output == result.output


async def test_a_decision_sent_before_the_run_waits_is_kept_and_a_denial_is_not_run(
    refunds: DBOSRuns[str], sqlite_worker: tuple[str, Path]
):
    run = await refunds.start("refund 42", run_id="refund-42")
    await run.approve("call_1", approved=False)
    with anyio.fail_after(30):
        result = await run.result(poll_interval=0.05)
    assert result.output == "error: the user denied this call to 'refund'; it was not run | 2"
    assert "order 42" not in (sqlite_worker[1] / "ran-refund").read_text()


async def test_runs_are_listed_and_a_waiting_run_is_cancelled(refunds: DBOSRuns[str]):
    run = await refunds.start("refund 43", run_id="refund-43")
    with anyio.fail_after(30):
        async for event in run.events(idle_timeout=20):
            if isinstance(event, ApprovalRequested):
                break
        pending = await refunds.list(status="PENDING")
        assert "refund-43" in [status.workflow_id for status in pending]
        await run.cancel()
        assert await run.status() == "CANCELLED"
        with pytest.raises(dbos_errors.DBOSAwaitedWorkflowCancelledError):
            await run.result(poll_interval=0.05)
    cancelled = await refunds.list(status=["CANCELLED"])
    assert [status.workflow_id for status in cancelled] == ["refund-43"]
    assert await refunds.get("no-such-run").status() is None


async def test_a_failed_run_s_error_reaches_another_process_with_its_messages(
    refunds: DBOSRuns[str],
):
    # refunds has max_steps=10 and "loop" always calls a tool: the run fails in the worker.
    run = await refunds.start("loop", run_id="refund-loop")
    with anyio.fail_after(30), pytest.raises(MaxStepsExceeded) as caught:
        await run.result(poll_interval=0.05)
    assert caught.value.max_steps == 10
    assert "no final answer after 10 model requests" in str(caught.value)
    assert len(caught.value.messages) == 21  # the question, then 10 x (call, reply)
    assert await run.status() == "ERROR"


# --- scale: 1000 runs through one queue, two workers, Postgres --------------------------------


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    server = Postgres()
    yield server
    server.stop()


@pytest.mark.timeout(240)
async def test_a_thousand_runs_through_one_queue_over_two_workers_on_postgres(
    model: FakeServer, postgres: Postgres, work: Path
):
    workers = Workers(postgres.url, work, model)
    try:
        workers.start("pg-1")
        workers.start("pg-2")
        client = client_for(postgres.url)
        runs: DBOSRuns[str] = DBOSRuns(
            "adder", client=client, concurrency=40, polling_interval=0.05
        )
        total = 1000
        started = time.monotonic()
        limit = anyio.CapacityLimiter(8)

        async def start(i: int) -> None:
            async with limit:
                await runs.start(f"add {i} {2 * i}", run_id=f"add-{i}")

        async with anyio.create_task_group() as group:
            for i in range(total):
                group.start_soon(start, i)
        with anyio.fail_after(200):
            while len(await runs.list(status="SUCCESS")) < total:
                failed = await runs.list(status=["ERROR", "CANCELLED"])
                assert not failed, [s.workflow_id for s in failed]
                await anyio.sleep(0.2)
        elapsed = time.monotonic() - started
        statuses = await client.list_workflows_async(name="agentkit.adder", load_output=True)
        assert len(statuses) == total
        outputs = {s.workflow_id: s.output.output for s in statuses if s.output is not None}
        assert outputs == {f"add-{i}": str(3 * i) for i in range(total)}
        executors = {s.executor_id for s in statuses}
        assert executors == {"pg-1", "pg-2"}, executors
        print(f"\n{total} durable runs over 2 workers in {elapsed:.1f} s")
        client.destroy()
    finally:
        workers.stop()
