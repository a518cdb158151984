"""Retry listeners: code that makes requests can hear about each retry `ChatClient` makes.

A context variable, not client state: one client serves many runs, and a listener belongs to
the code (a run, a tracing span) that makes the request, including requests of nested runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

__all__ = ["RetryListener", "notify_retry", "on_retry"]

RetryListener = Callable[[int, float, Exception], None]
"""Called before a retry with its number (1 for the first), the delay in seconds and the error."""

_retry_listeners: ContextVar[tuple[RetryListener, ...]] = ContextVar(
    "agentkit_retry_listeners", default=()
)


@contextlib.contextmanager
def on_retry(listener: RetryListener) -> Iterator[None]:
    """Call ``listener(retry, delay, error)`` before each retry of requests made in this block.

    Any `ChatClient` request (``complete``, ``stream``, ``list_models``) made inside the
    block, in this task or tasks it starts, reports each retry before its backoff sleep.
    Blocks nest: every enclosing listener is called, innermost first.

    Example:
        ```python
        with on_retry(lambda n, delay, error: print(f"retry {n} in {delay:.1f}s: {error}")):
            await client.complete(model="m", messages=messages)
        ```

    Args:
        listener: Gets the retry's number (1 for the first), its delay in seconds and the
            error that caused it (an `APIStatusError` carries ``status_code``).

    Yields:
        Nothing; the listener is active until the block ends.
    """
    token = _retry_listeners.set((listener, *_retry_listeners.get()))
    try:
        yield
    finally:
        _retry_listeners.reset(token)


def notify_retry(retry: int, delay: float, error: Exception) -> None:
    """Tell the listeners of the current context about a retry (what `ChatClient` calls)."""
    for listener in _retry_listeners.get():
        listener(retry, delay, error)
