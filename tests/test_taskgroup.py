"""run_concurrently: asyncio's native task group and anyio's on trio keep one set of semantics."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from agentkit._taskgroup import run_concurrently

BOTH = pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])


@BOTH
async def test_every_job_runs_concurrently_and_all_end_before_it_returns() -> None:
    started, ended = [], []
    both_started = anyio.Event()

    def job(n: int):
        async def run() -> None:
            started.append(n)
            if len(started) == 2:
                both_started.set()
            with anyio.fail_after(5):
                await both_started.wait()  # each waits for the other: only concurrency ends it
            ended.append(n)

        return run

    await run_concurrently([job(1), job(2)])
    assert sorted(ended) == [1, 2]


@BOTH
async def test_a_failure_cancels_the_others_and_comes_out_as_itself() -> None:
    cancelled = []

    async def fails() -> None:
        await anyio.lowlevel.checkpoint()
        raise KeyError("boom")

    async def waits() -> None:
        try:
            await anyio.sleep(5)
        except anyio.get_cancelled_exc_class():
            cancelled.append(True)
            raise

    with anyio.fail_after(5), pytest.raises(KeyError, match="boom") as info:
        await run_concurrently([waits, fails])
    assert cancelled == [True]
    assert not isinstance(info.value, BaseExceptionGroup)


@BOTH
async def test_failures_at_the_same_moment_are_named_on_the_first() -> None:
    async def first() -> None:
        raise ValueError("one")

    async def second() -> None:
        raise RuntimeError("two")

    # Which ends first is the scheduler's choice (trio's order is random): either comes out
    # as itself, the other named in a note on it.
    with pytest.raises((ValueError, RuntimeError)) as info:
        await run_concurrently([first, second])
    other = "RuntimeError: two" if isinstance(info.value, ValueError) else "ValueError: one"
    assert info.value.__notes__ == [f"concurrent tasks failed at the same moment too: {other}"]


@BOTH
async def test_a_cancelled_caller_cancels_every_job_and_waits_for_their_end() -> None:
    cleaned = []

    async def job() -> None:
        try:
            await anyio.sleep(5)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.sleep(0.01)  # cleanup that takes time: the caller waits for it
            cleaned.append(True)

    with anyio.fail_after(5):
        with anyio.move_on_after(0.05) as scope:
            await run_concurrently([job, job])
    assert scope.cancelled_caught
    assert cleaned == [True, True]


@BOTH
async def test_a_job_cancelled_alone_does_not_stop_the_others() -> None:
    """A job that cancels its own work (a tool's timeout) is not a failure of the group."""
    done = []

    async def times_out() -> None:
        with anyio.move_on_after(0.01):
            await anyio.sleep(5)
        done.append("timed out")

    async def finishes() -> None:
        await anyio.sleep(0.05)
        done.append("finished")

    with anyio.fail_after(5):
        await run_concurrently([times_out, finishes])
    assert sorted(done) == ["finished", "timed out"]
