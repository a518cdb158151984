"""agentkit.durable.dbos in one process: DBOS launched here on SQLite, the model a FakeServer.

Queues, handles, approvals, events, crash recovery and Postgres, all across processes, are in
test_durable_dbos_workers.py. Here runs execute on each test's event loop, so each test closes
the agents' clients before its loop ends.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest
from dbos import DBOS

from agentkit import Agent, InvalidRequestError, MaxStepsExceeded, tool
from agentkit.durable.dbos import ApprovalRequested, DBOSAgent
from agentkit.testing import FakeServer, tool_calls

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
short = DBOSAgent(Agent("fake-model", tools=[add], name="short", max_steps=1))


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


async def steps_of(run_id: str) -> list[str]:
    return [step["function_name"] for step in await DBOS.list_workflow_steps_async(run_id)]


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
    # The same Agent, unchanged, still runs plain.
    model.enqueue(tool_calls(("add", {"a": 1, "b": 2})), "3")
    assert (await calc_agent.run("add")).output == "3"


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
        async for event in files.runs.get("files-1").events(idle_timeout=15):
            seen.append(event)
            if isinstance(event, ApprovalRequested):
                await files.runs.get("files-1").approve(event.call_id)

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
