"""Helpers for multi-step workflows written as plain async Python: fan-out, retry, resume.

A workflow is an ``async def``. One step feeding the next is just ``await``; this module adds
what plain ``await`` lacks: running many steps at once with a bound on concurrency (`gather`,
`map_concurrently`), retrying a flaky step (`retry`), and saving a conversation so a later run
can pick it up (`save_messages`, `load_messages`). Everything is generic over awaitables (no
dependency on `Agent`) and runs under asyncio and trio alike.

Example:
    ```python
    outline = (await planner.run(topic)).output          # typed output feeds the next step
    drafts = await map_concurrently(lambda s: writer.run(s.title), outline.sections, limit=4)
    review = await retry(lambda: editor.run(join(d.output for d in drafts)), attempts=3)
    ```
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import anyio
import anyio.to_thread

from agentkit._taskgroup import run_concurrently
from agentkit.checkpoint import _write_atomic  # one atomic write for both stores of JSON
from agentkit.types import MessageParam

__all__ = ["gather", "load_messages", "map_concurrently", "retry", "save_messages"]

T = TypeVar("T")
X = TypeVar("X")

logger = logging.getLogger("agentkit")


async def gather(
    *jobs: Awaitable[T] | Callable[[], Awaitable[T]], limit: int | None = None
) -> list[T]:
    """Run jobs concurrently, at most ``limit`` at a time, and return their results in order.

    Each job is an awaitable (``agent.run(...)``) or a zero-argument async callable
    (``lambda: agent.run(...)``). Unlike `asyncio.gather`, the first failure cancels every
    other job and is raised as itself, never inside an `ExceptionGroup` (when several jobs
    fail at the same moment, the first is raised and a note on it names the others). Jobs
    that never started are closed, so no "coroutine was never awaited" warning follows.

    Example:
        ```python
        summary, keywords = await gather(summarizer.run(text), tagger.run(text))
        ```

    Args:
        *jobs: Awaitables or zero-argument callables returning awaitables.
        limit: Most jobs running at once; ``None`` runs them all at once.

    Returns:
        Each job's result, in the order the jobs were given.

    Raises:
        ValueError: ``limit`` is less than 1.
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    thunks = [_thunk(job) for job in jobs]
    try:
        return await _in_order(thunks, workers=min(limit or len(jobs), len(jobs)))
    finally:
        for job in jobs:  # a coroutine that never ran would warn when garbage collected
            if inspect.iscoroutine(job):
                job.close()  # no-op for one that ran to completion


async def map_concurrently(
    fn: Callable[[X], Awaitable[T]], items: Iterable[X], *, limit: int = 8
) -> list[T]:
    """Call ``fn`` on every item, at most ``limit`` calls at a time; results in item order.

    Items are taken from ``items`` one at a time as calls finish, so a long generator is never
    materialised up front. The first failure cancels the calls in flight, starts no more, and
    is raised as itself, as in `gather`.

    Example:
        ```python
        results = await map_concurrently(lambda doc: summarizer.run(doc), docs, limit=4)
        summaries = [r.output for r in results]
        ```

    Args:
        fn: The async function to call with each item.
        items: The items, consumed lazily.
        limit: Most calls running at once.

    Returns:
        ``fn(item)``'s result for each item, in the order of ``items``.

    Raises:
        ValueError: ``limit`` is less than 1.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    thunks = (_bind(fn, item) for item in items)
    return await _in_order(thunks, workers=limit)


async def retry(
    fn: Callable[[], Awaitable[T]],
    *,
    attempts: int = 3,
    retry_on: type[BaseException] | tuple[type[BaseException], ...] = Exception,
    backoff: float = 0.5,
    max_backoff: float = 8.0,
    on_retry: Callable[[int, BaseException], None] | None = None,
) -> T:
    """Await ``fn()`` until it succeeds, up to ``attempts`` times, with exponential backoff.

    Before attempt ``n + 1`` it sleeps a random time between half and all of
    ``min(max_backoff, backoff * 2 ** (n - 1))`` seconds; the jitter keeps many failed
    workflows from retrying in lockstep. Cancellation, `KeyboardInterrupt` and `SystemExit`
    are never retried, whatever ``retry_on`` says.

    ``fn`` is called afresh for each attempt, because a coroutine can be awaited only once:
    pass ``lambda: agent.run(prompt)``, not ``agent.run(prompt)``.

    Example:
        ```python
        result = await retry(
            lambda: agent.run(prompt), attempts=4, retry_on=(RateLimitError, OutputValidationError)
        )
        ```

    Args:
        fn: Zero-argument async callable making one attempt.
        attempts: Total attempts, the first included.
        retry_on: Exception type(s) worth another attempt; others are raised at once.
        backoff: Base delay in seconds (0 retries immediately).
        max_backoff: Cap on the delay before jitter.
        on_retry: Called with the failed attempt's number (from 1) and its exception, before
            sleeping; for logging or metrics.

    Returns:
        The result of the first attempt that succeeds.

    Raises:
        ValueError: ``attempts`` is less than 1.
        BaseException: The last attempt's exception, or the first one not in ``retry_on``.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, got {attempts}")
    never = (anyio.get_cancelled_exc_class(), KeyboardInterrupt, SystemExit)
    for attempt in range(1, attempts + 1):
        try:
            return await fn()
        except retry_on as exc:
            if attempt == attempts or isinstance(exc, never):
                raise
            delay = min(max_backoff, backoff * 2 ** (attempt - 1))
            delay = random.uniform(delay / 2, delay)
            logger.info(
                "attempt %d of %d failed (%s: %s); retrying in %.2fs",
                attempt, attempts, type(exc).__name__, exc, delay,
            )  # fmt: skip
            if on_retry is not None:
                on_retry(attempt, exc)
        await anyio.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


async def save_messages(
    path: str | os.PathLike[str], messages: Sequence[Mapping[str, Any]]
) -> None:
    """Write a conversation to a JSON file, atomically.

    The file is written beside its target, flushed to disk, then renamed over it with
    `os.replace`, so a crash mid-write leaves the previous file intact, never half a file.
    Pass ``result.messages`` after a run, or ``exc.messages`` of an `AgentKitError` to keep
    what a failed run had done.

    Example:
        ```python
        history = await load_messages(path, missing_ok=True)
        result = await agent.run("Plan the trip", history=history)
        await save_messages(path, result.messages)
        ```

    Args:
        path: The file to write (its directory is created if missing).
        messages: The messages, as JSON-serialisable dicts.

    Raises:
        TypeError: A message holds a value JSON cannot encode.
    """
    data = json.dumps(list(messages), ensure_ascii=False, indent=1)  # before the thread hop
    await anyio.to_thread.run_sync(_write_atomic, Path(path), data)


async def load_messages(
    path: str | os.PathLike[str], *, missing_ok: bool = False
) -> list[MessageParam]:
    """Read a conversation written by `save_messages`, ready for ``agent.run(history=...)``.

    Args:
        path: The file to read.
        missing_ok: Return an empty list when the file does not exist, instead of raising.

    Returns:
        The messages, as plain dicts (typed as the messages ``history=`` accepts).

    Raises:
        FileNotFoundError: The file does not exist and ``missing_ok`` is false.
        ValueError: The file is not a JSON list of messages.
    """
    text = await anyio.to_thread.run_sync(_read, Path(path), missing_ok)
    if text is None:
        return []
    messages = json.loads(text)
    if not isinstance(messages, list) or not all(
        isinstance(m, dict) and isinstance(m.get("role"), str) for m in messages
    ):
        raise ValueError(f"{os.fspath(path)} does not hold a list of chat messages")
    return cast(list[MessageParam], messages)


# --- engine --------------------------------------------------------------------------------


async def _in_order(thunks: Iterable[Callable[[], Awaitable[T]]], *, workers: int) -> list[T]:
    """Run ``thunks`` with ``workers`` tasks pulling from one iterator; results in order."""
    results: dict[int, T] = {}
    numbered = enumerate(thunks)  # shared: `next` never awaits, so each job goes to one worker

    async def worker() -> None:
        for index, thunk in numbered:
            results[index] = await thunk()

    await run_concurrently([worker] * workers)  # the first failure comes out as itself
    return [results[i] for i in range(len(results))]


def _thunk(job: Awaitable[T] | Callable[[], Awaitable[T]]) -> Callable[[], Awaitable[T]]:
    if inspect.isawaitable(job):
        return lambda: job
    if callable(job):
        return job
    raise TypeError(f"expected an awaitable or a zero-argument async callable, got {job!r}")


def _bind(fn: Callable[[X], Awaitable[T]], item: X) -> Callable[[], Awaitable[T]]:
    return lambda: fn(item)  # a function, so each lambda keeps its own item


def _read(path: Path, missing_ok: bool) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if missing_ok:
            return None
        raise
