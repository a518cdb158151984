"""ChatStream.text_deltas: plain chunks merged as data give what the typed path gives."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentkit import errors
from agentkit._accumulate import StreamAccumulator, plain_chunk
from agentkit.client import ChatClient
from agentkit.types import ChatCompletionChunk
from tests.test_stream import STREAMS, USER, Replay, chunk

texts = st.none() | st.text(max_size=3)
# Values of every JSON type, for fields whose type is what decides between the two paths.
anything = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=2)
functions = st.fixed_dictionaries({}, optional={"name": texts, "arguments": texts | anything})
calls: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {},
    optional={
        "index": st.none() | st.integers(0, 2) | anything,
        "id": texts,
        "type": texts,
        "function": st.none() | functions,
    },
)
deltas: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {},
    optional={
        "role": texts,
        "content": texts | anything,
        "reasoning_content": texts,
        "reasoning": texts,
        "refusal": texts,
        "tool_calls": st.none() | st.lists(calls, max_size=2),
        "annotations": st.lists(st.text(max_size=2), max_size=1),  # a provider's field
    },
)
choices: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries(
    {},
    optional={
        "index": st.integers(0, 1) | anything,
        "delta": st.none() | deltas,
        "finish_reason": texts,
        "logprobs": st.none() | st.just({"content": []}),
    },
)
chunks = st.fixed_dictionaries(
    {"choices": st.lists(choices, max_size=2)},
    optional={
        "id": texts,
        "object": texts,
        "model": texts,
        "created": st.integers(0, 2**40) | anything,
        "system_fingerprint": texts,
        "usage": st.none()
        | st.just({"prompt_tokens": 1, "completion_tokens": 2})
        | st.fixed_dictionaries(
            {},
            optional={
                "prompt_tokens": st.none() | st.integers(0, 9) | anything,
                "total_tokens": st.integers(0, 9),
                "prompt_tokens_details": st.just({"cached_tokens": 1}),
            },
        ),
    },
)


def is_plain(data: Any) -> bool:
    """Whether the chunk ``data``, sent as JSON, is read as a plain one."""
    return plain_chunk(json.dumps(data).encode()) is not None


def assembled(accumulator: StreamAccumulator) -> dict[str, Any]:
    return accumulator.completion().model_dump()


@settings(max_examples=300, deadline=None)
@given(st.lists(chunks, min_size=1, max_size=4))
def test_a_plain_chunk_merged_as_data_equals_the_typed_chunk(stream: list[dict[str, Any]]):
    typed, mixed = StreamAccumulator(), StreamAccumulator()
    for data in stream:
        try:
            parsed = ChatCompletionChunk.model_validate(data)
        except ValueError:
            assert not is_plain(data), data  # what the model refuses is never plain
            return
        typed.add(parsed)
        plain = plain_chunk(json.dumps(data).encode())
        if plain is not None:
            mixed.add_plain(plain)
        else:
            mixed.add(parsed)
    assert assembled(mixed) == assembled(typed)
    assert mixed.finished == typed.finished


def test_the_standard_fields_are_plain_and_anything_else_is_not():
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    call = {"index": 0, "id": "x", "type": "function", "function": {"name": "f", "arguments": ""}}
    delta = {"role": "assistant", "content": None, "tool_calls": [call]}
    plain = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
    assert is_plain(plain)
    assert is_plain({**base, "system_fingerprint": "fp", "choices": []})
    assert is_plain({**base, "choices": [], "usage": {"prompt_tokens": 1}})
    for other in [
        {**base, "choices": [], "usage": {"prompt_tokens_details": {"cached_tokens": 1}}},
        {**base, "choices": [], "usage": {"prompt_tokens": None}},  # the model fills 0
        {**base, "choices": [], "error": {"message": "x"}},  # an error in the stream
        {**base, "id": None, "choices": []},  # null id: the model fills ""
        {**base, "created": 1.5, "choices": []},  # a float timestamp: truncated
        {**base, "created": True, "choices": []},
        {**base, "choices": [{"index": 0, "delta": {"content": [{"type": "text"}]}}]},
        {**base, "choices": [{"index": 0, "delta": {"content": "x"}, "logprobs": {}}]},
        {**base, "choices": [{"index": 0, "delta": {"x_provider": 1}}]},
        [],
    ]:
        assert not is_plain(other), other


async def read_as_text(replay: Replay, raw: bytes) -> tuple[str, str, Any, Any]:
    """(reasoning, text) joined from text_deltas, then the final completion or the error."""
    replay.pieces = [raw[i : i + 7] for i in range(0, len(raw), 7)]
    reasoning, text = [], []
    try:
        async with replay.client.stream(model="m", messages=USER) as stream:
            async for thought, words in stream.text_deltas():
                assert thought or words
                reasoning.append(thought or "")
                text.append(words or "")
            final = (await stream.get_final_completion()).model_dump()
    except errors.AgentKitError as exc:
        return "".join(reasoning), "".join(text), None, (type(exc), str(exc))
    return "".join(reasoning), "".join(text), final, None


async def read_as_chunks(replay: Replay, raw: bytes) -> tuple[str, str, Any, Any]:
    replay.pieces = [raw]
    reasoning, text = [], []
    try:
        async with replay.client.stream(model="m", messages=USER) as stream:
            async for item in stream:
                if item.choices:
                    reasoning.append(item.choices[0].delta.reasoning_text or "")
                    text.append(item.choices[0].delta.content or "")
            final = (await stream.get_final_completion()).model_dump()
    except errors.AgentKitError as exc:
        return "".join(reasoning), "".join(text), None, (type(exc), str(exc))
    return "".join(reasoning), "".join(text), final, None


@pytest.mark.parametrize("name", sorted(p.name for p in STREAMS.glob("*.sse")))
async def test_text_deltas_read_every_fixture_as_the_chunks_do(name: str):
    raw = (STREAMS / name).read_bytes()
    replay = Replay()
    assert await read_as_text(replay, raw) == await read_as_chunks(replay, raw)


async def test_a_stream_is_read_one_way():
    replay = Replay([chunk(content="Hi") + b"data: [DONE]\n\n"])
    async with replay.client.stream(model="m", messages=USER) as stream:
        assert [c.choices[0].delta.content async for c in stream] == ["Hi"]
        with pytest.raises(RuntimeError, match="from its start"):
            stream.text_deltas()
    async with replay.client.stream(model="m", messages=USER) as stream:
        deltas = stream.text_deltas()
        with pytest.raises(RuntimeError, match="read with text_deltas"):
            await anext(stream)
        assert [piece async for piece in deltas] == [(None, "Hi")]  # nothing read was lost


async def test_a_json_answer_to_a_stream_gives_its_text_once():
    body = {"choices": [{"message": {"content": "whole", "reasoning_content": "why"}}]}

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=body)

    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = ChatClient(base_url="http://test/v1", api_key="k", http_client=http)
    async with client.stream(model="m", messages=USER) as stream:
        assert [piece async for piece in stream.text_deltas()] == [("why", "whole")]
        final = await stream.get_final_completion()
    assert final.choices[0].message.content == "whole"
