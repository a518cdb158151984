"""Connection pools per event loop: one httpx pool can only serve the loop it was used on.

A `ChatClient` that owns its pool keeps one per running loop, made on first use there and
closed when that loop shuts down (a keeper async generator, which asyncio's and trio's
shutdown finalize), so one client serves successive ``asyncio.run``/``anyio.run`` calls and
many threads' loops at once without ever closing a pool another loop is using. A pool the user
passed in is theirs: it is used on one loop at a time, and a clear error says so otherwise.
"""

from __future__ import annotations

import functools
import ssl
import threading
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

import anyio
import anyio.lowlevel
import httpx

from agentkit.errors import EventLoopError

__all__ = ["LoopPools", "UserPool", "alive"]


def _loop() -> Any:
    """The running event loop's native token (the asyncio loop, trio's token)."""
    return anyio.lowlevel.current_token().native_token


def alive(loop: Any) -> bool:
    """Whether ``loop`` (a native token) can still run code."""
    is_closed = getattr(loop, "is_closed", None)  # asyncio
    if is_closed is not None:
        return not is_closed()
    run_sync_soon = getattr(loop, "run_sync_soon", None)  # trio refuses once its run is over
    if run_sync_soon is None:
        return True
    try:
        run_sync_soon(_nothing)
    except Exception:
        return False
    return True


def _nothing() -> None:
    pass


# httpx keeps only 20 idle connections by default: with more concurrent runs than that, every
# response closes a connection and the next request opens one (measured: 1000 concurrent agent
# runs took 5-9x longer). These are the openai SDK's limits.
_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)


# httpcore hands out connections by scanning every queued request against every connection,
# each time one is freed: with 10,000 concurrent runs, 9,000 requests waiting for the pool's
# 1,000 connections made that quadratic and the runs never finished. So requests past the
# pool's size wait here, in a plain FIFO semaphore, and httpcore's queue stays short.
_MAX_IN_FLIGHT = _LIMITS.max_connections or 1000


def _new_pool(timeout: httpx.Timeout, ssl: ssl.SSLContext) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(verify=ssl, limits=_LIMITS)
    return httpx.AsyncClient(timeout=timeout, transport=_Gated(transport, _MAX_IN_FLIGHT))


class _Gated(httpx.AsyncBaseTransport):
    """A transport that lets at most ``limit`` requests (until their body is closed) through."""

    def __init__(self, inner: httpx.AsyncBaseTransport, limit: int) -> None:
        self._inner = inner
        self._slots = anyio.Semaphore(limit, fast_acquire=True)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        slots = self._slots
        await slots.acquire()  # fast_acquire: a free slot costs no pass around the loop
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException:
            slots.release()
            raise
        response.stream = _Releasing(response.stream, slots)
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class _Releasing(httpx.AsyncByteStream):
    """A response body that gives its request's slot back when it is closed (once)."""

    def __init__(
        self, stream: httpx.SyncByteStream | httpx.AsyncByteStream, slots: anyio.Semaphore
    ) -> None:
        self._stream = stream
        self._slots: anyio.Semaphore | None = slots

    async def __aiter__(self) -> AsyncIterator[bytes]:
        assert isinstance(self._stream, httpx.AsyncByteStream)
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        slots, self._slots = self._slots, None
        try:
            assert isinstance(self._stream, httpx.AsyncByteStream)
            await self._stream.aclose()
        finally:
            if slots is not None:
                slots.release()


class LoopPools:
    """The pools of a client that owns them: one per event loop, closed with it."""

    @classmethod
    def own(cls, timeout: httpx.Timeout) -> LoopPools:
        """Pools for a client that makes its own, sharing one SSL context (the slow part)."""
        return cls(functools.partial(_new_pool, timeout, httpx.create_ssl_context()))

    __slots__ = ("__weakref__", "_keepers", "_lock", "_make", "_pools", "_spare")

    def __init__(self, make: Callable[[], httpx.AsyncClient]) -> None:
        self._make = make
        # Made now, so the first request does not pay for it; no loop owns it until used.
        self._spare: httpx.AsyncClient | None = make()
        self._lock = threading.Lock()  # threads, each with its own loop, share the client
        self._pools: weakref.WeakKeyDictionary[Any, httpx.AsyncClient] = weakref.WeakKeyDictionary()
        self._keepers: weakref.WeakKeyDictionary[Any, AsyncGenerator[None, None]] = (
            weakref.WeakKeyDictionary()
        )

    async def get(self) -> httpx.AsyncClient:
        """The running loop's pool, made on first use there."""
        loop = _loop()
        pool = self._pools.get(loop)
        if pool is not None:
            return pool
        with self._lock:
            pool, self._spare = self._spare or self._make(), None
            self._pools[loop] = pool
            keeper = self._keeper(weakref.ref(loop), pool)
            self._keepers[loop] = keeper
        # Started here, the keeper is registered with this loop's async generator hooks: the
        # loop's shutdown (asyncio.run, anyio.run, trio.run) closes it, and it the pool.
        await keeper.asend(None)
        return pool

    async def aclose(self) -> None:
        """Close the running loop's pool; other loops' pools stay theirs until they end."""
        try:
            loop = _loop()
        except anyio.NoEventLoopError:  # pragma: no cover - aclose is always awaited
            return
        with self._lock:
            keeper = self._keepers.pop(loop, None)
        if keeper is not None:
            await keeper.aclose()

    async def _keeper(
        self, loop: weakref.ref[Any], pool: httpx.AsyncClient
    ) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            with self._lock:
                key = loop()
                if key is not None and self._pools.get(key) is pool:
                    del self._pools[key]
                    self._keepers.pop(key, None)
            # At a loop's shutdown trio runs this in a cancelled scope: close anyway.
            with anyio.CancelScope(shield=True):
                await pool.aclose()


class UserPool:
    """An ``httpx.AsyncClient`` the user passed in: checked to serve the running loop."""

    __slots__ = ("_home", "_lock", "http")

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self._home: weakref.ref[Any] | None = None  # the loop it was last used on
        self._lock = threading.Lock()

    def get(self) -> httpx.AsyncClient:
        """The user's client, if it can serve the running loop.

        Raises:
            EventLoopError: It is in use by another event loop that is still running.
        """
        loop = _loop()
        with self._lock:
            home = self._home() if self._home is not None else None
            if home is not None and home is not loop and alive(home):
                raise self.wrong_loop()
            if home is not loop:
                self._home = weakref.ref(loop)
        return self.http

    @staticmethod
    def wrong_loop(cause: str = "") -> EventLoopError:
        """The error for a user's client asked to serve a loop it cannot."""
        return EventLoopError(
            "the http_client given to ChatClient belongs to another event loop"
            f"{cause}: an httpx.AsyncClient's connections work only on the loop that opened "
            "them. Give each event loop (each thread, each asyncio.run) its own "
            "httpx.AsyncClient and ChatClient, or leave http_client out: a ChatClient that "
            "makes its own pool keeps one per event loop"
        )
