"""Agent loop vs the raw httpx floor, interleaved in one process: a drift-proof ratio.

The shared harness (``../shared/bench/run.py``) measures each framework in its own process, one
after another, so a noisy neighbour arriving between two phases moves the ratio by 30% or more on
a shared 2-core machine. This script runs the harness's own ``raw_httpx`` and ``agentkit``
adapters against the harness's fake server and alternates blocks of runs (ABAB...), so both
sides see the same machine; the median of the per-round ratios is reported. Same task as the
harness: 3 model requests and 4 tool calls per run; server pinned to the last CPU, client to
the first.

    ~/.cache/agentkit-bench/venv/bin/python benchmarks/bench_agent_ab.py [--rounds 10] [--runs 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
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


async def _median_ms(runner: Any, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await runner.run_once("go")
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


async def _compare(base_url: str, rounds: int, runs: int) -> None:
    from adapters import agentkit_adapter, raw_httpx_adapter  # the harness's, unchanged

    raw = raw_httpx_adapter.build(base_url, "gpt-4o-mini", 1)
    ours = agentkit_adapter.build(base_url, "gpt-4o-mini", 1)
    for runner in (raw, ours):
        assert "last=3|3" in str(await runner.run_once("go")), "the loop skipped tool calls"
        await _median_ms(runner, 20)  # warm-up
    ratios = []
    for i in range(rounds):
        floor, agentkit = await _median_ms(raw, runs), await _median_ms(ours, runs)
        ratios.append(agentkit / floor)
        print(
            f"round {i + 1:2d}: raw {floor:.2f} ms, agentkit {agentkit:.2f} ms, {ratios[-1]:.3f}x"
        )
    print(f"agentkit / raw httpx, median of {rounds} rounds: {statistics.median(ratios):.3f}x")
    await raw.aclose()
    await ours.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=100, help="runs per block")
    args = parser.parse_args()
    if not (HARNESS / "fake_openai_server.py").exists():
        sys.exit(f"the shared harness is not at {HARNESS}")
    sys.path.insert(0, str(HARNESS))
    last_cpu = (os.cpu_count() or 1) - 1
    server = subprocess.Popen(
        [
            sys.executable,
            str(HARNESS / "fake_openai_server.py"),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: _pin(last_cpu),
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()  # "LISTENING <port>"
        port = int(line.split()[1])
        _pin(0)
        asyncio.run(
            _compare(f"http://127.0.0.1:{port}/scenario/3/2/add/0/v1", args.rounds, args.runs)
        )
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
