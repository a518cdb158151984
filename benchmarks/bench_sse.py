"""SSE parsing + assembly throughput: agentkit's ChatClient.stream vs the official openai SDK.

Both clients read the same byte stream from an in-memory transport (httpx.MockTransport for
agentkit; httpx2.MockTransport for openai>=3, which runs on httpx2), delivered in network-sized
pieces, and assemble the final completion (agentkit: ``get_final_completion()``; openai:
``chat.completions.stream(...)`` + ``get_final_completion()``). No sockets, so the number is the
cost of parsing and assembling. Target: agentkit >= 1.5x faster.

Then linearity: one event whose single ``data:`` line holds 1, 8 and 32 MB of content, read in
64 KiB pieces through ``ChatClient.stream``. A parser that re-scans its buffer on every read is
quadratic (32 MB took ~10 s); the time per MB must stay flat. Target: the largest line costs
at most 1.5x per MB what the next size does (quadratic would be 4x from 8 to 32 MB). The 1 MB
line fits in the CPU cache, so it is cheaper per MB than the others on any parser.

    .venv/bin/python benchmarks/bench_sse.py [--rounds 200] [--sizes 1,8,32]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import AsyncIterator

import anyio
import httpx

from agentkit.client import ChatClient


def build_stream() -> bytes:
    """A realistic stream: reasoning, 300 text deltas, two tool calls in fragments, usage."""
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    events: list[dict[str, object]] = [
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
    ]
    for i in range(50):
        delta = {"reasoning_content": f"thinking {i} "}
        events.append({**base, "choices": [{"index": 0, "delta": delta}]})
    for i in range(300):
        events.append({**base, "choices": [{"index": 0, "delta": {"content": f"word{i} "}}]})
    for call in range(2):
        first = {
            "index": call,
            "id": f"call_{call}",
            "type": "function",
            "function": {"name": "lookup", "arguments": ""},
        }
        events.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": [first]}}]})
        for j in range(20):
            frag = {"index": call, "function": {"arguments": f'{{"k{j}": {j}}}'[:8]}}
            events.append({**base, "choices": [{"index": 0, "delta": {"tool_calls": [frag]}}]})
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    events.append(
        {
            **base,
            "choices": [],
            "usage": {"prompt_tokens": 10, "completion_tokens": 400, "total_tokens": 410},
        }
    )
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    return body.encode()


STREAM = build_stream()
PIECE = 1400  # roughly one TCP segment per read


async def pieces() -> AsyncIterator[bytes]:
    for i in range(0, len(STREAM), PIECE):
        yield STREAM[i : i + PIECE]


def handler(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=pieces())


async def run_agentkit(rounds: int) -> list[float]:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    client = ChatClient(base_url="http://bench/v1", api_key="sk-bench", http_client=http)
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        async with client.stream(model="m", messages=[{"role": "user", "content": "hi"}]) as s:
            completion = await s.get_final_completion()
        times.append(time.perf_counter() - t)
    assert completion.choices[0].message.tool_calls, "assembly lost the tool calls"
    await http.aclose()
    return times


async def run_openai(rounds: int, *, assemble: bool = True) -> list[float]:
    import httpx2
    import openai

    def handler2(request: httpx2.Request) -> httpx2.Response:
        async def gen() -> AsyncIterator[bytes]:
            for i in range(0, len(STREAM), PIECE):
                yield STREAM[i : i + PIECE]

        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=gen())

    http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler2))
    client = openai.AsyncOpenAI(base_url="http://bench/v1", api_key="sk-bench", http_client=http)
    times = []
    messages: list[openai.types.chat.ChatCompletionMessageParam] = [
        {"role": "user", "content": "hi"}
    ]
    for _ in range(rounds):
        t = time.perf_counter()
        if assemble:
            async with client.chat.completions.stream(model="m", messages=messages) as s:
                completion = await s.get_final_completion()
            assert completion.choices[0].message.tool_calls, "openai assembly lost the tool calls"
        else:  # parse only: iterate the typed chunks, no assembly
            stream = await client.chat.completions.create(model="m", messages=messages, stream=True)
            async for _chunk in stream:
                pass
        times.append(time.perf_counter() - t)
    await http.aclose()
    return times


def long_line_stream(megabytes: int) -> bytes:
    """One chunk whose content is ``megabytes`` MB on a single ``data:`` line, then [DONE]."""
    base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    head = json.dumps(
        {**base, "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "stop"}]}
    )
    marker = '"content": ""'
    filled = head.replace(marker, '"content": "' + "x" * (megabytes * 1_000_000) + '"')
    return b"data: " + filled.encode() + b"\n\ndata: [DONE]\n\n"


async def time_long_line(megabytes: int, repeats: int = 3) -> float:
    """Best seconds to stream and assemble a ``megabytes`` MB line, read in 64 KiB pieces."""
    body = long_line_stream(megabytes)

    def long_handler(request: httpx.Request) -> httpx.Response:
        async def reads() -> AsyncIterator[bytes]:
            for i in range(0, len(body), 65536):
                yield body[i : i + 65536]

        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=reads())

    http = httpx.AsyncClient(transport=httpx.MockTransport(long_handler))
    client = ChatClient(
        base_url="http://bench/v1",
        api_key="sk-bench",
        http_client=http,
        max_sse_event_bytes=len(body),
    )
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        async with client.stream(model="m", messages=[{"role": "user", "content": "hi"}]) as s:
            completion = await s.get_final_completion()
        best = min(best, time.perf_counter() - t)
        assert len(completion.choices[0].message.content or "") == megabytes * 1_000_000
    await http.aclose()
    return best


async def linearity(sizes: list[int]) -> None:
    per_mb = {}
    for megabytes in sizes:
        seconds = await time_long_line(megabytes)
        per_mb[megabytes] = seconds / megabytes
        print(
            f"one {megabytes:>3} MB line          {seconds * 1000:8.1f} ms "
            f"({per_mb[megabytes] * 1000:.1f} ms/MB)"
        )
    if len(sizes) > 1:
        small, large = sorted(sizes)[-2:]
        ratio = per_mb[large] / per_mb[small]
        print(
            f"cost per MB at {large} MB is {ratio:.2f}x that at {small} MB (target <= 1.5x; "
            f"quadratic: {large / small:.0f}x)"
        )


async def main(rounds: int, sizes: list[int]) -> None:
    await run_agentkit(10)  # warm-up both
    await run_openai(10)
    await run_openai(10, assemble=False)
    ours: list[float] = []
    theirs: list[float] = []
    parse_only: list[float] = []
    for _ in range(5):  # interleave blocks so machine noise hits all alike
        ours += await run_agentkit(rounds // 5)
        theirs += await run_openai(rounds // 5)
        parse_only += await run_openai(rounds // 5, assemble=False)
    n_events = STREAM.count(b"data: ")
    rows = (
        ("agentkit parse+assemble", ours),
        ("openai parse+assemble", theirs),
        ("openai parse only", parse_only),
    )
    for name, values in rows:
        med = statistics.median(values)
        print(
            f"{name:<24} median {med * 1000:7.2f} ms/stream  "
            f"({n_events / med:,.0f} events/s, {len(STREAM) / med / 1e6:.1f} MB/s)"
        )
    ratio = statistics.median(theirs) / statistics.median(ours)
    print(f"agentkit parse+assemble is {ratio:.2f}x faster than openai's (target >= 1.5x)")
    ratio = statistics.median(parse_only) / statistics.median(ours)
    print(f"agentkit parse+assemble is {ratio:.2f}x faster than openai parse-only")
    if sizes:
        await linearity(sizes)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--sizes", default="1,8,32", help="MB per line for the linearity run")
    args = parser.parse_args()
    anyio.run(main, args.rounds, [int(n) for n in args.sizes.split(",") if n])
