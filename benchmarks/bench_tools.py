"""Tool overhead: invoke() vs a direct call, inline and with the thread hop; schema build time.

Run: .venv/bin/python benchmarks/bench_tools.py
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import anyio

from agentkit.tools import Tool, tool


def add(a: int, b: float, unit: Literal["m", "km"] = "m") -> str:
    """Add two distances.

    Args:
        a: First distance.
        b: Second distance.
        unit: Unit of both.
    """
    return f"{a + b}{unit}"


ARGS = json.dumps({"a": 1, "b": 2.5, "unit": "km"})


def per_call(fn: Callable[[], Any], n: int) -> float:
    """Best of 5 rounds of n calls, in µs per call."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6


async def per_invoke(fn: Callable[[], Awaitable[Any]], n: int) -> float:
    """Best of 5 rounds of n awaited calls, in µs per call."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(n):
            await fn()
        best = min(best, time.perf_counter() - start)
    return best / n * 1e6


async def main() -> None:
    inline = tool(add, inline=True)
    threaded = tool(add)
    assert (await inline.invoke(ARGS)).content == "3.5km"

    direct = per_call(lambda: add(**json.loads(ARGS)), 20_000)  # the honest baseline parses too
    bare = per_call(lambda: add(1, 2.5, "km"), 20_000)
    fast = await per_invoke(lambda: inline.invoke(ARGS), 20_000)
    hop = await per_invoke(lambda: threaded.invoke(ARGS), 2_000)
    build = per_call(lambda: Tool(add), 200)
    strict = per_call(lambda: Tool(add, strict=True), 200)

    print(f"direct call (no parsing):         {bare:8.2f} µs")
    print(f"direct call (json.loads + call):  {direct:8.2f} µs")
    print(
        f"invoke, inline:                   {fast:8.2f} µs  overhead {fast - bare:6.2f} µs"
        f"  ({fast / bare:.1f}x the bare call, {fast / direct:.1f}x json+call)"
    )
    print(
        f"invoke, worker thread:            {hop:8.2f} µs  overhead {hop - bare:6.2f} µs"
        f"  ({hop / bare:.1f}x the bare call)"
    )
    print(f"schema generation per tool:       {build:8.2f} µs  (strict too: {strict:.2f} µs)")


if __name__ == "__main__":
    anyio.run(main)
