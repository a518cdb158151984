"""Where a run's time goes: µs per model request, tool call and streamed chunk, beside the floor's.

Each line times one operation of the harness's task (3 model requests, 4 ``add`` calls a run)
done by agentkit and by the raw httpx loop of the shared harness, in alternating blocks in one
process against the harness's fake server (the same setup as ``bench_agent_ab.py``), and
prints the median over rounds of each side's mean µs and the difference. The last lines
subtract the parts from a whole run: what is left is the loop itself (messages, state, the
tool turn's task group, events when streaming).

    ~/.cache/agentkit-bench/venv/bin/python benchmarks/bench_breakdown.py [--rounds 15] [-n 40]

With ``--cpu`` the figures are the client process's CPU time instead of wall-clock time: on a
loaded machine CPU time is steadier, and it leaves out the server's share of each request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from bench_agent_ab import harness_server

Op = Callable[[], Awaitable[Any]]


async def _aadd(x: int, y: int = 0) -> int:
    """Add two integers.

    Args:
        x: First addend.
        y: Second addend.
    """
    return x + y


def _histories(messages: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The message list each request of a run sends: everything before each assistant turn."""
    return [messages[:i] for i, m in enumerate(messages) if m["role"] == "assistant"]


async def _ops(url: str) -> tuple[list[tuple[str, int, Op, Op]], dict[str, float], Any]:
    """(line, times per run, raw op, agentkit op) for each line, and chunks per request."""
    from adapters import _agentkit_default as ours_mod  # the harness's agentkit adapter
    from adapters import raw_httpx_adapter
    from adapters._common import TOOL_SCHEMAS, call_tool, merge_tool_call_deltas

    from agentkit import tool

    raw = raw_httpx_adapter.build(url, "m", 1)
    ours = ours_mod.build(url, "m", 1)
    result = await ours.agent.run("go")
    histories = _histories(result.messages)
    assert len(histories) == 3, "the scenario is 3 requests a run"
    tools = [t.definition() for t in (ours_mod.add, ours_mod.slow, ours_mod.aslow)]
    client, http = ours.client, raw.client
    turn = iter(range(1 << 62))

    def history() -> list[dict[str, Any]]:
        return histories[next(turn) % 3]  # the run's three requests, in turn

    async def raw_request() -> Any:
        body = {"model": "m", "messages": history(), "tools": TOOL_SCHEMAS}
        response = await http.post(raw.url, json=body)
        response.raise_for_status()
        return response.json()["choices"][0]["message"]

    async def our_request() -> Any:
        return await client.complete(model="m", messages=history(), tools=tools)

    chunks = {"raw": 0.0, "agentkit": 0.0}

    async def raw_stream() -> Any:
        body = {"model": "m", "messages": history(), "tools": TOOL_SCHEMAS, "stream": True}
        body["stream_options"] = {"include_usage": True}
        text: list[str] = []
        acc: dict[int, Any] = {}
        n = 0
        async with http.stream("POST", raw.url, json=body) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    continue
                n += 1
                for choice in json.loads(data).get("choices") or ():
                    delta = choice.get("delta") or {}
                    if delta.get("content"):
                        text.append(delta["content"])
                    if delta.get("tool_calls"):
                        merge_tool_call_deltas(acc, delta["tool_calls"])
        chunks["raw"] = n
        return "".join(text), acc

    async def our_stream() -> Any:
        n = 0
        async with client.stream(model="m", messages=history(), tools=tools) as stream:
            async for _ in stream:
                n += 1
            completion = await stream.get_final_completion()
        chunks["agentkit"] = n
        return completion

    args = '{"x": 1, "y": 2}'
    aadd = tool(_aadd)

    async def raw_async_tool() -> str:
        # The harness's call_tool, with an async function in its table.
        fn = _aadd
        try:
            parsed = json.loads(args or "{}")
            if asyncio.iscoroutinefunction(fn):
                return str(await fn(**parsed))
            return str(await asyncio.to_thread(fn, **parsed))
        except Exception as e:
            return f"error: {type(e).__name__}: {e}"

    ops: list[tuple[str, int, Op, Op]] = [
        ("model request (JSON)", 3, raw_request, our_request),
        ("model request (streamed)", 3, raw_stream, our_stream),
        (
            "sync tool call (thread hop)",
            4,
            lambda: call_tool("add", args, json.loads),
            lambda: ours_mod.add.invoke(args),
        ),
        ("async tool call", 4, raw_async_tool, lambda: aadd.invoke(args)),
        ("whole run", 1, lambda: raw.run_once("go"), lambda: ours.run_once("go")),
        ("whole run (streamed)", 1, lambda: raw.run_stream("go"), lambda: ours.run_stream("go")),
    ]
    return ops, chunks, (raw, ours)


async def _measure(url: str, rounds: int, n: int, cpu: bool) -> None:
    ops, chunks, runners = await _ops(url)
    clock = time.process_time if cpu else time.perf_counter
    for _, _, raw_op, our_op in ops:  # warm-up, and a check that each op works
        for _ in range(10):
            await raw_op()
            await our_op()
    samples: dict[str, list[tuple[float, float]]] = {line: [] for line, *_ in ops}
    for _ in range(rounds):
        for line, _, raw_op, our_op in ops:
            pair = []
            for op in (raw_op, our_op):
                start = clock()
                for _ in range(n):
                    await op()
                pair.append((clock() - start) / n * 1e6)
            samples[line].append((pair[0], pair[1]))
    med = {
        line: (statistics.median(a for a, _ in s), statistics.median(b for _, b in s))
        for line, s in samples.items()
    }
    unit = "µs CPU" if cpu else "µs"
    print(f"median of {rounds} rounds of {n}; {unit} per operation")
    head = ("operation", "raw", "agentkit", "extra", "x/run", "extra/run")
    print("{:34} {:>9} {:>9} {:>8} {:>6} {:>10}".format(*head))
    for line, times, *_ in ops:
        a, b = med[line]
        print(f"{line:34} {a:9.1f} {b:9.1f} {b - a:8.1f} {times:6d} {(b - a) * times:10.1f}")
    per = chunks["agentkit"] or 1
    a, b = med["model request (streamed)"]
    c, d = med["model request (JSON)"]
    print(
        f"{'  per streamed chunk (beyond JSON)':34} {(a - c) / (chunks['raw'] or 1):9.1f} "
        f"{(b - d) / per:9.1f} {((b - d) - (a - c)) / per:8.1f}   ({chunks['agentkit']:.0f} chunks"
        " in the last request)"
    )
    for whole, request in (
        ("whole run", "model request (JSON)"),
        ("whole run (streamed)", "model request (streamed)"),
    ):
        parts = [med[request]] * 3 + [med["sync tool call (thread hop)"]] * 4
        rest = [med[whole][i] - sum(p[i] for p in parts) for i in (0, 1)]
        label = "  loop itself" + (" (streamed)" if "streamed" in whole else "")
        print(
            f"{label:34} {rest[0]:9.1f} {rest[1]:9.1f} {rest[1] - rest[0]:8.1f}      1 "
            f"{rest[1] - rest[0]:10.1f}"
        )
    for runner in runners:
        await runner.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("-n", type=int, default=40, help="operations per block")
    parser.add_argument("--cpu", action="store_true", help="client CPU time, not wall clock")
    args = parser.parse_args()
    with harness_server() as url:
        anyio.run(_measure, url, args.rounds, args.n, args.cpu)


if __name__ == "__main__":
    main()
