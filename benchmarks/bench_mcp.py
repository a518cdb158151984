"""MCP tool-call overhead: an agentkit MCPServer tool vs a bare `mcp` ClientSession call.

Both sides call the same tool (``echo``) over the same stdio connection (the bare side uses
the SDK ClientSession under the MCPServer, so two server processes' scheduling noise can't
pass for overhead), in interleaved rounds so machine load hits both alike; the figure is the
median over rounds of (agentkit time per call) / (bare session time per call). Target: 1.1x.

Run: .venv/bin/python benchmarks/bench_mcp.py [rounds] [calls per round]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

import anyio

from agentkit.mcp import MCPServer

SERVER = [str(Path(__file__).parent.parent / "tests" / "mcp_servers" / "raw.py")]
ARGS = {"text": "hello from the benchmark"}


async def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 10  # short rounds: drift hits both alike
    ours = MCPServer.stdio(sys.executable, SERVER)
    async with ours, ours.tools_for_run() as tools:
        echo = next(t for t in tools if t.name == "echo")
        session = ours.client.session  # the SDK's own session, without agentkit's layer
        await session.list_tools()
        arguments = json.dumps(ARGS)  # what the model sends: a JSON string

        async def agentkit_calls() -> float:
            start = time.perf_counter()
            for _ in range(calls):
                result = await echo.invoke(arguments)
                assert not result.is_error, result.content
            return (time.perf_counter() - start) / calls

        async def bare_calls() -> float:
            start = time.perf_counter()
            for _ in range(calls):
                await session.call_tool("echo", json.loads(arguments))
            return (time.perf_counter() - start) / calls

        async def bare_timed_calls() -> float:
            """The bare call with the per-call timeout agentkit passes (MCPServer.timeout)."""
            start = time.perf_counter()
            for _ in range(calls):
                await session.call_tool(
                    "echo", json.loads(arguments), read_timeout_seconds=ours.timeout
                )
            return (time.perf_counter() - start) / calls

        sides = (agentkit_calls, bare_calls, bare_timed_calls)
        for side in sides:  # warm each
            await side()
        ratios, timed_ratios, ak, raw, timed = [], [], [], [], []
        for i in range(rounds):
            order = sides if i % 2 == 0 else sides[::-1]
            timings = {fn.__name__: await fn() for fn in order}
            ak.append(timings["agentkit_calls"])
            raw.append(timings["bare_calls"])
            timed.append(timings["bare_timed_calls"])
            ratios.append(ak[-1] / raw[-1])
            timed_ratios.append(ak[-1] / timed[-1])
    print(f"{rounds} rounds x {calls} calls, stdio server {SERVER[0]}")
    print(f"bare ClientSession.call_tool : {statistics.median(raw) * 1e6:8.1f} us/call (median)")
    print(f"agentkit Tool.invoke over MCP: {statistics.median(ak) * 1e6:8.1f} us/call (median)")
    print(f"bare call with its timeout   : {statistics.median(timed) * 1e6:8.1f} us/call (median)")
    print(f"ratio agentkit / bare: median {statistics.median(ratios):.3f} "
          f"(min {min(ratios):.3f}, max {max(ratios):.3f}); target <= 1.1")  # fmt: skip
    print(f"ratio agentkit / bare with the same timeout: median "
          f"{statistics.median(timed_ratios):.3f}")  # fmt: skip


if __name__ == "__main__":
    anyio.run(main)
