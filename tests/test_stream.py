"""ChatStream's failure policy on the bytes a server sends: errors after data, sizes, depth.

What a caller sees must never depend on where the network split the bytes, so the same body
is delivered split at every offset.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentkit import errors
from agentkit.client import ChatClient
from agentkit.types import ChatCompletionChunk
from tests.conftest import mock_transport

USER = [{"role": "user", "content": "hi"}]
BASE = {"id": "c-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}


def chunk(**delta: object) -> bytes:
    body = {**BASE, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


class Replay:
    """A client whose every stream answers with ``pieces`` (one network read each), settable.

    One client serves every split of a test: building an httpx client per split (an SSL
    context each) would cost more than the streams themselves. The request is the same every
    time: ``checked`` puts it through `mock_transport`'s schema check (once is enough).
    """

    def __init__(
        self, pieces: Sequence[bytes] = (), *, checked: bool = False, **options: Any
    ) -> None:
        self.pieces = list(pieces)

        def handler(request: httpx.Request) -> httpx.Response:
            async def body() -> AsyncIterator[bytes]:
                for piece in list(self.pieces):
                    yield piece

            headers = {"content-type": "text/event-stream"}
            return httpx.Response(200, headers=headers, content=body())

        transport = mock_transport(handler) if checked else httpx.MockTransport(handler)
        http = httpx.AsyncClient(transport=transport)
        options = {"base_url": "http://test/v1", "api_key": "k", "max_retries": 0, **options}
        self.client = ChatClient(http_client=http, **options)

    async def drain(
        self, pieces: Sequence[bytes]
    ) -> tuple[list[ChatCompletionChunk], BaseException | None]:
        self.pieces = list(pieces)
        return await drain(self.client)


def served(pieces: Sequence[bytes], **options: Any) -> ChatClient:
    """A client whose every stream answers with ``pieces``, one network read each."""
    return Replay(pieces, checked=True, **options).client


async def drain(client: ChatClient) -> tuple[list[ChatCompletionChunk], BaseException | None]:
    """The chunks yielded before the stream ended, and the error it ended with."""
    seen: list[ChatCompletionChunk] = []
    try:
        async with client.stream(model="m", messages=USER) as stream:
            async for item in stream:
                seen.append(item)
    except errors.AgentKitError as exc:
        return seen, exc
    return seen, None


def splits(raw: bytes) -> list[list[bytes]]:
    """``raw`` split in two at every offset, then one byte per read."""
    return [[raw[:cut], raw[cut:]] for cut in range(len(raw) + 1)] + [
        [raw[i : i + 1] for i in range(len(raw))]
    ]


BEFORE = chunk(role="assistant", content="Hel") + chunk(content="lo")
ENDINGS = {
    "error event": (
        b'event: error\ndata: {"error": {"message": "overloaded", "code": 529}}\n\n',
        errors.APIStreamError,
    ),
    "error object": (
        b'data: {"error": {"message": "Token limit reached", "code": 400}, "choices": []}\n\n'
        + b'data: {"choices": [{"index": 0, "delta": {"content": "never"}}]}\n\n',
        errors.APIStreamError,
    ),
    "malformed chunk": (b"data: {not json\n\ndata: [DONE]\n\n", errors.APIResponseError),
}


@pytest.mark.parametrize("ending", ENDINGS)
async def test_chunks_before_an_error_are_yielded_whatever_the_read_boundaries(ending: str):
    tail, kind = ENDINGS[ending]
    raw = BEFORE + tail
    replay = Replay()
    for pieces in splits(raw):
        seen, error = await replay.drain(pieces)
        assert [c.choices[0].delta.content for c in seen] == ["Hel", "lo"], pieces
        assert isinstance(error, kind), pieces


async def test_get_final_completion_raises_the_error_after_reading_all():
    raw = BEFORE + ENDINGS["error event"][0]
    async with served([raw]).stream(model="m", messages=USER) as stream:
        with pytest.raises(errors.APIStreamError, match="overloaded") as caught:
            await stream.get_final_completion()
        assert caught.value.code == "529"
        # the error is raised once; the stream is then over
        assert [c async for c in stream] == []


async def test_an_error_event_with_nothing_before_it_is_not_retried():
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        body = b"event: error\ndata: upstream died"  # no blank line: the body just ends
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    http = httpx.AsyncClient(transport=mock_transport(handler))
    client = ChatClient(base_url="http://test/v1", api_key="k", max_retries=2, http_client=http)
    seen, error = await drain(client)
    assert (seen, calls) == ([], 1)
    assert isinstance(error, errors.APIStreamError) and str(error) == "upstream died"


# --- nesting depth: a typed error, never RecursionError ---------------------------------------

DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize(
    "tail",
    [
        b"event: error\ndata: " + DEEP + b"\n\n",
        b'event: error\ndata: {"error": ' + DEEP + b"}\n\n",
        b'data: {"error": ' + DEEP + b', "choices": []}\n\n',
        b'data: {"choices": [{"index": 0, "delta": {"content": ' + DEEP + b"}}]}\n\n",
        b"data: " + DEEP + b"\n\n",
    ],
    ids=["error event", "error event object", "error object", "chunk", "bare"],
)
async def test_deeply_nested_json_is_a_typed_error(tail: bytes):
    seen, error = await drain(served([BEFORE, tail]))
    assert len(seen) == 2
    assert isinstance(error, errors.APIStreamError | errors.APIResponseError)
    assert len(str(error)) <= 2000


# --- size bound -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tail",
    [
        b"data: " + b"x" * 5000 + b"\n\n",  # one long line, read whole
        b"data: " + b"x" * 5000,  # a line that never ends
        b": " + b"x" * 5000 + b"\n",  # a long comment
        b"data: " + b"x" * 900 + b"\n" + b"data: " + b"x" * 900 + b"\n\n",  # many short lines
    ],
    ids=["line", "unended line", "comment", "event"],
)
async def test_an_event_past_max_sse_event_bytes_is_a_clear_error(tail: bytes):
    raw = BEFORE + tail + b"data: [DONE]\n\n"
    for size in (len(raw), 64, 7):
        pieces = [raw[i : i + size] for i in range(0, len(raw), size)]
        seen, error = await drain(served(pieces, max_sse_event_bytes=1024))
        assert len(seen) == 2, size
        assert isinstance(error, errors.APIResponseError), size
        assert "1024 bytes (max_sse_event_bytes)" in str(error)


async def test_max_sse_event_bytes_lets_large_events_through_when_raised():
    big = "y" * 5000
    raw = chunk(content=big) + b"data: [DONE]\n\n"
    pieces = [raw[i : i + 100] for i in range(0, len(raw), 100)]
    seen, error = await drain(served(pieces, max_sse_event_bytes=6000))
    assert error is None and seen[0].choices[0].delta.content == big


def test_max_sse_event_bytes_must_be_positive():
    with pytest.raises(errors.InvalidRequestError, match="max_sse_event_bytes"):
        ChatClient(base_url="http://t/v1", max_sse_event_bytes=0)


# --- recorded shapes: OpenRouter's error object after keep-alives, Groq's error event ---------

STREAMS = Path(__file__).parent / "data" / "streams"


@pytest.mark.parametrize(
    ("name", "count", "code", "reasoning"),
    [
        ("keepalive_error_object.sse", 2, "400", "Greeting, answer briefly."),
        ("reasoning_error_event.sse", 3, "tool_use_failed", "Call the tool with a bad argument."),
    ],
)
async def test_recorded_error_streams_yield_everything_before_the_error(
    name: str, count: int, code: str, reasoning: str
):
    raw = (STREAMS / name).read_bytes()
    replay = Replay()
    for cut in range(len(raw) + 1):
        seen, error = await replay.drain([raw[:cut], raw[cut:]])
        assert len(seen) == count, cut
        assert isinstance(error, errors.APIStreamError) and error.code == code, cut
        text = "".join(c.choices[0].delta.reasoning_text or "" for c in seen if c.choices)
        assert text == reasoning


async def test_a_last_event_cut_before_its_blank_line_is_yielded_before_the_interruption():
    last = b'data: {"choices": [{"index": 0, "delta": {"content": "lo"}}]}'  # no finish_reason
    raw = chunk(role="assistant", content="Hel") + last
    replay = Replay()
    for pieces in splits(raw):
        seen, error = await replay.drain(pieces)
        assert [c.choices[0].delta.content for c in seen] == ["Hel", "lo"], pieces
        assert isinstance(error, errors.StreamInterruptedError), pieces
        assert error.partial is not None
        assert error.partial.choices[0].message.content == "Hello"


async def test_a_deeply_nested_whole_answer_is_a_typed_error():
    def handler(request: httpx.Request) -> httpx.Response:
        body = b'{"choices": [], "error": ' + DEEP + b"}"
        return httpx.Response(200, headers={"content-type": "application/json"}, content=body)

    http = httpx.AsyncClient(transport=mock_transport(handler))
    client = ChatClient(base_url="http://test/v1", api_key="k", max_retries=0, http_client=http)
    with pytest.raises(errors.APIResponseError, match="not a chat completion"):
        await client.complete(model="m", messages=USER)
    seen, error = await drain(client)  # a stream answered with JSON reads it the same way
    assert seen == [] and isinstance(error, errors.APIResponseError)


@pytest.mark.parametrize("name", sorted(p.name for p in STREAMS.glob("*.sse")))
async def test_every_fixture_streams_the_same_whole_and_one_byte_per_read(name: str):
    raw = (STREAMS / name).read_bytes()
    replay = Replay()
    whole_chunks, whole_error = await replay.drain([raw])
    chunks, error = await replay.drain([raw[i : i + 1] for i in range(len(raw))])
    assert [c.model_dump() for c in chunks] == [c.model_dump() for c in whole_chunks]
    assert type(error) is type(whole_error) and str(error) == str(whole_error)
