"""agentkit.durable.dbos in one process: DBOS launched here on SQLite, the model a FakeServer.

Queues, handles, approvals, events, crash recovery and Postgres, all across processes, are in
test_durable_dbos_workers.py. Here runs execute on each test's event loop, so each test closes
the agents' clients before its loop ends.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from dbos import DBOS

from agentkit import (
    Agent,
    InvalidRequestError,
    MaxStepsExceeded,
    RateLimitError,
    tool,
)
from agentkit.durable.dbos import ApprovalRequested, DBOSAgent, DBOSRun
from agentkit.testing import FakeServer, tool_calls
from tests.test_otel import Telemetry

ROOT = Path(__file__).resolve().parent.parent
calls: list[str] = []


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    calls.append(f"add({a}, {b})")
    return a + b


@tool(requires_approval=True)
def delete_file(path: str) -> str:
    """Delete a file (asks first)."""
    calls.append(f"delete_file({path})")
    return f"deleted {path}"


calc_agent = Agent("fake-model", tools=[add], name="calc")
calc = DBOSAgent(calc_agent, polling_interval=0.05)
files = DBOSAgent(Agent("fake-model", tools=[delete_file, add], name="files"), events=True)
impatient = DBOSAgent(
    Agent("fake-model", tools=[delete_file], name="impatient"), approval_timeout=0.2
)
# Only ever run by DBOS's own event loop (from its queue): its client lives there.
queued = DBOSAgent(Agent("fake-model", tools=[add], name="queued"), polling_interval=0.05)
short = DBOSAgent(Agent("fake-model", tools=[add], name="short", max_steps=1))
in_flight = {"now": 0, "most": 0}
in_flight_lock = threading.Lock()


@tool
def slow_add(a: int, b: int) -> int:
    """Add two numbers, slowly, counting how many calls run at once."""
    with in_flight_lock:
        in_flight["now"] += 1
        in_flight["most"] = max(in_flight["most"], in_flight["now"])
    time.sleep(0.2)
    with in_flight_lock:
        in_flight["now"] -= 1
    return a + b


telemetry = Telemetry()  # an SDK provider recording in memory, and its interceptor
traced = DBOSAgent(
    Agent("fake-model", tools=[add], name="traced", interceptors=[telemetry.interceptor])
)


# Like `queued`, only run from its queue; at most two of its runs at once, across workers.
narrow = DBOSAgent(
    Agent("fake-model", tools=[slow_add], name="narrow"), concurrency=2, polling_interval=0.05
)


@pytest.fixture(scope="module")
def dbos_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """DBOS launched in this process on a fresh SQLite file, for this module's tests."""
    database = tmp_path_factory.mktemp("dbos") / "runs.sqlite"
    DBOS(
        config={
            "name": "agentkit-inprocess",
            "system_database_url": f"sqlite:///{database}",
            "log_level": "WARNING",
            "notification_listener_polling_interval_sec": 0.05,
        }
    )
    DBOS.launch()
    yield
    DBOS.destroy(workflow_completion_timeout_sec=0)


@pytest.fixture
async def model(
    dbos_app: None, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[FakeServer]:
    """The FakeServer, reached by the agents' own clients (from the environment)."""
    monkeypatch.setenv("AGENTKIT_BASE_URL", server.url)
    monkeypatch.setenv("AGENTKIT_API_KEY", "sk-test")
    calls.clear()
    yield server
    for durable in (calc, files, impatient, short):
        await durable.agent.client.aclose()


async def started(run: DBOSRun[str]) -> None:
    """Wait until the run exists (a run started by another task of the test)."""
    for _ in range(1000):
        if await run.status() is not None:
            return
        await anyio.sleep(0.01)
    pytest.fail(f"{run} never started")


async def steps_of_ids(run_id: str) -> list[Any]:
    return list(await DBOS.list_workflow_steps_async(run_id))


async def steps_of(run_id: str) -> list[str]:
    return [step["function_name"] for step in await steps_of_ids(run_id)]


async def test_a_run_is_a_workflow_and_each_request_and_tool_call_a_named_step(model):
    model.enqueue(tool_calls(("add", {"a": 1, "b": 2}), ("add", {"a": 3, "b": 4})), "3 and 7")
    result = await calc.run("add twice", run_id="calc-1")
    assert (result.output, result.run_id) == ("3 and 7", "calc-1")
    assert [m["content"] for m in result.messages if m["role"] == "tool"] == ["3", "7"]
    assert await steps_of("calc-1") == [
        "agentkit.calc.model_request",
        "agentkit.calc.tool.add",
        "agentkit.calc.tool.add",
        "agentkit.calc.model_request",
    ]
    assert dict(calc_agent.tools) == {"add": add}  # read-only: what the durable run reads
    with pytest.raises(TypeError):
        calc_agent.tools["sub"] = add  # type: ignore[index]
    # The same Agent, unchanged, still runs plain.
    model.enqueue(tool_calls(("add", {"a": 1, "b": 2})), "3")
    assert (await calc_agent.run("add")).output == "3"


async def test_a_traced_durable_run_is_one_span_tree_around_its_steps(model):
    model.enqueue(tool_calls(("add", {"a": 1, "b": 2}), ("add", {"a": 3, "b": 4})), "3 and 7")
    result = await traced.run("add twice", run_id="traced-1")
    assert result.output == "3 and 7"
    assert telemetry.tree() == [
        [
            "invoke_agent traced",
            ["chat fake-model", "execute_tool add", "execute_tool add", "chat fake-model"],
        ]
    ]
    assert await steps_of("traced-1") == [
        "agentkit.traced.model_request",
        "agentkit.traced.tool.add",
        "agentkit.traced.tool.add",
        "agentkit.traced.model_request",
    ]
    await traced.agent.client.aclose()


async def test_a_finished_run_id_returns_the_recorded_result_without_running_again(model):
    model.enqueue(tool_calls(("add", {"a": 2, "b": 2})), "4")
    first = await calc.run("add", run_id="calc-again")
    sent, ran = len(model.requests), list(calls)
    again = await calc.run("add", run_id="calc-again")
    assert again.output == first.output == "4"
    assert (len(model.requests), calls) == (sent, ran)


async def test_an_approval_waits_durably_and_the_events_are_published(model):
    model.enqueue(tool_calls(("delete_file", {"path": "/tmp/a"}), ("add", {"a": 1, "b": 1})), "ok")
    seen: list[object] = []

    async def follow() -> None:
        run = files.runs.get("files-1")
        await started(run)
        async for event in run.events(idle_timeout=15):
            seen.append(event)
            if isinstance(event, ApprovalRequested):
                await run.approve(event.call_id)

    with anyio.fail_after(20):
        async with anyio.create_task_group() as group:
            group.start_soon(follow)
            result = await files.run("clean up", run_id="files-1")
    assert (result.output, calls) == ("ok", ["add(1, 1)", "delete_file(/tmp/a)"])
    kinds = [type(event).__name__ for event in seen]
    # add runs while delete_file waits for its decision: the middle's order is the race's.
    assert kinds[0] == "StepFinished" and kinds[-2:] == ["StepFinished", "RunFinished"]
    assert sorted(kinds[1:-2]) == [
        "ApprovalRequested",
        "ToolCallFinished",
        "ToolCallFinished",
        "ToolCallStarted",
        "ToolCallStarted",
    ]
    # The step IDs are not the race's: each call's step is reserved first, in call order.
    assert await steps_of("files-1") == [
        "agentkit.files.model_request",
        "DBOS.writeStream",  # StepFinished
        "agentkit.files.tool.delete_file",
        "agentkit.files.tool.add",
        "DBOS.writeStream",  # ApprovalRequested
        "DBOS.recv",
        "DBOS.sleep",  # the recv's durable timeout
        "agentkit.files.model_request",
        "DBOS.writeStream",
        "DBOS.writeStream",  # RunFinished
        "DBOS.closeStream",
    ]


async def test_two_calls_waiting_for_approval_take_their_waits_in_call_order(model):
    model.enqueue(
        tool_calls(("delete_file", {"path": "/a"}), ("delete_file", {"path": "/b"}, "call_b")),
        "both handled",
    )

    async def decide() -> None:
        run = files.runs.get("files-2")
        await started(run)
        await run.approve("call_b", True)  # the second call's decision comes first
        async for event in run.events(idle_timeout=15):
            if isinstance(event, ApprovalRequested) and event.call_id == "call_1":
                await run.approve("call_1", False)

    with anyio.fail_after(20):
        async with anyio.create_task_group() as group:
            group.start_soon(decide)
            result = await files.run("delete both", run_id="files-2")
    assert calls == ["delete_file(/b)"]
    assert [m["content"] for m in result.messages if m["role"] == "tool"] == [
        "error: the user denied this call to 'delete_file'; it was not run",
        "deleted /b",
    ]
    steps = [(s["function_id"], s["function_name"]) for s in await steps_of_ids("files-2")]
    assert steps[2:9] == [
        # 3 is reserved for call 1's step, never used: the call was denied
        (4, "agentkit.files.tool.delete_file"),  # reserved for call 2
        (5, "DBOS.writeStream"),  # call 1 waits first...
        (6, "DBOS.recv"),
        (7, "DBOS.sleep"),
        (8, "DBOS.writeStream"),  # ...then call 2, whatever order their tasks ran in
        (9, "DBOS.recv"),
        (10, "DBOS.sleep"),
    ]


async def test_runs_queued_from_this_process_run_on_dbos_s_loop(model):
    assert queued.runs.queue_name == "agentkit.queued"
    model.responder = lambda body: (
        tool_calls(("add", {"a": 20, "b": 22}))
        if body["messages"][-1]["role"] == "user"
        else f"sum {body['messages'][-1]['content']}"
    )
    first = await queued.start("add", priority=1)
    second = await queued.start("add", run_id="queued-2")
    assert (repr(queued), repr(second)) == (
        "DBOSAgent(name='queued', agent=Agent(model='fake-model', tools=['add']))",
        "DBOSRun('queued-2')",
    )
    with anyio.fail_after(20):
        outputs = [(await run.result(poll_interval=0.05)).output for run in (first, second)]
    assert outputs == ["sum 42", "sum 42"]
    assert await second.status() == "SUCCESS"


async def test_a_queue_runs_at_most_its_concurrency_at_once(model):
    model.responder = lambda body: (
        tool_calls(("slow_add", {"a": 1, "b": 2}))
        if body["messages"][-1]["role"] == "user"
        else f"sum {body['messages'][-1]['content']}"
    )
    runs = [await narrow.start("add") for _ in range(6)]
    with anyio.fail_after(30):
        outputs = [(await run.result(poll_interval=0.05)).output for run in runs]
    assert outputs == ["sum 3"] * 6
    assert in_flight["most"] == 2  # reached, never passed


async def test_only_an_explicit_true_approves(model):
    model.enqueue(tool_calls(("delete_file", {"path": "/c"})), "not deleted")

    async def decide() -> None:
        await started(files.runs.get("files-3"))
        await DBOS.send_async("files-3", "yes", "agentkit.approval:call_1")  # not a bool

    with anyio.fail_after(20):
        async with anyio.create_task_group() as group:
            group.start_soon(decide)
            result = await files.run("delete /c", run_id="files-3")
    assert "denied" in result.messages[-2]["content"]
    assert calls == []


async def test_no_decision_within_the_approval_timeout_denies(model):
    model.enqueue(tool_calls(("delete_file", {"path": "/x"})), "understood")
    with anyio.fail_after(20):
        result = await impatient.run("delete /x")
    assert "denied" in result.messages[-2]["content"]
    assert calls == []


async def test_a_failed_run_raises_the_agentkit_error_with_its_messages(model):
    model.enqueue(tool_calls(("add", {"a": 1, "b": 1})))
    with anyio.fail_after(20), pytest.raises(MaxStepsExceeded) as caught:
        await short.run("loop", run_id="short-1")
    assert [m["role"] for m in caught.value.messages] == ["user", "assistant", "tool"]
    status = await DBOS.get_workflow_status_async("short-1")
    assert status is not None and status.status == "ERROR"


def test_a_durable_agent_needs_a_stable_name():
    with pytest.raises(InvalidRequestError, match="stable name"):
        DBOSAgent(Agent("m"))
    with pytest.raises(InvalidRequestError, match="concurrency"):
        DBOSAgent(Agent("m", name="x"), concurrency=0)


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )


def test_importing_agentkit_imports_no_engine():
    code = "import sys, agentkit, agentkit.durable; print('dbos' in sys.modules)"
    assert _python(code).stdout.strip() == "False"


def test_without_the_extra_the_error_names_the_pip_install():
    code = "import sys; sys.modules['dbos'] = None; import agentkit.durable.dbos"
    done = _python(code)
    assert done.returncode == 1
    assert "pip install 'agentkit-loop[dbos]'" in done.stderr


def test_a_stored_error_keeps_its_data_and_leaves_the_api_key_behind():
    # DBOS pickles a failed run's error into its database, for result() in any process.
    request = httpx.Request("POST", "http://x/v1", headers={"authorization": "Bearer sk-secret"})
    error = RateLimitError(
        "slow down",
        status_code=429,
        request_id="req_1",
        response=httpx.Response(429, request=request),
    )
    error.messages = [{"role": "user", "content": "hi"}]
    stored = pickle.dumps(error)
    assert b"sk-secret" not in stored
    again = pickle.loads(stored)
    assert (type(again), str(again), again.status_code) == (RateLimitError, str(error), 429)
    assert (again.messages, again.response, again.request) == (error.messages, None, None)
    failed = pickle.loads(pickle.dumps(MaxStepsExceeded(3, messages=error.messages)))
    assert (failed.max_steps, str(failed)) == (3, str(MaxStepsExceeded(3)))
