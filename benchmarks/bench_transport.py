"""Transport overhead: sequential ``ChatClient.complete()`` vs a plain httpx POST loop.

Both loops send the same body to the same local server (agentkit.testing.FakeServer, started in
its own process so it does not share the GIL with the clients) over one keep-alive connection.
The plain loop is the floor: ``httpx.AsyncClient.post(json=...)`` + ``response.json()``. Ours adds
parameter validation, typed parsing into ``ChatCompletion`` and the retry machinery. Blocks of
the two loops are interleaved, and the ratio of medians is reported. Target: <= 1.10x.

    .venv/bin/python benchmarks/bench_transport.py [--n 2000]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import anyio
import httpx

from agentkit.client import ChatClient

SERVER = """
import sys, time
from agentkit.testing import FakeServer, text
server = FakeServer(responder=lambda body: text("pong", usage={
    "prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6})).start()
print(server.url, flush=True)
sys.stdin.read()  # serve until the parent closes our stdin
server.stop()
"""

MESSAGES = [
    {"role": "system", "content": "You are a terse assistant."},
    {"role": "user", "content": "ping"},
]


async def plain(url: str, http: httpx.AsyncClient, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        r = await http.post(f"{url}/chat/completions", json={"model": "m", "messages": MESSAGES})
        r.raise_for_status()
        assert r.json()["choices"][0]["message"]["content"] == "pong"
        times.append(time.perf_counter() - t)
    return times


async def ours(client: ChatClient, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        completion = await client.complete(model="m", messages=MESSAGES)
        assert completion.choices[0].message.content == "pong"
        times.append(time.perf_counter() - t)
    return times


async def measure(url: str, n: int) -> tuple[list[float], list[float]]:
    http = httpx.AsyncClient(headers={"authorization": "Bearer sk-bench"})
    client = ChatClient(base_url=url, api_key="sk-bench")
    await plain(url, http, 100)  # warm-up: connections, caches
    await ours(client, 100)
    floor: list[float] = []
    mine: list[float] = []
    for _ in range(10):  # interleaved blocks: machine noise hits both loops alike
        floor += await plain(url, http, n // 10)
        mine += await ours(client, n // 10)
    await http.aclose()
    await client.aclose()
    return floor, mine


def main(n: int) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdin is not None
    url = proc.stdout.readline().strip()
    try:
        floor, mine = anyio.run(measure, url, n)
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)
    f, m = statistics.median(floor), statistics.median(mine)
    print(f"plain httpx POST loop   median {f * 1e6:8.1f} µs/request")
    print(f"ChatClient.complete()   median {m * 1e6:8.1f} µs/request")
    print(f"ratio {m / f:.3f}x (target <= 1.10x); overhead {(m - f) * 1e6:+.1f} µs/request")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    main(parser.parse_args().n)
