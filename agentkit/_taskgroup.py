"""A task group whose failure comes out as the exception itself, never inside an ExceptionGroup.

anyio (like trio and `asyncio.TaskGroup`) wraps whatever a child task raises in a
`BaseExceptionGroup`, so ``except MyError:`` around the group catches nothing, and whether a
caller sees a group would depend on how many tasks the work happened to need (one tool call
runs without a group, two with one). Every task group of agentkit goes through `task_group`:
the first failure is raised as itself, and any others that ended at the same moment are
named in a note on it, so nothing is lost silently.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

import anyio
from anyio.abc import TaskGroup

__all__ = ["first_failure", "run_concurrently", "task_group"]


@contextlib.asynccontextmanager
async def task_group() -> AsyncIterator[TaskGroup]:
    """`anyio.create_task_group`, raising a child's (or the body's) exception as itself.

    Yields:
        The anyio task group.
    """
    failure: BaseException | None = None
    try:
        async with anyio.create_task_group() as group:
            yield group
    except BaseExceptionGroup as errors:
        failure = first_failure(errors)
        if failure is None:  # only cancellations: the scope that cancelled us handles them
            raise
    if failure is not None:
        # Raised outside the `except`, so the traceback doesn't show the group around it.
        raise failure


async def run_concurrently(jobs: Sequence[Callable[[], Coroutine[Any, Any, None]]]) -> None:
    """Run ``jobs`` concurrently and wait for all; a failure cancels the rest and is raised.

    The failure comes out as itself, as from `task_group`. On asyncio the jobs run in an
    `asyncio.TaskGroup`: a third of the cost of anyio's on that backend (no cancel scope or
    task state per task), with the same semantics: a job's failure cancels the others, and
    a cancelled caller cancels them all and returns only once every job has ended. Elsewhere
    (trio) it is `task_group`.

    Args:
        jobs: Coroutine functions to run, without arguments (started in order, at once).
    """
    try:
        asyncio.current_task()  # raises outside asyncio (under trio)
    except RuntimeError:
        async with task_group() as group:
            for job in jobs:
                group.start_soon(job)
        return
    failure: BaseException | None = None
    try:
        async with asyncio.TaskGroup() as native:
            for job in jobs:
                native.create_task(job())
    except BaseExceptionGroup as errors:
        failure = first_failure(errors)
        if failure is None:
            raise
    if failure is not None:
        raise failure


def first_failure(errors: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The exception that stands for ``errors``: the first to end that isn't a cancellation.

    `KeyboardInterrupt` and `SystemExit` win over ordinary exceptions, because they mean
    "stop the program". The others are listed in a note on the one returned.

    Args:
        errors: A task group's exceptions, in the order they ended (anyio's order, on
            asyncio and trio alike).

    Returns:
        The exception to raise, or None when every one is a cancellation.
    """
    cancelled = anyio.get_cancelled_exc_class()
    failures = [e for e in errors.exceptions if not isinstance(e, cancelled)]
    if not failures:
        return None
    first = next((e for e in failures if not isinstance(e, Exception)), failures[0])
    others = [e for e in failures if e is not first]
    if others:
        listed = "; ".join(f"{type(e).__name__}: {e}" for e in others)
        first.add_note(f"concurrent tasks failed at the same moment too: {listed}")
    return first
