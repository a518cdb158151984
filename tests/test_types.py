"""Wire types: the response shapes real gateways send, through complete() and stream()."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import pytest

from agentkit.client import ChatClient
from agentkit.types import ChatCompletion, ChatCompletionChunk, Choice, Message, Model
from tests.conftest import mock_transport

USER = [{"role": "user", "content": "Hi"}]
CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
PARTS = [
    {"type": "text", "text": "Hello "},
    {"type": "image_url", "image_url": {"url": "https://x/cat.png"}},
    {"type": "text", "text": "world"},
]


def reply(*, usage: Any = None, **message: Any) -> dict[str, Any]:
    body = {
        "id": "c",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": "stop"}
        ],
    }
    return body if usage is None else {**body, "usage": usage}


def answering(content: bytes, content_type: str = "application/json") -> ChatClient:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=content, headers={"content-type": content_type})

    http = httpx.AsyncClient(transport=mock_transport(handler))
    return ChatClient(base_url="http://test/v1", api_key="k", http_client=http, max_retries=0)


# what the server sent -> the completion it means
SHAPES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "content as a list of parts": (
        reply(content=PARTS),
        reply(content="Hello world", content_parts=PARTS),
    ),
    "tool call id, type and arguments null": (
        reply(
            tool_calls=[{"id": None, "type": None, "function": {"name": "f", "arguments": None}}]
        ),
        reply(tool_calls=[{**CALL, "id": "", "function": {"name": "f", "arguments": ""}}]),
    ),
    "null token counts": (
        reply(
            content="hi",
            usage={"prompt_tokens": 3, "completion_tokens": None, "total_tokens": None},
        ),
        reply(content="hi", usage={"prompt_tokens": 3, "completion_tokens": 0, "total_tokens": 0}),
    ),
    "id, model, object, created, index and role null": (
        {
            "id": None,
            "object": None,
            "created": None,
            "model": None,
            "choices": [{"index": None, "message": {"role": None, "content": "hi"}}],
        },
        {"choices": [{"message": {"content": "hi"}}]},
    ),
    "created as a float": (
        {**reply(content="hi"), "created": 1700000000.75},
        {**reply(content="hi"), "created": 1700000000},
    ),
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
async def test_gateway_shapes_parse(shape: str):
    sent, meant = SHAPES[shape]
    with anyio.fail_after(5):
        completion = await answering(json.dumps(sent).encode()).complete(model="m", messages=USER)
    assert completion.model_dump() == ChatCompletion.model_validate(meant).model_dump()


def message(content: Any) -> Message:
    return Choice.model_validate({"message": {"content": content}}).message


def test_content_parts_are_joined_and_kept():
    parts = [*PARTS, "junk", {"type": "text", "text": 5}]
    assert message(parts).content == "Hello world"
    assert message(parts).model_extra == {"content_parts": parts}
    assert message(parts).to_param() == {"role": "assistant", "content": "Hello world"}
    assert message([]).content == ""
    assert message("plain").model_extra == {}


@pytest.mark.parametrize(
    "body",
    [
        {"created": "soon"},
        {"created": float("inf")},
        {"choices": [{"message": {"content": 5}}]},
        {"choices": [{"message": {}, "index": "first"}]},
        {"usage": {"prompt_tokens": "many"}},
    ],
)
def test_wrong_values_are_still_errors(body: dict[str, Any]):
    with pytest.raises(ValueError):
        ChatCompletion.model_validate(body)


def test_model_created_may_be_a_float_or_null():
    assert Model.model_validate({"id": "m", "created": 1.5}).created == 1
    assert Model.model_validate({"id": "m", "created": None}).created is None


def sse(*events: dict[str, Any]) -> bytes:
    return b"".join(b"data: %s\n\n" % json.dumps(e).encode() for e in events) + b"data: [DONE]\n\n"


async def test_gateway_chunk_shapes_stream():
    def chunk(delta: Any, finish: str | None = None, **envelope: Any) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {"id": "c", "created": 1, "model": "m", "choices": [choice], **envelope}

    body = sse(
        chunk({"role": "assistant", "content": [PARTS[0]]}, id=None, model=None, created=None),
        chunk({"content": PARTS[1:]}),
        chunk({"tool_calls": [{"index": 0, "id": None, "type": None, "function": None}]}),
        chunk(None, "stop"),  # "delta": null
        {
            "choices": None,
            "created": 1700000000.5,
            "usage": {"prompt_tokens": 2, "total_tokens": None},
        },
    )
    client = answering(body, "text/event-stream")
    with anyio.fail_after(5):
        async with client.stream(model="m", messages=USER) as stream:
            received = [chunk async for chunk in stream]
            final = await stream.get_final_completion()
    assert all(isinstance(c, ChatCompletionChunk) for c in received) and len(received) == 5
    assert received[3].choices[0].delta.content is None and received[4].choices == []
    meant = reply(
        content="Hello world",
        content_parts=PARTS,
        tool_calls=[{**CALL, "id": "", "function": {"name": "", "arguments": ""}}],
        usage={"prompt_tokens": 2, "completion_tokens": 0, "total_tokens": 0},
    )
    assert (
        final.model_dump()
        == ChatCompletion.model_validate({**meant, "created": 1700000000}).model_dump()
    )
