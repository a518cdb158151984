"""A response body that ends with a timeout once the request's total deadline has passed.

httpx's timeouts bound each operation: a server that trickles a byte, or an SSE keep-alive
comment, every few seconds never trips them. Wrapping the body's byte stream bounds the whole
read, whoever iterates it (the JSON read, or `ChatStream`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx

__all__ = ["DeadlineStream", "expired"]


def expired(seconds: float) -> httpx.ReadTimeout:
    """The error for a request still unfinished at its deadline."""
    return httpx.ReadTimeout(
        f"the request did not finish within request_timeout={seconds:g} s (its total deadline)"
    )


class DeadlineStream(httpx.AsyncByteStream):
    """``stream`` whose reads fail with ``httpx.ReadTimeout`` after ``deadline``."""

    def __init__(self, stream: httpx.AsyncByteStream, deadline: float, seconds: float) -> None:
        self._stream = stream
        self._deadline = deadline  # on anyio.current_time()'s clock
        self._seconds = seconds

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = self._stream.__aiter__()
        while True:
            # The cancel scope covers one read, never a yield.
            with anyio.CancelScope(deadline=self._deadline) as scope:
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    return
            if scope.cancelled_caught:
                raise expired(self._seconds)
            yield chunk

    async def aclose(self) -> None:
        await self._stream.aclose()
