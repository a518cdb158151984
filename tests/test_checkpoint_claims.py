"""Checkpointed runs: one run per id at a time, across processes; a failed run's id is kept."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.abc import Process

from agentkit import RunClaimedError
from agentkit.agent import Agent
from agentkit.checkpoint import FileCheckpointStore
from agentkit.client import ChatClient
from agentkit.context import RunContext
from agentkit.errors import AuthenticationError, InvalidRequestError
from agentkit.events import Hooks
from agentkit.testing import FakeServer, http_error, tool_calls
from agentkit.tools import Tool, tool
from tests.conftest import ROOT


@contextlib.asynccontextmanager
async def started(script: str, tmp_path: Path, **env: str) -> AsyncIterator[Process]:
    """``script`` running in a Python process, killed (SIGKILL) and reaped at the end."""
    (tmp_path / "script.py").write_text(script)
    command = [sys.executable, str(tmp_path / "script.py"), str(tmp_path)]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    async with await anyio.open_process(
        command, env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=None
    ) as process:
        try:
            yield process
        finally:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            with anyio.fail_after(10):
                await process.wait()


def files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


async def test_a_failed_run_keeps_its_generated_id(
    server: FakeServer, client: ChatClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = FileCheckpointStore(tmp_path)
    server.enqueue(http_error(401))
    with pytest.raises(AuthenticationError) as caught:
        await Agent("m", client=client).run("the question", checkpoint=store)
    run_id = caught.value.run_id
    assert run_id is not None and len(run_id) == 32
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(run_id in line and "resume it with run_id" in line for line in warnings)
    assert files(tmp_path) == [f"{run_id}.json"]  # the state, no lock left

    server.enqueue("the answer")
    result = await Agent("m", client=client).run(checkpoint=store, run_id=run_id)
    assert result.output == "the answer"
    assert server.requests[-1]["messages"] == [{"role": "user", "content": "the question"}]
    assert files(tmp_path) == []


async def test_a_foreign_error_of_a_checkpointed_run_names_its_id(
    server: FakeServer, client: ChatClient, tmp_path: Path
) -> None:
    class Broken(Hooks):
        async def before_request(self, ctx: RunContext[Any], request_params: Any) -> None:
            raise KeyError("hook")

    with pytest.raises(KeyError) as caught:
        await Agent("m", client=client, hooks=[Broken()]).run(
            "go", checkpoint=FileCheckpointStore(tmp_path), run_id="job-7"
        )
    assert caught.value.__notes__ == [
        "agentkit: the checkpointed run 'job-7' stopped here; its state is kept"
    ]


def holding_tool(calls: list[str]) -> tuple[Tool[..., Any], anyio.Event, anyio.Event]:
    started, release = anyio.Event(), anyio.Event()

    @tool
    async def hold() -> str:
        """Answer once released."""
        calls.append("hold")
        started.set()
        await release.wait()
        return "held"

    return hold, started, release


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.parametrize("stores", ["one store", "two stores"])
async def test_two_runs_of_one_id_at_once_run_a_pending_tool_once(
    server: FakeServer, tmp_path: Path, stores: str
) -> None:
    calls: list[str] = []
    hold, started, release = holding_tool(calls)
    first = FileCheckpointStore(tmp_path)
    second = first if stores == "one store" else FileCheckpointStore(tmp_path)
    server.enqueue(tool_calls(("hold", {})), "done")
    async with ChatClient(base_url=server.url, api_key="k", max_retries=0) as client:
        agent = Agent("m", tools=[hold], client=client)
        results: list[str] = []

        async def run_first() -> None:
            results.append((await agent.run("go", checkpoint=first, run_id="job")).output)

        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:
                group.start_soon(run_first)
                await started.wait()
                with pytest.raises(RunClaimedError) as caught:
                    await agent.run(checkpoint=second, run_id="job")
                release.set()
    assert caught.value.run_id == "job"
    assert f"pid {os.getpid()} on " in caught.value.holder
    assert "job" in str(caught.value) and "already running" in str(caught.value)
    assert calls == ["hold"]
    assert results == ["done"]
    assert files(tmp_path) == []  # claim released, state deleted


async def test_a_claim_is_released_however_the_run_ends(
    server: FakeServer, client: ChatClient, tmp_path: Path
) -> None:
    store = FileCheckpointStore(tmp_path)
    calls: list[str] = []
    hold, started, _ = holding_tool(calls)
    server.enqueue(tool_calls(("hold", {})))
    agent = Agent("m", tools=[hold], client=client)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(functools.partial(agent.run, "go", checkpoint=store, run_id="job"))
            await started.wait()
            assert "job.lock" in files(tmp_path)
            group.cancel_scope.cancel()
    assert files(tmp_path) == ["job.json"]  # cancelled: the state stays, the claim goes
    await store.claim("job")  # free again
    await store.release("job")
    await store.release("job")  # releasing what is not held is a no-op


async def test_a_claim_removes_temporary_files_a_crash_left(tmp_path: Path) -> None:
    leftovers = [".job.json.k2_9xq1z.tmp", ".job.json.a.tmp"]
    others = [".job.json.other.json.abc123.tmp", ".jobs.json.abc123.tmp", "job.json"]
    for name in leftovers + others:
        (tmp_path / name).write_text("{}")
    store = FileCheckpointStore(tmp_path)
    await store.claim("job")
    assert files(tmp_path) == sorted([*others, "job.lock"])
    (tmp_path / leftovers[0]).write_text("{}")
    await store.delete("job")
    await store.release("job")
    assert files(tmp_path) == sorted(others[:2])


HOLDING_RUN = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from agentkit.agent import Agent
    from agentkit.checkpoint import FileCheckpointStore
    from agentkit.tools import tool

    directory = Path(sys.argv[1])

    @tool
    def hold() -> str:
        \"\"\"Hold the run until the process is killed.\"\"\"
        (directory / "holding").write_text("yes")
        time.sleep(60)
        return "never"

    Agent("m", tools=[hold]).run_sync(
        "go", checkpoint=FileCheckpointStore(directory / "runs"), run_id="job")
    """
)


async def test_the_claim_holds_across_processes_and_dies_with_its_holder(
    server: FakeServer, client: ChatClient, tmp_path: Path
) -> None:
    server.enqueue(tool_calls(("hold", {})))
    calls: list[str] = []
    hold, _, release = holding_tool(calls)
    release.set()
    agent = Agent("m", tools=[hold], client=client)
    store = FileCheckpointStore(tmp_path / "runs")
    env = {"AGENTKIT_BASE_URL": server.url, "AGENTKIT_API_KEY": "k"}
    async with started(HOLDING_RUN, tmp_path, **env) as process:
        with anyio.fail_after(30):
            while not (tmp_path / "holding").exists():  # noqa: ASYNC110 - another process
                await anyio.sleep(0.02)
        with pytest.raises(RunClaimedError) as caught:
            await agent.run(checkpoint=store, run_id="job")
        assert caught.value.holder.startswith(f"pid {process.pid} on ")
        assert calls == []  # the other process's pending call was not run here too
    # killed (SIGKILL): no cleanup, the lock file stays behind
    assert files(tmp_path / "runs") == ["job.json", "job.lock"]
    (tmp_path / "runs" / ".job.json.x7_leftover.tmp").write_text("{")  # a save cut short

    server.enqueue("done")
    result = await agent.run(checkpoint=store, run_id="job")
    assert result.output == "done"
    assert calls == ["hold"]  # in flight when its process died: run again (at least once)
    assert files(tmp_path / "runs") == []


async def test_a_store_without_claims_is_refused_clearly(client: ChatClient) -> None:
    class OldStore:  # written against the protocol before claims existed
        async def save(self, run_id: str, state: Any) -> None: ...
        async def load(self, run_id: str) -> Any: ...
        async def delete(self, run_id: str) -> None: ...

    with pytest.raises(InvalidRequestError, match="OldStore lacks claim, release: a Checkpoint"):
        await Agent("m", client=client).run("go", checkpoint=OldStore())  # type: ignore[arg-type]


@pytest.mark.parametrize("content", ["{", '{"version": 1}', "[1]", "[" * 100_000])
async def test_an_unreadable_checkpoint_is_a_clear_error(
    client: ChatClient, tmp_path: Path, content: str
) -> None:
    (tmp_path / "job.json").write_text(content)
    with pytest.raises(InvalidRequestError, match=r"job.json does not hold a run state .* afresh"):
        await Agent("m", client=client).run(checkpoint=FileCheckpointStore(tmp_path), run_id="job")
    assert files(tmp_path) == ["job.json"]  # left for the user to look at; the claim released


FORKING_HOLDER = textwrap.dedent(
    """
    import os, sys, time
    import anyio
    from pathlib import Path
    from agentkit.checkpoint import FileCheckpointStore

    directory = Path(sys.argv[1])
    anyio.run(FileCheckpointStore(directory / "runs").claim, "job")
    child = os.fork()
    if child == 0:  # e.g. a multiprocessing worker: lives on after its parent
        time.sleep(60)
        os._exit(0)
    (directory / "child").write_text(str(child))
    time.sleep(60)
    """
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX fork")
async def test_a_claim_dies_with_its_holder_not_with_a_forked_child(tmp_path: Path) -> None:
    child = 0
    try:
        async with started(FORKING_HOLDER, tmp_path) as process:
            with anyio.fail_after(30):
                while not (tmp_path / "child").exists():  # noqa: ASYNC110 - another process
                    await anyio.sleep(0.02)
                while not (child := int((tmp_path / "child").read_text() or 0)):  # noqa: ASYNC110
                    await anyio.sleep(0.02)
            store = FileCheckpointStore(tmp_path / "runs")
            with pytest.raises(RunClaimedError):
                await store.claim("job")
            process.kill()
            with anyio.fail_after(10):
                await process.wait()
        await store.claim("job")  # the child still runs, but the claim was its parent's
        await store.release("job")
    finally:
        if child:
            os.kill(child, signal.SIGKILL)
