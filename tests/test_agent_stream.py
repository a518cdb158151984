"""Agent.stream: events as they happen, and the same result as Agent.run."""

from __future__ import annotations

import contextlib
from collections.abc import Coroutine
from typing import Any, assert_type

import anyio
import anyio.lowlevel
import pytest

from agentkit.agent import Agent
from agentkit.client import ChatClient
from agentkit.errors import MaxStepsExceeded
from agentkit.events import (
    AgentEvent,
    AgentStream,
    ReasoningDelta,
    RunFinished,
    StepFinished,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
)
from agentkit.result import RunResult, RunUsage
from agentkit.testing import FakeServer, text, tool_calls
from agentkit.tools import Tool, tool


@tool
async def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def script(server: FakeServer) -> None:
    server.enqueue(
        tool_calls(("add", {"a": 1, "b": 2}), ("nope", {}), reasoning="I should add"),
        text(
            "The sum is three, as computed.",
            reasoning="Done thinking",
            usage={"prompt_tokens": 7, "completion_tokens": 3},
        ),
    )


def never_answering() -> tuple[Tool[[], Coroutine[Any, Any, str]], anyio.Event]:
    """A tool that waits forever, and the event it sets when it is cancelled."""
    cancelled = anyio.Event()

    @tool
    async def forever() -> str:
        """Never answer."""
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()
        raise AssertionError("unreachable")  # pragma: no cover

    return forever, cancelled


async def read(stream: AgentStream, *, live: bool) -> list[AgentEvent]:
    """Every event of ``stream``, read inside ``async with`` (live) or plainly."""
    if live:
        async with stream as events:
            return [event async for event in events]
    return [event async for event in stream]


@pytest.mark.parametrize("live", [False, True], ids=["plain", "live"])
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_stream_result_equals_run_result(server: FakeServer, live: bool) -> None:
    async with ChatClient(base_url=server.url, api_key="k", max_retries=0) as client:
        agent = Agent("m", tools=[add], client=client, instructions="Add.")
        script(server)
        ran = await agent.run("1+2?")
        script(server)
        events = await read(agent.stream("1+2?"), live=live)
    assert isinstance(events[-1], RunFinished)
    streamed = events[-1].result
    assert streamed == ran
    assert server.requests[0]["messages"] == server.requests[2]["messages"]
    assert server.requests[2]["stream"] is True


@pytest.mark.parametrize("live", [False, True], ids=["plain", "live"])
async def test_event_sequence(server: FakeServer, client: ChatClient, live: bool) -> None:
    script(server)
    events = await read(Agent("m", tools=[add], client=client).stream("go"), live=live)
    kinds = [type(e).__name__ for e in events]
    # Deltas first, then the step, then the turn's tool calls, then the next step.
    first_step = kinds.index("StepFinished")
    assert set(kinds[:first_step]) == {"ReasoningDelta"}
    assert kinds[first_step + 1 : first_step + 5] == [
        "ToolCallStarted",
        "ToolCallStarted",
        "ToolCallFinished",
        "ToolCallFinished",
    ]
    second_step = len(kinds) - 2
    assert kinds[second_step:] == ["StepFinished", "RunFinished"]
    middle = set(kinds[first_step + 5 : second_step])
    assert middle == {"ReasoningDelta", "TextDelta"}

    deltas = "".join(e.text for e in events if isinstance(e, TextDelta))
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert deltas == "The sum is three, as computed."
    assert reasoning == "I should addDone thinking"

    started = [e for e in events if isinstance(e, ToolCallStarted)]
    assert [(e.call_id, e.name, e.arguments) for e in started] == [
        ("call_1", "add", '{"a": 1, "b": 2}'),
        ("call_2", "nope", "{}"),
    ]
    finished = {e.call_id: e for e in events if isinstance(e, ToolCallFinished)}
    assert finished["call_1"].content == "3" and not finished["call_1"].is_error
    assert finished["call_2"].is_error
    assert all(e.duration >= 0 for e in finished.values())

    steps = [e for e in events if isinstance(e, StepFinished)]
    assert [s.step for s in steps] == [1, 2]
    assert steps[1].usage == RunUsage(
        requests=1, prompt_tokens=7, completion_tokens=3, total_tokens=10
    )
    assert steps[0].message.reasoning_content == "I should add"
    assert steps[1].message.content == "The sum is three, as computed."
    result = events[-1]
    assert isinstance(result, RunFinished)
    assert result.result.reasoning == "Done thinking"


async def test_stopping_early_releases_the_response(server: FakeServer, client: ChatClient) -> None:
    server.enqueue("a long answer " * 50)
    agent = Agent("m", client=client)
    async with contextlib.aclosing(agent.stream("go")) as events:
        async for event in events:
            if isinstance(event, TextDelta):
                break
    server.enqueue("next")
    assert (await agent.run("again")).output == "next"  # the connection pool is still usable


@pytest.mark.parametrize("live", [False, True], ids=["plain", "live"])
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_tool_call_started_arrives_before_the_call_runs(
    server: FakeServer, live: bool
) -> None:
    released = anyio.Event()

    @tool
    async def wait() -> str:
        """Wait until the reader has seen the call start."""
        await released.wait()
        return "ran"

    server.enqueue(tool_calls(("wait", {})), "done")
    async with ChatClient(base_url=server.url, api_key="k", max_retries=0) as client:
        stream = Agent("m", tools=[wait], client=client).stream("go")
        with anyio.fail_after(5):  # a ToolCallStarted sent only after the call would hang here
            async with stream if live else contextlib.aclosing(stream) as events:
                async for event in events:
                    if isinstance(event, ToolCallStarted):
                        released.set()
                    if isinstance(event, RunFinished):
                        assert event.result.output == "done"
    assert server.requests[1]["messages"][-1]["content"] == "ran"


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_live_stream_reports_each_call_as_it_ends(server: FakeServer) -> None:
    released = anyio.Event()

    @tool
    async def fast() -> str:
        """Answer at once."""
        return "fast"

    @tool
    async def slow() -> str:
        """Answer once the reader has seen `fast` finish: only a live stream gets there."""
        await released.wait()
        return "slow"

    server.enqueue(tool_calls(("slow", {}), ("fast", {})), "done")
    finished: list[str] = []
    async with ChatClient(base_url=server.url, api_key="k", max_retries=0) as client:
        agent = Agent("m", tools=[fast, slow], client=client)
        with anyio.fail_after(5):
            async with agent.stream("go") as events:
                async for event in events:
                    if isinstance(event, ToolCallFinished):
                        finished.append(event.content)
                        released.set()
    assert finished == ["fast", "slow"]  # as they ended, not in call order
    tool_messages = [m["content"] for m in server.requests[1]["messages"] if m["role"] == "tool"]
    assert tool_messages == ["slow", "fast"]  # the replies themselves stay in call order


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_live_stream_raises_run_errors_where_you_iterate(server: FakeServer) -> None:
    server.enqueue(tool_calls(("add", {"a": 1, "b": 2})))
    async with ChatClient(base_url=server.url, api_key="k", max_retries=0) as client:
        agent = Agent("m", tools=[add], client=client, max_steps=1)
        seen: list[AgentEvent] = []
        with pytest.raises(MaxStepsExceeded) as caught:  # itself, not an ExceptionGroup
            async with agent.stream("go") as events:
                async for event in events:
                    seen.append(event)
    assert [m["role"] for m in caught.value.messages] == ["user", "assistant", "tool"]
    assert isinstance(seen[-1], ToolCallFinished)
    assert not caught.value.__suppress_context__  # raised as the run raised it


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_leaving_a_live_stream_stops_the_run(server: FakeServer) -> None:
    forever, cancelled = never_answering()
    server.enqueue(tool_calls(("forever", {})), "after")
    async with ChatClient(base_url=server.url, api_key="k", max_retries=0) as client:
        agent = Agent("m", tools=[forever], client=client)
        with anyio.fail_after(5):
            async with agent.stream("go") as events:
                async for event in events:
                    if isinstance(event, ToolCallStarted):
                        await anyio.sleep(0.05)  # the call is running now
                        break
        assert cancelled.is_set()
        # The run stopped before its second request, so that reply is still in the script.
        assert (await agent.run("again")).output == "after"


async def test_cancelling_a_live_stream_cancels_its_tools(
    server: FakeServer, client: ChatClient
) -> None:
    forever, cancelled = never_answering()
    server.enqueue(tool_calls(("forever", {})))
    with anyio.fail_after(5):
        with anyio.move_on_after(0.3) as scope:
            async with Agent("m", tools=[forever], client=client).stream("go") as events:
                async for _ in events:
                    pass
    assert scope.cancelled_caught and cancelled.is_set()


async def test_closing_a_live_stream_stops_the_run_but_not_the_block(
    server: FakeServer, client: ChatClient
) -> None:
    forever, cancelled = never_answering()
    server.enqueue(tool_calls(("forever", {})))
    after_close = False
    with anyio.fail_after(5):
        async with Agent("m", tools=[forever], client=client).stream("go") as events:
            async for event in events:
                if isinstance(event, ToolCallStarted):
                    await events.aclose()
            assert cancelled.is_set()
            await anyio.lowlevel.checkpoint()  # would raise here if the block were cancelled
            after_close = True
    assert after_close


class Abort(BaseException):
    """Not an Exception: tools let it through, as they do KeyboardInterrupt."""


async def test_a_base_exception_from_a_tool_leaves_a_live_stream_as_itself(
    server: FakeServer, client: ChatClient
) -> None:
    @tool
    async def leave() -> str:
        """Abort."""
        raise Abort

    server.enqueue(tool_calls(("leave", {})))
    with pytest.raises(Abort):  # as `run` raises it, not in an ExceptionGroup
        async with Agent("m", tools=[leave], client=client).stream("go") as events:
            async for _ in events:
                pass


async def test_an_error_in_the_block_propagates_unwrapped(
    server: FakeServer, client: ChatClient
) -> None:
    server.enqueue("hello")
    with pytest.raises(KeyError, match="mine"):
        async with Agent("m", client=client).stream("go") as events:
            async for _ in events:
                raise KeyError("mine")


async def test_a_stream_is_entered_before_it_is_read(
    server: FakeServer, client: ChatClient
) -> None:
    server.enqueue("hello")
    stream = Agent("m", client=client).stream("go")
    async with contextlib.aclosing(stream):
        await stream.__anext__()
        with pytest.raises(RuntimeError, match="before iterating"):
            async with stream:
                pass  # pragma: no cover


def test_typing() -> None:
    agent = Agent("m")
    assert_type(agent, Agent[str])
    typed = Agent("m", output_type=int)
    assert_type(typed, Agent[int])

    async def check() -> None:
        assert_type(await typed.run("x"), RunResult[int])

    assert check is not None
