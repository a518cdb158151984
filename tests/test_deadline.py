"""request_timeout: a total deadline no trickled body or endless keep-alive can outlive."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest

from agentkit import ChatClient, errors
from tests.conftest import mock_transport

USER = [{"role": "user", "content": "Hi"}]
CHUNK = {"choices": [{"index": 0, "delta": {"content": "Hel"}}]}


def trickle(first: bytes, every: bytes, pause: float = 0.02) -> httpx.Response:
    """A 200 whose body starts with ``first`` and then sends ``every`` forever."""

    async def body() -> AsyncIterator[bytes]:
        yield first
        while True:
            await anyio.sleep(pause)  # well under any per-read timeout
            yield every

    return httpx.Response(200, content=body(), headers={"content-type": "text/event-stream"})


def client(response: httpx.Response | None = None, **options: Any) -> ChatClient:
    def handler(request: httpx.Request) -> httpx.Response:
        return response or trickle(b"{", b" ")

    http = httpx.AsyncClient(transport=mock_transport(handler))
    return ChatClient(base_url="http://t/v1", http_client=http, retry_backoff=0, **options)


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_a_trickled_json_body_cannot_outlive_the_deadline():
    with anyio.fail_after(5), pytest.raises(errors.APITimeoutError, match="request_timeout=0.3"):
        await client(request_timeout=0.3, timeout=1.0).complete(model="m", messages=USER)


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_endless_keep_alives_cannot_outlive_the_deadline():
    chunk = f"data: {json.dumps(CHUNK)}\n\n".encode()
    chat = client(trickle(chunk, b": keep-alive\n\n"), timeout=1.0)
    start = anyio.current_time()
    with anyio.fail_after(5), pytest.raises(errors.StreamInterruptedError) as caught:
        async with chat.stream(model="m", messages=USER, request_timeout=0.3) as stream:
            async for _ in stream:
                pass
    assert anyio.current_time() - start < 2
    assert caught.value.partial is not None
    assert caught.value.partial.choices[0].message.content == "Hel"  # what arrived is kept
    # before any chunk: a timeout, retried only while the deadline lasts
    chat = client(trickle(b": hello\n\n", b": keep-alive\n\n"), max_retries=5)
    with anyio.fail_after(5), pytest.raises(errors.APITimeoutError):
        await chat.stream(model="m", messages=USER, request_timeout=0.3).get_final_completion()


async def test_retries_stop_at_the_deadline():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(503, headers={"retry-after": "0.2"})

    http = httpx.AsyncClient(transport=mock_transport(handler))
    chat = ChatClient(base_url="http://t/v1", http_client=http, max_retries=10)
    with anyio.fail_after(5), pytest.raises(errors.InternalServerError):
        await chat.complete(model="m", messages=USER, request_timeout=0.5)
    assert 2 <= len(seen) <= 3  # waits of 0.2 s that fit in 0.5 s, not 10 retries


async def test_without_request_timeout_a_slow_answer_still_arrives():
    async def body() -> AsyncIterator[bytes]:
        for part in (b'{"choices": [{"message": ', b'{"content": "late"}}]}'):
            await anyio.sleep(0.2)
            yield part

    response = httpx.Response(200, content=body())
    completion = await client(response, request_timeout=None).complete(model="m", messages=USER)
    assert completion.choices[0].message.content == "late"


@pytest.mark.parametrize("options", [{"request_timeout": 0}, {"max_retry_wait": -1}])
def test_impossible_bounds_are_refused_at_creation(options: dict[str, Any]):
    with pytest.raises(errors.InvalidRequestError, match="request_timeout must be"):
        ChatClient(**options)
