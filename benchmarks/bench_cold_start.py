"""Cold start: the first run in a fresh process, agentkit vs the raw httpx loop.

Each sample is a fresh interpreter that times, in-process, importing the harness adapter
(agentkit or raw httpx), building its agent and making one whole run of the harness task
against the harness's fake server; interpreter start-up cancels out. Samples alternate between
the sides; the median ratio of the pairs is reported (target: <= 1.2x), with each side's
median, the import alone and the first run alone.

A third side is the floor that agentkit's runtime dependencies set: the raw loop, after
importing what any program built on them pays for once (pydantic's models with one model
built and used, anyio, docstring-parser). Its ratio to the raw loop is the part of the cold
start that no code on these libraries can avoid; agentkit's ratio to it is agentkit's own.

    ~/.cache/agentkit-bench/venv/bin/python benchmarks/bench_cold_start.py [-n 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from collections.abc import Callable

from bench_agent_ab import HARNESS, harness_server

# What a program built on agentkit's runtime dependencies pays before its first line of work.
DEPENDENCIES = """
import anyio, docstring_parser
from pydantic import BaseModel, TypeAdapter, create_model
class _Probe(BaseModel):
    x: int
_Probe.model_validate_json(b'{"x": 1}')
"""

CHILD = """
import asyncio, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[2])
{dependencies}
from adapters import {name} as adapter
t1 = time.perf_counter()

async def main():
    runner = adapter.build(sys.argv[1], "gpt-4o-mini", 1)
    out = await runner.run_once("go")
    assert "last=3|3" in str(out), out
    await runner.aclose()

asyncio.run(main())
print(t1 - t0, time.perf_counter() - t0)
"""


SIDES = {
    "raw httpx": ("raw_httpx_adapter", ""),
    "raw + dependencies": ("raw_httpx_adapter", DEPENDENCIES),
    "agentkit": ("agentkit_adapter", ""),
}
# .pyc files must be written by the warm-up, or every sample compiles from source.
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def sample(side: str, url: str) -> tuple[float, float]:
    """(import seconds, import + build + first run seconds) in a fresh interpreter."""
    name, dependencies = SIDES[side]
    child = CHILD.format(name=name, dependencies=dependencies)
    out = subprocess.run(
        [sys.executable, "-c", child, url, str(HARNESS)],
        check=True,
        capture_output=True,
        text=True,
        env=_ENV,
    ).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=15)
    args = parser.parse_args()
    with harness_server() as url:
        for side in SIDES:  # warm the .pyc caches
            sample(side, url)
        times: dict[str, list[tuple[float, float]]] = {side: [] for side in SIDES}
        for _ in range(args.n):
            for side in SIDES:
                times[side].append(sample(side, url))
    for side, samples in times.items():
        imports = statistics.median(t[0] for t in samples) * 1000
        total = statistics.median(t[1] for t in samples) * 1000
        run = statistics.median(t[1] - t[0] for t in samples) * 1000
        print(
            f"{side:18} import {imports:6.1f} ms, first run {run:6.1f} ms, "
            f"import + first run {total:6.1f} ms"
        )

    def ratio(ours: str, base: str, part: Callable[[tuple[float, float]], float]) -> float:
        pairs = zip(times[base], times[ours], strict=True)
        return statistics.median(part(b) / part(a) for a, b in pairs)

    def whole(t: tuple[float, float]) -> float:
        return t[1]

    def first_run(t: tuple[float, float]) -> float:
        return t[1] - t[0]

    print(f"median of {args.n} samples each:")
    print(f"  cold start, agentkit / raw httpx: {ratio('agentkit', 'raw httpx', whole):.3f}x")
    floor = ratio("raw + dependencies", "raw httpx", whole)
    print(f"  the dependencies' floor / raw httpx: {floor:.3f}x")
    own = ratio("agentkit", "raw + dependencies", whole)
    print(f"  agentkit / the dependencies' floor: {own:.3f}x")
    run = ratio("agentkit", "raw httpx", first_run)
    print(f"  first run alone (after the imports), agentkit / raw httpx: {run:.3f}x")


if __name__ == "__main__":
    main()
