"""The official openai SDK talks to FakeServer: proof that it speaks the real wire protocol."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import anyio
import openai
import pytest
from openai import AsyncOpenAI

from agentkit.testing import FakeServer, http_error, rate_limit, text, tool_calls

MESSAGES: list[openai.types.chat.ChatCompletionMessageParam] = [
    {"role": "user", "content": "What is 1 + 2?"}
]
TOOLS: list[openai.types.chat.ChatCompletionToolParam] = [
    {
        "type": "function",
        "function": {
            "name": "add",
            "description": "Add two numbers.",
            "parameters": {
                "type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"],
            },
        },
    }
]


@pytest.fixture
async def sdk(server: FakeServer) -> AsyncIterator[AsyncOpenAI]:
    async with AsyncOpenAI(base_url=server.url, api_key="sk-test", max_retries=0) as sdk:
        yield sdk


async def test_text(server: FakeServer, sdk: AsyncOpenAI):
    server.enqueue(text("3", usage={"prompt_tokens": 12, "completion_tokens": 1}))
    with anyio.fail_after(5):
        result = await sdk.chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert result.choices[0].message.content == "3"
    assert result.choices[0].finish_reason == "stop"
    assert result.model == "gpt-test"
    assert result.usage is not None and result.usage.total_tokens == 13
    assert server.recorded[0].headers["authorization"] == "Bearer sk-test"


async def test_tool_calls(server: FakeServer, sdk: AsyncOpenAI):
    server.enqueue(tool_calls(("add", {"a": 1, "b": 2}), ("add", {"a": 3, "b": 4})))
    with anyio.fail_after(5):
        result = await sdk.chat.completions.create(model="m", messages=MESSAGES, tools=TOOLS)
    calls = result.choices[0].message.tool_calls or []
    functions = [(c.id, c.function) for c in calls if c.type == "function"]
    assert [(id, f.name, json.loads(f.arguments)) for id, f in functions] == [
        ("call_1", "add", {"a": 1, "b": 2}),
        ("call_2", "add", {"a": 3, "b": 4}),
    ]
    assert result.choices[0].finish_reason == "tool_calls"
    assert server.requests[0]["tools"] == TOOLS


async def test_streamed_text_with_usage(server: FakeServer, sdk: AsyncOpenAI):
    server.enqueue("One plus two is three.")
    with anyio.fail_after(5):
        stream = await sdk.chat.completions.create(
            model="m", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        chunks = [chunk async for chunk in stream]
    deltas = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(deltas) > 1 and "".join(deltas) == "One plus two is three."
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert server.requests[0]["stream"] is True


async def test_streamed_tool_calls_assembled_by_the_sdk(server: FakeServer, sdk: AsyncOpenAI):
    server.enqueue(
        tool_calls(("add", {"a": 1, "b": 2}), ("add", {"a": 30, "b": 40}), reasoning="add both")
    )
    with anyio.fail_after(5):
        async with sdk.chat.completions.stream(model="m", messages=MESSAGES, tools=TOOLS) as stream:
            async for _ in stream:
                pass
            final = await stream.get_final_completion()
    message = final.choices[0].message
    assert [(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or []] == [
        ("call_1", "add", '{"a": 1, "b": 2}'),
        ("call_2", "add", '{"a": 30, "b": 40}'),
    ]
    assert final.choices[0].finish_reason == "tool_calls"


async def test_streamed_annotations_and_logprobs_equal_the_plain_answer(
    server: FakeServer, sdk: AsyncOpenAI
):
    citation = {"url": "https://x", "title": "X", "start_index": 0, "end_index": 2}
    logprobs = {"content": [{"token": "Hi", "logprob": -0.1, "bytes": [72, 105]}]}
    message = {"content": "Hi", "annotations": [{"type": "url_citation", "url_citation": citation}]}
    reply = {"choices": [{"message": message, "logprobs": {**logprobs, "refusal": None}}]}
    server.enqueue(reply, reply)
    with anyio.fail_after(5):
        plain = await sdk.chat.completions.create(model="m", messages=MESSAGES)
        async with sdk.chat.completions.stream(model="m", messages=MESSAGES) as stream:
            async for _ in stream:
                pass
            streamed = await stream.get_final_completion()
    for completion in (plain, streamed):
        choice = completion.choices[0]
        assert choice.message.annotations is not None
        assert choice.message.annotations[0].url_citation.url == "https://x"
        assert choice.logprobs is not None and choice.logprobs.content is not None
        assert [t.token for t in choice.logprobs.content] == ["Hi"]


async def test_models(server: FakeServer):
    server.models = ["alpha", "beta"]
    try:
        async with AsyncOpenAI(base_url=server.url, api_key="sk-test") as sdk:
            with anyio.fail_after(5):
                models = [model.id async for model in sdk.models.list()]
    finally:
        server.models = ["fake-model"]
    assert models == ["alpha", "beta"]


async def test_errors_map_to_sdk_exceptions(server: FakeServer, sdk: AsyncOpenAI):
    server.enqueue(
        rate_limit(retry_after=0, headers={"x-request-id": "req_1"}),
        http_error(404, "The model `nope` does not exist", code="model_not_found"),
    )
    with anyio.fail_after(5):
        with pytest.raises(openai.RateLimitError) as limited:
            await sdk.chat.completions.create(model="m", messages=MESSAGES)
        with pytest.raises(openai.NotFoundError) as missing:
            await sdk.chat.completions.create(model="nope", messages=MESSAGES)
    assert limited.value.request_id == "req_1"
    assert missing.value.code == "model_not_found"
