"""Many concurrent agent runs in one process: errors, throughput and memory.

Runs ``--runs`` agent runs at once (default 1000) on one shared Agent, ``--rounds`` times,
against agentkit.testing.FakeServer in its own process. Each run is the benchmark harness's
task: two parallel ``add`` tool calls, then a final answer (2 model requests, 2 tool calls).
Memory is bounded when the peak RSS stops growing after the first round: nothing per-run
outlives its run.

    .venv/bin/python benchmarks/bench_agent_concurrency.py [--runs 1000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import gc
import resource
import subprocess
import sys
import time
from typing import Any

import anyio

from agentkit import Agent, ChatClient, tool

SERVER = """
import sys
from agentkit.testing import FakeServer, text, tool_calls

def respond(body):
    last = body["messages"][-1]
    if last["role"] == "tool":
        results = [m["content"] for m in body["messages"] if m["role"] == "tool"]
        return text("sum: " + ",".join(results))
    return tool_calls(("add", {"x": 1, "y": 2}), ("add", {"x": 3}))

server = FakeServer(responder=respond).start()
print(server.url, flush=True)
sys.stdin.read()
server.stop()
"""


@tool
def add(x: int, y: int = 0) -> int:
    """Add two integers.

    Args:
        x: First addend.
        y: Second addend.
    """
    return x + y


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def round_of(agent: Agent[str], runs: int) -> tuple[int, int, float]:
    ok = errors = 0

    async def one(i: int) -> None:
        nonlocal ok, errors
        try:
            result = await agent.run(f"run {i}: add 1+2 and 3")
            ok += result.output == "sum: 3,3"
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
    async with ChatClient(base_url=url, api_key="sk-bench", timeout=120) as client:
        agent: Agent[Any] = Agent("m", tools=[add], client=client, instructions="Add.")
        print(f"before: peak RSS {rss_mib():.1f} MiB")
        for r in range(1, rounds + 1):
            ok, errors, seconds = await round_of(agent, runs)
            gc.collect()
            print(f"round {r}: {ok}/{runs} correct, {errors} errors, {seconds:.2f} s "
                  f"({runs / seconds:.0f} runs/s), peak RSS {rss_mib():.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdin is not None
    url = proc.stdout.readline().strip()
    try:
        anyio.run(measure, url, args.runs, args.rounds)
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
