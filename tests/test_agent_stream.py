"""Agent.stream: events as they happen, and the same result as Agent.run."""

from __future__ import annotations

import contextlib
from typing import assert_type

import pytest

from agentkit.agent import Agent
from agentkit.client import ChatClient
from agentkit.events import (
    AgentEvent,
    ReasoningDelta,
    RunFinished,
    StepFinished,
    TextDelta,
    ToolCallFinished,
    ToolCallStarted,
)
from agentkit.result import RunResult, RunUsage
from agentkit.testing import FakeServer, text, tool_calls
from agentkit.tools import tool


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


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_stream_result_equals_run_result(server: FakeServer) -> None:
    async with ChatClient(base_url=server.url, api_key="k", max_retries=0) as client:
        agent = Agent("m", tools=[add], client=client, instructions="Add.")
        script(server)
        ran = await agent.run("1+2?")
        script(server)
        events = [event async for event in agent.stream("1+2?")]
    assert isinstance(events[-1], RunFinished)
    streamed = events[-1].result
    assert streamed == ran
    assert server.requests[0]["messages"] == server.requests[2]["messages"]
    assert server.requests[2]["stream"] is True


async def test_event_sequence(server: FakeServer, client: ChatClient) -> None:
    script(server)
    events: list[AgentEvent] = [
        e async for e in Agent("m", tools=[add], client=client).stream("go")
    ]
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


def test_typing() -> None:
    agent = Agent("m")
    assert_type(agent, Agent[str])
    typed = Agent("m", output_type=int)
    assert_type(typed, Agent[int])

    async def check() -> None:
        assert_type(await typed.run("x"), RunResult[int])

    assert check is not None
