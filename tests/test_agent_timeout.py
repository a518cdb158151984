"""A run bounded in time: `RunTimeoutError` with the run so far, and nothing left running."""

from __future__ import annotations

import asyncio
import contextlib
import math
from pathlib import Path
from typing import Any

import anyio
import pytest

from agentkit import RunTimeoutError
from agentkit.agent import Agent
from agentkit.checkpoint import FileCheckpointStore
from agentkit.client import ChatClient
from agentkit.errors import AgentRunError, InvalidRequestError
from agentkit.events import (
    AgentEvent,
    Hooks,
    RunFinished,
    StepFinished,
    ToolCallFinished,
    ToolCallStarted,
)
from agentkit.testing import FakeServer, delay, tool_calls
from agentkit.tools import tool
from tests.conftest import run
from tests.test_agent_stream import never_answering

MODES = ["run", "plain", "live"]


@tool
async def quick() -> str:
    """Answer at once."""
    return "ok"


async def drive(agent: Agent[Any], mode: str, *args: Any, **kwargs: Any) -> list[AgentEvent]:
    """Run ``agent`` to its end through `run`, a plain stream or a live stream; the events."""
    if mode == "run":
        await agent.run(*args, **kwargs)
        return []
    if mode == "live":
        async with agent.stream(*args, **kwargs) as events:
            return [event async for event in events]
    async with contextlib.aclosing(agent.stream(*args, **kwargs)) as stream:
        return [event async for event in stream]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_a_hanging_request_times_out_with_the_run_so_far(
    server: FakeServer, mode: str
) -> None:
    server.enqueue(delay(30, "late"))
    async with ChatClient(base_url=server.url, api_key="k", max_retries=0) as client:
        agent = Agent("m", client=client, instructions="Be brief.", run_timeout=0.3)
        with anyio.fail_after(5), pytest.raises(RunTimeoutError) as caught:
            await drive(agent, mode, "hello")
    error = caught.value
    assert isinstance(error, AgentRunError) and isinstance(error, TimeoutError)
    assert error.timeout == 0.3
    assert str(error) == "no final answer within the run's timeout of 0.3s"
    assert error.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello"},
    ]
    assert error.usage.requests == 0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_a_hanging_tool_is_cancelled_and_its_turn_answered(
    server: FakeServer, mode: str, anyio_backend: str
) -> None:
    forever, cancelled = never_answering()

    server.enqueue(tool_calls(("quick", {}), ("forever", {})) | {"usage": {"prompt_tokens": 5}})
    async with ChatClient(base_url=server.url, api_key="k", max_retries=0) as client:
        agent = Agent("m", tools=[quick, forever], client=client, run_timeout=0.5)
        before = asyncio.all_tasks() if anyio_backend == "asyncio" else set()
        with anyio.fail_after(5), pytest.raises(RunTimeoutError) as caught:
            await drive(agent, mode, "go")
        assert cancelled.is_set()  # cancelled, and done, before the error was raised
        if anyio_backend == "asyncio":
            assert asyncio.all_tasks() == before  # no stray task
    # A history a server accepts: every call of the turn has its reply.
    assert [(m["role"], m.get("content")) for m in caught.value.messages[1:]] == [
        ("assistant", None),
        ("tool", "ok"),
        ("tool", "error: the run stopped before this call finished"),
    ]
    assert caught.value.usage.requests == 1
    assert caught.value.usage.prompt_tokens == 5


async def test_a_slow_reader_is_never_cancelled_by_the_runs_deadline(
    server: FakeServer, client: ChatClient
) -> None:
    """The deadline cancels the run's own work, not the code reading a plain stream."""
    server.enqueue(tool_calls(("quick", {})), "done")
    agent = Agent("m", tools=[quick], client=client, run_timeout=0.2)
    seen: list[AgentEvent] = []
    with anyio.fail_after(5), pytest.raises(RunTimeoutError):
        async with contextlib.aclosing(agent.stream("go")) as events:
            async for event in events:
                await anyio.sleep(0.3)  # past the deadline: this sleep must finish normally
                seen.append(event)
    # No new work starts past the deadline: the tool call was announced, never run.
    assert [type(e) for e in seen] == [StepFinished, ToolCallStarted]
    assert len(server.requests) == 1


async def test_a_run_within_its_timeout_is_unaffected(
    server: FakeServer, client: ChatClient
) -> None:
    server.enqueue(tool_calls(("quick", {})), "done")
    agent = Agent("m", tools=[quick], client=client, run_timeout=30)
    assert (await run(agent, "go")).output == "done"
    server.enqueue("again")
    events = await drive(agent, "live", "go")
    assert isinstance(events[-1], RunFinished) and events[-1].result.output == "again"


async def test_hooks_count_in_the_runs_time(server: FakeServer, client: ChatClient) -> None:
    class Slow(Hooks):
        async def before_request(self, ctx: Any, request_params: dict[str, Any]) -> None:
            await anyio.sleep(30)

    agent = Agent("m", client=client, hooks=[Slow()], run_timeout=0.2)
    with anyio.fail_after(5), pytest.raises(RunTimeoutError):
        await agent.run("go")
    assert server.requests == []


async def test_a_timed_out_checkpointed_run_resumes_what_was_left(
    server: FakeServer, client: ChatClient, tmp_path: Path
) -> None:
    ran: list[str] = []
    release = anyio.Event()

    @tool
    async def fast() -> str:
        """Answer at once."""
        ran.append("fast")
        return "fast"

    @tool
    async def slow() -> str:
        """Answer once released."""
        ran.append("slow")
        await release.wait()
        return "slow"

    store = FileCheckpointStore(tmp_path)
    server.enqueue(tool_calls(("fast", {}), ("slow", {})))
    hurried = Agent("m", tools=[fast, slow], client=client, run_timeout=0.5)
    with anyio.fail_after(5), pytest.raises(RunTimeoutError) as caught:
        await hurried.run("go", checkpoint=store)
    run_id = caught.value.run_id
    assert run_id is not None and (tmp_path / f"{run_id}.json").exists()
    assert not (tmp_path / f"{run_id}.lock").exists()  # the claim was released

    release.set()
    server.enqueue("done")
    patient = Agent("m", tools=[fast, slow], client=client)
    result = await patient.run(checkpoint=store, run_id=run_id)
    assert result.output == "done"
    assert ran == ["fast", "slow", "slow"]  # the finished call was not run again
    assert [m["content"] for m in server.requests[-1]["messages"] if m["role"] == "tool"] == [
        "fast",
        "slow",
    ]


@pytest.mark.parametrize("bad", [0, -1, math.nan])
def test_run_timeout_must_be_positive(bad: float) -> None:
    with pytest.raises(InvalidRequestError, match="run_timeout must be a number of seconds > 0"):
        Agent("m", run_timeout=bad)


async def test_a_finished_event_is_not_lost_to_the_deadline(
    server: FakeServer, client: ChatClient
) -> None:
    server.enqueue(tool_calls(("quick", {})), delay(30, "late"))
    agent = Agent("m", tools=[quick], client=client, run_timeout=0.5)
    seen: list[AgentEvent] = []
    with anyio.fail_after(5), pytest.raises(RunTimeoutError) as caught:
        async with agent.stream("go") as events:
            async for event in events:
                seen.append(event)
    assert [e.content for e in seen if isinstance(e, ToolCallFinished)] == ["ok"]
    assert caught.value.messages[-1] == {"role": "tool", "tool_call_id": "call_1", "content": "ok"}


@pytest.mark.parametrize("checkpointed", [False, True])
async def test_slow_instructions_count_and_the_error_still_has_the_run(
    server: FakeServer, client: ChatClient, tmp_path: Path, checkpointed: bool
) -> None:
    async def instructions(ctx: Any) -> str:
        await anyio.sleep(30)
        raise AssertionError("unreachable")  # pragma: no cover

    agent = Agent("m", client=client, instructions=instructions, run_timeout=0.2)
    store = FileCheckpointStore(tmp_path) if checkpointed else None
    history = [{"role": "user", "content": "earlier"}]
    with anyio.fail_after(5), pytest.raises(RunTimeoutError) as caught:
        await agent.run("now", history=history, checkpoint=store)  # type: ignore[arg-type]
    assert caught.value.messages == history
    assert caught.value.usage.requests == 0
    assert server.requests == []
    assert [p async for p in anyio.Path(tmp_path).iterdir()] == []  # nothing saved, no claim
