"""Many concurrent agent runs in one process: errors, throughput and memory.

Starts ``--runs`` agent runs at once (default 10,000) on one shared Agent, ``--rounds`` times,
against agentkit.testing.FakeServer in its own process. Each run is the benchmark harness's
task: two tool turns of two parallel ``add`` calls (sync tools: the thread hop), then a final
answer built from the four results (3 model requests, 4 tool calls); a run counts as correct
only if its answer carries all four. Memory is bounded when the peak RSS stops growing after
the first round: nothing per-run outlives its run. Per-run memory is the first round's peak
RSS above the RSS before it, divided by the runs in flight.

    .venv/bin/python benchmarks/bench_agent_concurrency.py [--runs 10000] [--rounds 3]
        [--backend asyncio|trio] [--server fake|harness]

``--server harness`` uses the shared harness's raw-asyncio server instead (same task, its
answer ``FINAL n=4 last=3|3``; see ``bench_agent_ab.py``): FakeServer, a thread per
connection, is the slower side of the pair, so with it the figure is the server's throughput.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import anyio

from agentkit import Agent, ChatClient, tool

SERVER = """
import sys
from agentkit.testing import FakeServer, text, tool_calls

def respond(body):
    messages = body["messages"]
    if sum(m["role"] == "assistant" for m in messages) < 2:
        return tool_calls(("add", {"x": 1, "y": 2}), ("add", {"x": 3}))
    return text("sum: " + ",".join(m["content"] for m in messages if m["role"] == "tool"))

server = FakeServer(responder=respond).start()
print(server.url, flush=True)
sys.stdin.read()
server.stop()
"""
EXPECTED = ("sum: 3,3,3,3", "FINAL n=4 last=3|3")  # FakeServer's answer, the harness's


@tool
def add(x: int, y: int = 0) -> int:
    """Add two integers.

    Args:
        x: First addend.
        y: Second addend.
    """
    return x + y


def peak_rss_mib() -> float:
    """The process's peak resident set so far (ru_maxrss, KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mib() -> float:
    """The process's resident set now."""
    try:
        with open(f"/proc/{os.getpid()}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # not Linux: the peak is the best there is
        return peak_rss_mib()


async def round_of(agent: Agent[str], runs: int) -> tuple[int, int, float]:
    ok = errors = 0

    async def one(i: int) -> None:
        nonlocal ok, errors
        try:
            result = await agent.run(f"run {i}: add 1+2 and 3, twice")
            ok += result.output in EXPECTED
        except Exception as exc:  # counted and shown: the point is that there are none
            errors += 1
            if errors <= 3:
                print(f"  error: {type(exc).__name__}: {exc}")

    t = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for i in range(runs):
            tg.start_soon(one, i)
    return ok, errors, time.perf_counter() - t


async def measure(url: str, runs: int, rounds: int) -> None:
    async with ChatClient(base_url=url, api_key="sk-bench", timeout=300) as client:
        agent: Agent[Any] = Agent("m", tools=[add], client=client, instructions="Add.")
        assert (await agent.run("warm-up")).output in EXPECTED
        gc.collect()
        before = rss_mib()
        print(f"before: RSS {before:.1f} MiB, peak RSS {peak_rss_mib():.1f} MiB")
        for r in range(1, rounds + 1):
            ok, errors, seconds = await round_of(agent, runs)
            peak = peak_rss_mib()
            gc.collect()
            print(
                f"round {r}: {ok}/{runs} correct, {errors} errors, {seconds:.2f} s "
                f"({runs / seconds:.0f} runs/s), peak RSS {peak:.1f} MiB, "
                f"RSS after {rss_mib():.1f} MiB"
            )
            if r == 1:
                per_run = (peak - before) * 1024 / runs
                print(f"  memory per run in flight: {per_run:.1f} KiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--server", choices=["fake", "harness"], default="fake")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if args.server == "harness":
            from bench_agent_ab import harness_server

            url = stack.enter_context(harness_server())
        else:
            url = stack.enter_context(_fake_server())
        anyio.run(measure, url, args.runs, args.rounds, backend=args.backend)


@contextlib.contextmanager
def _fake_server() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        yield proc.stdout.readline().strip()
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)


if __name__ == "__main__":
    main()
