"""A run's own cost with the network taken out: agentkit vs the raw httpx loop, µs per run.

Both sides of the harness task (3 model requests, 4 ``add`` calls a run) talk to the same
in-process ``httpx.MockTransport`` that answers as the harness's fake server does (its own
functions build the answers, so the bytes are the same), instead of a socket: no server
process, no epoll, no scheduler noise from a second process. What is left is each loop's
own CPU work plus httpx's (the same on both sides), so the difference per run is agentkit's
cost, named without the noise that a loopback round trip adds. Blocks alternate as in
``bench_agent_ab.py``; the medians over rounds are printed.

    ~/.cache/agentkit-bench/venv/bin/python benchmarks/bench_overhead.py [--stream]
        [--rounds 15] [--runs 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from bench_agent_ab import HARNESS


def _transport() -> httpx.MockTransport:
    """The harness's fake server, scenario 3 requests of 2 ``add`` calls, as a transport."""
    sys.path.insert(0, str(HARNESS))
    import fake_openai_server as fake  # the harness's, unchanged

    scenario, _ = fake.parse_scenario("/scenario/3/2/add/0/v1/chat/completions")

    async def events(chunks: list[bytes]) -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    def handle(request: httpx.Request) -> httpx.Response:
        body = request.content
        req = json.loads(body)
        kind, payload = fake.decide(req, scenario)
        kind = "tools" if kind == "final_tool" else kind
        if not req.get("stream"):
            answer = fake.jdumps(fake.completion_body(req, kind, payload, len(body)))
            return httpx.Response(200, headers={"content-type": "application/json"}, content=answer)
        chunks = [
            b"data: " + fake.jdumps(chunk) + b"\n\n"
            for chunk in fake.stream_chunks(req, kind, payload, len(body))
        ]
        # One read, as the fake server writes the whole answer at once.
        whole = [b"".join(chunks) + b"data: [DONE]\n\n"]
        return httpx.Response(
            200, headers={"content-type": "text/event-stream"}, content=events(whole)
        )

    return httpx.MockTransport(handle)


async def _block(run: Callable[[str], Awaitable[Any]], runs: int) -> float:
    """Mean CPU µs per run over ``runs`` runs."""
    cpu = time.process_time()
    for _ in range(runs):
        await run("go")
    return (time.process_time() - cpu) / runs * 1e6


async def _compare(rounds: int, runs: int, stream: bool) -> None:
    from adapters import agentkit_adapter, raw_httpx_adapter  # the harness's, unchanged

    from agentkit import Agent, ChatClient

    transport = _transport()
    raw = raw_httpx_adapter.build("http://fake/v1", "gpt-4o-mini", 1)
    await raw.client.aclose()
    raw.client = httpx.AsyncClient(
        transport=transport, timeout=60.0, headers={"authorization": "Bearer sk-fake"}
    )
    ours = agentkit_adapter.build("http://fake/v1", "gpt-4o-mini", 1)
    await ours.aclose()
    ours.client = ChatClient(
        base_url="http://fake/v1",
        api_key="sk-fake",
        http_client=httpx.AsyncClient(transport=transport, timeout=60.0),
    )
    agent = ours.agent
    ours.agent = Agent(
        model=agent.model,
        tools=list(agent.tools.values()),
        instructions=agent.instructions,
        client=ours.client,
        max_steps=agent.max_steps,
    )
    sides = [r.run_stream if stream else r.run_once for r in (raw, ours)]
    for run in sides:
        assert "last=3|3" in str(await run("go")), "the loop skipped tool calls"
        await _block(run, 50)  # warm-up
    floors, ourss = [], []
    for _ in range(rounds):
        floor, agentkit = [await _block(run, runs) for run in sides]
        floors.append(floor)
        ourss.append(agentkit)
    floor, agentkit = statistics.median(floors), statistics.median(ourss)
    ratio = statistics.median(b / a for a, b in zip(floors, ourss, strict=True))
    what = "streamed run" if stream else "run"
    print(
        f"CPU µs per {what}, network taken out (median of {rounds} rounds of {runs}): "
        f"raw httpx {floor:.0f}, agentkit {agentkit:.0f}, agentkit's own cost "
        f"{agentkit - floor:+.0f} µs ({ratio:.3f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--runs", type=int, default=200, help="runs per block")
    parser.add_argument("--stream", action="store_true", help="agent.stream() vs raw SSE")
    args = parser.parse_args()
    if str(HARNESS) not in sys.path:
        sys.path.insert(0, str(HARNESS))
    asyncio.run(_compare(args.rounds, args.runs, args.stream))


if __name__ == "__main__":
    main()
