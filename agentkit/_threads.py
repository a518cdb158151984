"""The worker-thread hop of sync tools: `anyio.to_thread.run_sync`, made cheaper on asyncio.

anyio's hop goes once around the event loop before the thread starts, again to take a limiter
token, and enters a shielded cancel scope for the wait. On asyncio `run_sync` takes a free
token at once (else it waits in line), hands the call to a thread pool as `asyncio.to_thread`
does, and enters a cancel scope only when cancelled. What anyio promises stays true: the same
limiter bounds the threads (the pool itself is unbounded, so only the limiter makes a call
wait), a cancelled caller starts no thread (nor a call no thread has taken yet), the call
runs in a copy of the caller's context, and a caller cancelled mid-call waits for the thread
to finish before the cancellation takes effect, so no thread is left running on its own. On
trio, and for a call that may be abandoned, it is anyio's own hop.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import anyio
import anyio.lowlevel
import anyio.to_thread

__all__ = ["run_sync"]

T = TypeVar("T")

_pool: ThreadPoolExecutor | None = None
_pool_pid = 0  # a forked child must not use its parent's pool: its threads did not survive
_pool_lock = threading.Lock()
# The limiter bounds the threads; the pool only must never make a call wait for a thread.
_MAX_THREADS = 10_000


def _threads() -> ThreadPoolExecutor:
    global _pool, _pool_pid
    with _pool_lock:
        if _pool is None or _pool_pid != os.getpid():
            _pool = ThreadPoolExecutor(_MAX_THREADS, thread_name_prefix="agentkit-tool")
            _pool_pid = os.getpid()
        return _pool


async def run_sync(
    fn: Callable[[], T],
    *,
    limiter: anyio.CapacityLimiter | None = None,
    abandon_on_cancel: bool = False,
) -> T:
    """``await anyio.to_thread.run_sync(fn, ...)``, with the same semantics.

    Args:
        fn: The function to call in a worker thread.
        limiter: Bounds the worker threads; None uses anyio's default limiter.
        abandon_on_cancel: Let a cancelled caller return before the thread ends.

    Returns:
        What ``fn`` returns.
    """
    token = anyio.lowlevel.current_token()
    loop = token.native_token
    if abandon_on_cancel or not isinstance(loop, asyncio.AbstractEventLoop):
        return await anyio.to_thread.run_sync(
            fn, limiter=limiter, abandon_on_cancel=abandon_on_cancel
        )
    # The token's backend, not anyio's module functions: each of those looks it up again.
    backend = token.backend_class
    await backend.checkpoint_if_cancelled()  # a cancelled caller starts no thread
    tokens = limiter or backend.current_default_thread_limiter()
    borrower = object()  # not the task: it may hold a token of this limiter already
    try:
        tokens.acquire_on_behalf_of_nowait(borrower)
    except anyio.WouldBlock:
        await tokens.acquire_on_behalf_of(borrower)  # in line, as anyio waits for a token
    try:
        call = _threads().submit(contextvars.copy_context().run, fn)
        try:
            # Awaited directly, not through asyncio.shield (one pass around the loop less
            # per call): cancelling this wait cancels `call` only if no thread has taken it
            # yet, so it never runs; once running, it cannot be cancelled.
            return await asyncio.wrap_future(call, loop=loop)
        except asyncio.CancelledError:
            if not call.cancelled():
                # As anyio's shielded wait: the thread ends first, then the cancellation
                # goes on. The scope stops anyio from cancelling this wait again on every
                # loop pass.
                with anyio.CancelScope(shield=True):
                    await asyncio.wait((asyncio.wrap_future(call, loop=loop),))
            raise
    finally:
        tokens.release_on_behalf_of(borrower)
