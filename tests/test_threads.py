"""The sync-tool thread hop: anyio's semantics on both backends, the asyncio fast path included."""

from __future__ import annotations

import contextvars
import threading
from typing import Any

import anyio
import anyio.to_thread
import pytest

from agentkit.tools import tool

BOTH = pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="none")


@BOTH
async def test_a_sync_tool_runs_in_another_thread_with_the_callers_context() -> None:
    seen: dict[str, Any] = {}

    @tool
    def where() -> str:
        """Report the thread and the context it runs in."""
        seen["thread"] = threading.get_ident()
        return request_id.get()

    request_id.set("r-1")
    result = await where.invoke("{}")
    assert result.content == "r-1"
    assert seen["thread"] != threading.get_ident()


@BOTH
async def test_a_sync_tools_exception_is_its_error_reply() -> None:
    @tool
    def fails() -> str:
        """Fail."""
        raise ValueError("bad")

    result = await fails.invoke("{}")
    assert (result.is_error, result.content) == (True, "error: ValueError: bad")


@BOTH
async def test_more_sync_calls_at_once_than_asyncio_s_default_executor_has_threads() -> None:
    # asyncio's default executor has min(32, cpus + 4) threads; anyio's limiter allows 40.
    calls = 12
    barrier = threading.Barrier(calls, timeout=5)

    @tool
    def meet() -> str:
        """Wait until every call is in a thread at once."""
        barrier.wait()
        return "met"

    results: list[str] = []

    async def one() -> None:
        results.append((await meet.invoke("{}")).content)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            for _ in range(calls):
                group.start_soon(one)
    assert results == ["met"] * calls


@BOTH
@pytest.mark.parametrize("given", [False, True])
async def test_the_limiter_bounds_sync_calls_and_gives_every_token_back(given: bool) -> None:
    default = anyio.to_thread.current_default_thread_limiter()  # this test's event loop's own
    limiter = anyio.CapacityLimiter(2) if given else default
    limiter.total_tokens = 2
    lock = threading.Lock()
    running = peak = 0

    @tool
    def count() -> str:
        """Count the calls running at once."""
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        threading.Event().wait(0.02)
        with lock:
            running -= 1
        return "ok"

    async def one() -> None:
        assert (await count.invoke("{}", limiter=limiter if given else None)).content == "ok"

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            for _ in range(6):
                group.start_soon(one)
    assert peak == 2
    assert limiter.borrowed_tokens == 0


@BOTH
async def test_a_caller_holding_a_token_of_the_limiter_can_still_call_a_sync_tool() -> None:
    @tool
    def echo() -> str:
        """Answer."""
        return "ok"

    async with anyio.to_thread.current_default_thread_limiter():
        assert (await echo.invoke("{}")).content == "ok"


@BOTH
async def test_cancelling_waits_for_the_thread_then_takes_effect() -> None:
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    @tool
    def blocking() -> str:
        """Block until released."""
        started.set()
        release.wait(5)
        finished.set()
        return "done"

    limiter = anyio.to_thread.current_default_thread_limiter()
    with anyio.fail_after(10):
        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as group:
                group.start_soon(blocking.invoke, "{}")
                await anyio.to_thread.run_sync(started.wait, 5)
                scope.cancel()  # the call is in its thread: the cancellation must wait for it
                await anyio.sleep(0.05)
                assert not finished.is_set()
                release.set()
    assert scope.cancelled_caught
    assert finished.is_set()  # the thread ended before the cancelled scope was left
    assert limiter.borrowed_tokens == 0


@BOTH
async def test_a_call_cancelled_while_waiting_for_a_token_never_runs() -> None:
    limiter = anyio.CapacityLimiter(1)
    ran: list[str] = []

    @tool
    def note() -> str:
        """Record the call."""
        ran.append("ran")
        return "ok"

    async with limiter:  # the only token: the call waits in line
        with anyio.move_on_after(0.05) as scope:
            await note.invoke("{}", limiter=limiter)
    assert scope.cancelled_caught
    assert ran == []
    assert limiter.borrowed_tokens == 0


@BOTH
async def test_a_caller_already_cancelled_starts_no_thread() -> None:
    ran: list[str] = []

    @tool
    def note() -> str:
        """Record the call."""
        ran.append("ran")
        return "ok"

    with anyio.CancelScope() as scope:
        scope.cancel()
        await note.invoke("{}")
    assert scope.cancelled_caught
    assert ran == []


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_call_cancelled_before_a_thread_takes_it_never_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from agentkit import _threads

    busy, release = threading.Event(), threading.Event()
    ran: list[str] = []

    def occupy() -> None:
        busy.set()
        release.wait(5)

    one = ThreadPoolExecutor(1)  # its only thread is kept busy: the call waits in its queue
    one.submit(occupy)
    monkeypatch.setattr(_threads, "_threads", lambda: one)
    try:
        assert busy.wait(5)
        with anyio.fail_after(5):
            with anyio.move_on_after(0.05) as scope:
                await _threads.run_sync(lambda: ran.append("ran"))
        assert scope.cancelled_caught  # at once: there was no thread to wait for
        limiter = anyio.to_thread.current_default_thread_limiter()
        assert limiter.borrowed_tokens == 0
    finally:
        release.set()
        one.shutdown(wait=True)
    assert ran == []
