"""The pool's gate: past the pool's size, requests wait in line instead of in httpcore's queue."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx
import pytest

from agentkit._pool import _Gated

BOTH = pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])


async def body() -> AsyncIterator[bytes]:
    yield b"x" * 10


def gated(limit: int, fail: bool = False) -> tuple[httpx.AsyncClient, list[str]]:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if fail:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, content=body())  # streamed, as a real transport's

    transport = _Gated(httpx.MockTransport(handler), limit)
    return httpx.AsyncClient(transport=transport, base_url="http://test"), seen


@BOTH
async def test_a_request_past_the_limit_waits_until_a_body_is_closed() -> None:
    client, seen = gated(2)
    with anyio.fail_after(5):
        first = await client.send(client.build_request("GET", "/1"), stream=True)
        second = await client.send(client.build_request("GET", "/2"), stream=True)
        async with anyio.create_task_group() as group:
            group.start_soon(client.get, "/3")
            await anyio.sleep(0.05)
            assert seen == ["/1", "/2"]  # the third waits for a slot
            await first.aread()  # read to the end: the body closes, its slot is free
            await anyio.sleep(0.05)
            assert seen == ["/1", "/2", "/3"]
        await second.aclose()
        await second.aclose()  # closing twice gives the slot back once
        assert [(await client.get(f"/{i}")).status_code for i in range(4)] == [200] * 4


@BOTH
async def test_a_failed_request_gives_its_slot_back() -> None:
    client, seen = gated(1, fail=True)
    with anyio.fail_after(5):
        for _ in range(3):
            with pytest.raises(httpx.ConnectError):
                await client.get("/")
    assert len(seen) == 3
