"""Cold start: the first run in a fresh process, agentkit vs the raw httpx loop.

Each sample is a fresh interpreter that times, in-process, importing the harness adapter
(agentkit or raw httpx), building its agent and making one whole run of the harness task
against the harness's fake server; interpreter start-up cancels out. Samples alternate between
the two sides; the median ratio of the pairs is reported (target: <= 1.2x), with each side's
median and the import alone.

    ~/.cache/agentkit-bench/venv/bin/python benchmarks/bench_cold_start.py [-n 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

from bench_agent_ab import HARNESS, harness_server

CHILD = """
import asyncio, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[2])
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


def sample(name: str, url: str) -> tuple[float, float]:
    """(import seconds, import + build + first run seconds) in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD.format(name=name), url, str(HARNESS)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=15)
    args = parser.parse_args()
    sides = ("raw_httpx_adapter", "agentkit_adapter")
    with harness_server() as url:
        for name in sides:  # warm the .pyc caches
            sample(name, url)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in sides}
        for _ in range(args.n):
            for name in sides:
                times[name].append(sample(name, url))
    ratios = [b[1] / a[1] for a, b in zip(*times.values(), strict=True)]
    for name in sides:
        imports = statistics.median(t[0] for t in times[name]) * 1000
        total = statistics.median(t[1] for t in times[name]) * 1000
        print(f"{name:18} import {imports:6.1f} ms, import + first run {total:6.1f} ms")
    ratio = statistics.median(ratios)
    print(f"cold start, agentkit / raw httpx, median of {args.n} pairs: {ratio:.3f}x")


if __name__ == "__main__":
    main()
