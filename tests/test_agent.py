"""The agent loop end to end over loopback: steps, tool replies, limits, errors, typing."""

from __future__ import annotations

import gc
import json
from typing import Any, cast

import anyio
import pytest

from agentkit.agent import Agent
from agentkit.client import ChatClient
from agentkit.errors import (
    APIConnectionError,
    AuthenticationError,
    InvalidRequestError,
    MaxStepsExceeded,
    RateLimitError,
    StreamInterruptedError,
    ToolDefinitionError,
    UsageLimitExceeded,
)
from agentkit.result import RunResult, RunUsage, UsageLimits
from agentkit.testing import (
    FakeServer,
    disconnect,
    http_error,
    rate_limit,
    text,
    tool_calls,
    truncated,
)
from agentkit.tools import tool
from agentkit.types import MessageParam
from tests.conftest import run


@tool
def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


@tool
async def echo(word: str) -> str:
    """Echo a word back."""
    return word


def usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion}


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.parametrize("stream", [False, True])
async def test_tool_replies_keep_call_order(server: FakeServer, stream: bool) -> None:
    server.enqueue(tool_calls(("add", {"a": 1, "b": 2}), ("add", {"a": 3, "b": 4})))
    server.enqueue(text("3 and 7"))
    async with ChatClient(base_url=server.url, api_key="sk-test", max_retries=0) as client:
        result = await run(Agent("m", tools=[add], client=client), "add", stream=stream)
    assert result.output == "3 and 7"
    assert server.requests[1]["messages"][-2:] == [
        {"role": "tool", "tool_call_id": "call_1", "content": "3"},
        {"role": "tool", "tool_call_id": "call_2", "content": "7"},
    ]
    assert result.steps == 2


@pytest.mark.parametrize("stream", [False, True])
async def test_result_messages_usage_and_wire(
    server: FakeServer, client: ChatClient, stream: bool
) -> None:
    server.enqueue(tool_calls(("echo", {"word": "hi"})) | {"usage": usage(10, 5)})
    server.enqueue(text("done", usage=usage(20, 2)))
    agent = Agent("m", instructions="Be brief.", tools=[echo], client=client)
    result = await run(agent, "say hi", stream=stream)
    assert isinstance(result, RunResult)
    assert result.usage == RunUsage(
        requests=2, prompt_tokens=30, completion_tokens=7, total_tokens=37
    )
    assert result.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "say hi"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "echo", "arguments": '{"word": "hi"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "hi"},
        {"role": "assistant", "content": "done"},
    ]
    assert result.new_messages == result.messages[1:]
    first = server.requests[0]
    assert first["model"] == "m"
    assert first["tools"] == [echo.definition()]
    assert "tool_choice" not in first
    assert server.requests[1]["messages"] == result.messages[:-1]
    assert json.loads(json.dumps(result.to_dict()))["output"] == "done"


@pytest.mark.parametrize("stream", [False, True])
async def test_usage_sums_reasoning_and_cached_tokens(
    server: FakeServer, client: ChatClient, stream: bool
) -> None:
    def detailed(prompt: int, completion: int, reasoning: int, cached: int) -> dict[str, Any]:
        return {
            **usage(prompt, completion),
            "completion_tokens_details": {"reasoning_tokens": reasoning},
            "prompt_tokens_details": {"cached_tokens": cached},
        }

    server.enqueue(tool_calls(("echo", {"word": "hi"})) | {"usage": detailed(10, 5, 3, 0)})
    server.enqueue(text("done", usage=detailed(20, 2, 1, 8)))
    result = await run(Agent("m", tools=[echo], client=client), "say hi", stream=stream)
    assert result.usage == RunUsage(
        requests=2,
        prompt_tokens=30,
        completion_tokens=7,
        total_tokens=37,
        reasoning_tokens=4,
        cached_tokens=8,
    )
    assert result.to_dict()["usage"]["reasoning_tokens"] == 4


async def test_messages_survive_json_and_continue_with_history(
    server: FakeServer, client: ChatClient
) -> None:
    server.enqueue(tool_calls(("add", {"a": 2, "b": 2})), "4", "8")
    agent = Agent("m", instructions="Count.", tools=[add], client=client)
    first = await agent.run("2+2?")
    saved = json.loads(json.dumps(first.messages))
    second = await agent.run("double it", history=saved)
    assert second.output == "8"
    assert server.requests[-1]["messages"] == [
        *first.messages,
        {"role": "user", "content": "double it"},
    ]
    assert second.new_messages == [
        {"role": "user", "content": "double it"},
        {"role": "assistant", "content": "8"},
    ]
    assert second.steps == 1


async def test_instructions_function_and_history_system_message_replaced(
    server: FakeServer, client: ChatClient
) -> None:
    async def instructions(ctx: Any) -> str:
        return f"You serve {ctx.deps}."

    server.enqueue("hello")
    history = [
        {"role": "system", "content": "old"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hey"},
    ]
    agent = Agent("m", instructions=instructions, client=client)
    await agent.run("again", history=history, deps="Ada")  # type: ignore[arg-type]
    assert server.requests[0]["messages"][0] == {"role": "system", "content": "You serve Ada."}
    assert len(server.requests[0]["messages"]) == 4
    assert history[0]["content"] == "old"  # the caller's list is not modified

    server.enqueue("ok")
    sync_agent = Agent("m", instructions=lambda ctx: "sync", client=client)
    await sync_agent.run([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])
    assert [m["content"] for m in server.requests[1]["messages"]] == ["sync", "a", "b"]


@pytest.mark.parametrize("stream", [False, True])
async def test_max_steps_raises_with_messages(
    server: FakeServer, client: ChatClient, stream: bool
) -> None:
    server.enqueue(*[tool_calls(("add", {"a": i, "b": 1})) for i in range(3)])
    agent = Agent("m", tools=[add], client=client, max_steps=3)
    with pytest.raises(MaxStepsExceeded) as caught:
        await run(agent, "loop", stream=stream)
    assert caught.value.max_steps == 3
    assert len(server.requests) == 3
    assert caught.value.messages[-1] == {"role": "tool", "tool_call_id": "call_1", "content": "3"}
    assert len(caught.value.messages) == 1 + 3 * 2
    assert caught.value.usage.requests == 3


@pytest.mark.parametrize("stream", [False, True])
async def test_max_steps_final_answer(server: FakeServer, client: ChatClient, stream: bool) -> None:
    server.enqueue(tool_calls(("add", {"a": 1, "b": 1})), tool_calls(("add", {"a": 2, "b": 2})))
    server.enqueue("best guess: 4")
    agent = Agent("m", tools=[add], client=client, max_steps=2, on_max_steps="final_answer")
    result = await run(agent, "go", stream=stream)
    assert result.output == "best guess: 4"
    assert result.steps == 3
    assert [r.get("tool_choice") for r in server.requests] == [None, None, "none"]


async def test_max_steps_final_answer_that_still_calls_tools_raises(
    server: FakeServer, client: ChatClient
) -> None:
    server.enqueue(tool_calls(("add", {"a": 1, "b": 1})), tool_calls(("add", {"a": 2, "b": 2})))
    agent = Agent("m", tools=[add], client=client, max_steps=1, on_max_steps="final_answer")
    with pytest.raises(MaxStepsExceeded) as caught:
        await agent.run("go")
    messages = caught.value.messages
    assert messages[-2]["tool_calls"][0]["function"]["name"] == "add"
    # The calls it made anyway are answered, so the messages are a valid history: the next
    # request (schema-checked by the server fixture) carries no unanswered tool call.
    assert messages[-1] == {
        "role": "tool",
        "tool_call_id": messages[-2]["tool_calls"][0]["id"],
        "content": "not run: the run reached max_steps=1",
    }
    assert len(server.requests) == 2
    server.enqueue("done")
    assert (await agent.run(history=cast(list[MessageParam], messages))).output == "done"


@pytest.mark.parametrize("choice", ["required", {"type": "function", "function": {"name": "add"}}])
async def test_forced_tool_choice_applies_to_first_request_only(
    server: FakeServer, client: ChatClient, choice: Any
) -> None:
    server.enqueue(tool_calls(("add", {"a": 1, "b": 1})), tool_calls(("add", {"a": 1, "b": 2})))
    server.enqueue("2 and 3")
    agent = Agent("m", tools=[add], client=client, tool_choice=choice)
    await agent.run("go")
    assert [r["tool_choice"] for r in server.requests] == [choice, "auto", "auto"]


async def test_unforced_tool_choice_is_kept(server: FakeServer, client: ChatClient) -> None:
    server.enqueue(tool_calls(("add", {"a": 1, "b": 1})), "2")
    await Agent("m", tools=[add], client=client, tool_choice="auto").run("go")
    assert [r["tool_choice"] for r in server.requests] == ["auto", "auto"]


async def test_settings_are_sent(server: FakeServer, client: ChatClient) -> None:
    server.enqueue("ok")
    agent = Agent("m", client=client, settings={"temperature": 0.5, "max_tokens": 7})
    await agent.run("hi")
    assert server.requests[0]["temperature"] == 0.5
    assert server.requests[0]["max_tokens"] == 7
    assert "tools" not in server.requests[0]


async def test_usage_limit_requests(server: FakeServer, client: ChatClient) -> None:
    server.enqueue(tool_calls(("add", {"a": 1, "b": 1})), tool_calls(("add", {"a": 1, "b": 1})))
    agent = Agent("m", tools=[add], client=client, usage_limits=UsageLimits(max_requests=2))
    with pytest.raises(UsageLimitExceeded) as caught:
        await agent.run("go")
    assert caught.value.limit == "max_requests"
    assert len(server.requests) == 2
    assert len(caught.value.messages) == 5
    assert caught.value.usage.requests == 2


async def test_usage_limit_tokens(server: FakeServer, client: ChatClient) -> None:
    server.enqueue(tool_calls(("add", {"a": 1, "b": 1})) | {"usage": usage(90, 20)})
    limits = UsageLimits(max_total_tokens=100)
    agent = Agent("m", tools=[add], client=client, usage_limits=limits)
    with pytest.raises(UsageLimitExceeded) as caught:
        await agent.run("go")
    assert caught.value.limit == "max_total_tokens"
    assert len(server.requests) == 1
    assert caught.value.messages[-1]["role"] == "tool"


@pytest.mark.parametrize("stream", [False, True])
async def test_fatal_auth_error_carries_messages(
    server: FakeServer, client: ChatClient, stream: bool
) -> None:
    server.enqueue(tool_calls(("add", {"a": 1, "b": 1})), http_error(401))
    with pytest.raises(AuthenticationError) as caught:
        await run(Agent("m", tools=[add], client=client), "go", stream=stream)
    assert [m["role"] for m in caught.value.messages] == ["user", "assistant", "tool"]


@pytest.mark.parametrize("stream", [False, True])
async def test_rate_limit_then_success_mid_run(server: FakeServer, stream: bool) -> None:
    server.enqueue(tool_calls(("add", {"a": 1, "b": 1})), rate_limit(retry_after=0), "2")
    async with ChatClient(base_url=server.url, api_key="k", max_retries=1) as client:
        result = await run(Agent("m", tools=[add], client=client), "go", stream=stream)
    assert result.output == "2"
    assert len(server.requests) == 3
    assert result.usage.requests == 2


async def test_exhausted_retries_raise_with_messages(server: FakeServer) -> None:
    server.enqueue(tool_calls(("add", {"a": 1, "b": 1})), *[rate_limit(retry_after=0)] * 2)
    async with ChatClient(base_url=server.url, api_key="k", max_retries=1) as client:
        with pytest.raises(RateLimitError) as caught:
            await Agent("m", tools=[add], client=client).run("go")
    assert caught.value.messages[-1]["role"] == "tool"


@pytest.mark.parametrize("stream", [False, True])
async def test_dropped_connection_mid_run(
    server: FakeServer, client: ChatClient, stream: bool
) -> None:
    server.enqueue(tool_calls(("add", {"a": 1, "b": 1})), disconnect())
    with pytest.raises(APIConnectionError) as caught:
        await run(Agent("m", tools=[add], client=client), "go", stream=stream)
    assert caught.value.messages[-1]["role"] == "tool"


async def test_truncated_stream_raises_interrupted_with_messages(
    server: FakeServer, client: ChatClient
) -> None:
    server.enqueue(tool_calls(("add", {"a": 1, "b": 1})), truncated("a long answer", after=2))
    events = []
    with pytest.raises(StreamInterruptedError) as caught:
        async for event in Agent("m", tools=[add], client=client).stream("go"):
            events.append(event)
    assert caught.value.partial is not None
    assert caught.value.messages[-1]["role"] == "tool"
    assert events  # what arrived before the break was yielded


async def test_duplicate_tool_names_rejected() -> None:
    other = tool(lambda a, b: a, name="add")
    with pytest.raises(ToolDefinitionError):
        Agent("m", tools=[add, other])


@pytest.mark.parametrize(
    "option", [{"max_steps": 0}, {"max_concurrency": 0}, {"output_retries": -1}]
)
def test_bad_options_rejected(option: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestError):
        Agent("m", **option)


def test_run_sync_from_plain_code(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTKIT_BASE_URL", server.url)
    server.enqueue(tool_calls(("add", {"a": 1, "b": 1})), "2", "again")
    agent = Agent("m", tools=[add])
    assert agent.run_sync("go").output == "2"
    # One client serves both: each run_sync's loop gets its own pool.
    assert agent.run_sync("x").output == "again"
    assert len(server.requests) == 3


def test_the_agents_own_client_follows_the_event_loop(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTKIT_BASE_URL", server.url)
    server.enqueue("one", "two", "three", "four")
    agent = Agent("m")
    # One client, a pool per loop, each closed as its loop ends: no ResourceWarning (an error
    # under this suite's filterwarnings) when the pools are collected.
    outputs = [anyio.run(agent.run, "a").output]
    outputs.append(anyio.run(agent.run, "b", backend="trio").output)
    outputs.append(anyio.run(agent.run, "c").output)
    outputs.append(agent.run_sync("d").output)
    gc.collect()
    assert outputs == ["one", "two", "three", "four"]


async def test_a_given_client_is_never_replaced(client: ChatClient) -> None:
    agent = Agent("m", client=client)
    assert agent.client is client


async def test_run_sync_inside_event_loop_raises() -> None:
    with pytest.raises(RuntimeError, match="await agent.run"):
        Agent("m").run_sync("hi")


async def test_default_client_comes_from_the_environment(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTKIT_BASE_URL", server.url)
    monkeypatch.setenv("AGENTKIT_API_KEY", "sk-env")
    server.enqueue("hi")
    agent = Agent("m")
    assert agent.client is agent.client
    assert (await agent.run("hello")).output == "hi"
    assert server.recorded[-1].headers["authorization"] == "Bearer sk-env"
    await agent.client.aclose()


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_cancelling_a_run_cancels_the_http_request(server: FakeServer) -> None:
    from agentkit.testing import delay

    server.enqueue(delay(30, "late"))
    async with ChatClient(base_url=server.url, api_key="k", max_retries=0) as client:
        with anyio.move_on_after(0.2) as scope:
            await Agent("m", client=client).run("slow")
        assert scope.cancelled_caught


async def test_completion_without_choices_is_an_error_with_messages(
    server: FakeServer, client: ChatClient
) -> None:
    from agentkit.errors import APIResponseError

    server.enqueue({"object": "chat.completion", "choices": []})
    with pytest.raises(APIResponseError) as caught:
        await Agent("m", client=client).run("hi")
    assert caught.value.messages == [{"role": "user", "content": "hi"}]


async def test_final_answer_request_without_tools_sends_no_tool_choice(
    server: FakeServer, client: ChatClient
) -> None:
    server.enqueue("not a number", '{"result": 7}')
    agent = Agent("m", client=client, output_type=int, max_steps=1, on_max_steps="final_answer")
    result = await agent.run("pick a number")
    assert result.output == 7
    assert "tool_choice" not in server.requests[1]
    assert server.requests[1]["messages"][-1]["role"] == "user"  # the validation error


async def test_developer_message_in_history_is_replaced_by_instructions(
    server: FakeServer, client: ChatClient
) -> None:
    server.enqueue("ok")
    history: list[Any] = [{"role": "developer", "content": "old"}]
    await Agent("m", instructions="new", client=client).run("hi", history=history)
    assert server.requests[0]["messages"][0] == {"role": "system", "content": "new"}
    assert repr(Agent("m", tools=[add])) == "Agent(model='m', tools=['add'])"
