"""Agent loop vs the raw httpx floor, interleaved in one process: a drift-proof ratio.

The shared harness (``../shared/bench/run.py``) measures each framework in its own process, one
after another, so a noisy neighbour arriving between two phases moves the ratio by 30% or more on
a shared 2-core machine. This script runs the harness's own ``raw_httpx`` and ``agentkit``
adapters against the harness's fake server and alternates blocks of runs (ABAB...), so both
sides see the same machine; the median of the per-round ratios is reported. Same task as the
harness: 3 model requests and 4 tool calls per run; server pinned to the last CPU, client to
the first. ``--stream`` compares ``agent.stream()`` runs with the floor's raw SSE loop. Beside
the wall-clock ratio it prints the client process's CPU time per run (the server's excluded).

    ~/.cache/agentkit-bench/venv/bin/python benchmarks/bench_agent_ab.py [--rounds 10] [--runs 100]
        [--stream]

Run it with the checkout importable (``PYTHONPATH=<checkout>``); the harness is found beside a
parent directory (``/work/shared/bench``) or at ``$AGENTKIT_BENCH_HARNESS``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any


def _harness() -> Path:
    """The shared harness: ``$AGENTKIT_BENCH_HARNESS``, else ``shared/bench`` beside a parent."""
    given = os.environ.get("AGENTKIT_BENCH_HARNESS")
    if given:
        return Path(given)
    here = Path(__file__).resolve()
    for parent in here.parents:  # a checkout at /work/main or a worktree at /work/wt/name
        if (parent / "shared" / "bench" / "fake_openai_server.py").exists():
            return parent / "shared" / "bench"
    return here.parents[2] / "shared" / "bench"


HARNESS = _harness()


def _pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {cpu})


async def _block(run: Callable[[str], Awaitable[Any]], runs: int) -> tuple[float, float]:
    """Median wall-clock ms of ``runs`` runs, and mean client CPU ms per run."""
    times = []
    cpu = time.process_time()
    for _ in range(runs):
        start = time.perf_counter()
        await run("go")
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, (time.process_time() - cpu) / runs * 1000


async def _compare(base_url: str, rounds: int, runs: int, stream: bool) -> None:
    from adapters import agentkit_adapter, raw_httpx_adapter  # the harness's, unchanged

    raw = raw_httpx_adapter.build(base_url, "gpt-4o-mini", 1)
    ours = agentkit_adapter.build(base_url, "gpt-4o-mini", 1)
    sides = [r.run_stream if stream else r.run_once for r in (raw, ours)]
    for run in sides:
        assert "last=3|3" in str(await run("go")), "the loop skipped tool calls"
        await _block(run, 20)  # warm-up
    ratios, cpu_ratios = [], []
    for i in range(rounds):
        (floor, floor_cpu), (agentkit, cpu) = [await _block(run, runs) for run in sides]
        ratios.append(agentkit / floor)
        cpu_ratios.append(cpu / floor_cpu)
        print(
            f"round {i + 1:2d}: raw {floor:.2f} ms, agentkit {agentkit:.2f} ms, {ratios[-1]:.3f}x"
            f"  (CPU per run: {floor_cpu:.2f} vs {cpu:.2f} ms, {cpu_ratios[-1]:.3f}x)"
        )
    what = "streamed runs" if stream else "runs"
    print(
        f"agentkit / raw httpx, {what}, median of {rounds} rounds: "
        f"{statistics.median(ratios):.3f}x (client CPU {statistics.median(cpu_ratios):.3f}x)"
    )
    await raw.aclose()
    await ours.aclose()


@contextlib.contextmanager
def harness_server() -> Iterator[str]:
    """The harness's fake server on the last CPU, this process on the first; yields its URL.

    The scenario is the harness's: 3 model requests, 2 ``add`` calls per tool turn.
    """
    if not (HARNESS / "fake_openai_server.py").exists():
        sys.exit(f"the shared harness is not at {HARNESS}")
    if str(HARNESS) not in sys.path:
        sys.path.insert(0, str(HARNESS))
    last_cpu = (os.cpu_count() or 1) - 1
    server = subprocess.Popen(
        [sys.executable, str(HARNESS / "fake_openai_server.py"), "--host", "127.0.0.1"]
        + ["--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: _pin(last_cpu),
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # "LISTENING <port>"
        port = int(line.split()[1])
        _pin(0)
        yield f"http://127.0.0.1:{port}/scenario/3/2/add/0/v1"
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=100, help="runs per block")
    parser.add_argument("--stream", action="store_true", help="agent.stream() vs raw SSE")
    args = parser.parse_args()
    with harness_server() as url:
        asyncio.run(_compare(url, args.rounds, args.runs, args.stream))


if __name__ == "__main__":
    main()
