"""What agentkit.otel costs a run: off, instrumented without an SDK, and recording, interleaved.

Four agents run the shared harness's task (3 model requests, 4 tool calls per run) against
its fake server, in blocks that alternate (ABCABC...) so all see the same machine; the median
of the per-round ratios to the plain agent is reported:

- ``off``: no interceptor (what every agent runs when agentkit.otel is not used);
- ``seam``: a bare `Interceptor` (the core's interceptor path alone, for comparison);
- ``api only``: an `OTelInterceptor` with no SDK configured (the API's no-op tracer/meter);
- ``recording``: an `OTelInterceptor` on an SDK tracer provider (batch processor, an exporter
  that drops what it gets) and an SDK meter provider (in-memory reader).

Off-vs-main is measured by ``bench_agent_ab.py`` on each tree (its ratio to raw httpx).

    .venv/bin/python benchmarks/bench_otel.py [--rounds 10] [--runs 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# ../shared/bench beside the checkout (or beside a folder of worktrees), or where it is said to be
HARNESS = Path(
    os.environ.get("AGENTKIT_BENCH_HARNESS")
    or next(
        (p / "shared" / "bench" for p in Path(__file__).resolve().parents
         if (p / "shared" / "bench").is_dir()),
        Path("../shared/bench"),
    )
)  # fmt: skip


def _pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {cpu})


async def _block(agent: Any, runs: int) -> tuple[float, float]:
    """Median wall time of a run, and this process's CPU time per run (ms).

    CPU time counts only this process (the server is another one, and the SDK's export
    thread is counted), so it moves far less than wall time when neighbours load the machine.
    """
    times = []
    cpu = time.process_time()
    for _ in range(runs):
        start = time.perf_counter()
        await agent.run("go")
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, (time.process_time() - cpu) / runs * 1000


def _recording_providers() -> tuple[Any, Any]:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Drop(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(Drop()))
    return tracer_provider, MeterProvider(metric_readers=[InMemoryMetricReader()])


async def _compare(base_url: str, rounds: int, runs: int) -> None:
    from adapters._common import INSTRUCTIONS  # the harness's task, unchanged

    from agentkit import Agent, ChatClient, tool
    from agentkit.interceptors import Interceptor
    from agentkit.otel import OTelInterceptor

    @tool
    def add(x: int, y: int = 0) -> int:
        """Add two integers.

        Args:
            x: First addend.
            y: Second addend.
        """
        return x + y

    tracer_provider, meter_provider = _recording_providers()
    client = ChatClient(base_url=base_url, api_key="sk-fake")
    variants = {
        "off": [],
        "seam": [Interceptor()],
        "api only": [OTelInterceptor()],
        "recording": [
            OTelInterceptor(tracer_provider=tracer_provider, meter_provider=meter_provider)
        ],
    }
    agents = {
        name: Agent("gpt-4o-mini", tools=[add], instructions=INSTRUCTIONS, client=client,
                    interceptors=interceptors)
        for name, interceptors in variants.items()
    }  # fmt: skip
    for agent in agents.values():
        assert "last=3|3" in (await agent.run("go")).output, "the loop skipped tool calls"
        await _block(agent, 20)  # warm-up
    wall: dict[str, list[float]] = {name: [] for name in variants if name != "off"}
    cpu: dict[str, list[float]] = {name: [] for name in variants if name != "off"}
    for i in range(rounds):
        blocks = {name: await _block(agent, runs) for name, agent in agents.items()}
        for name in wall:
            wall[name].append(blocks[name][0] / blocks["off"][0])
            cpu[name].append(blocks[name][1] / blocks["off"][1])
        shown = ", ".join(f"{n} {w:.2f} ms ({c:.2f} cpu)" for n, (w, c) in blocks.items())
        print(f"round {i + 1:2d}: {shown}")
    for name in wall:
        print(
            f"{name} / off, median of {rounds} rounds: wall {statistics.median(wall[name]):.3f}x,"
            f" CPU {statistics.median(cpu[name]):.3f}x"
        )
    await client.aclose()
    tracer_provider.shutdown()
    meter_provider.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=100, help="runs per block")
    args = parser.parse_args()
    if not (HARNESS / "fake_openai_server.py").exists():
        sys.exit(f"the shared harness is not at {HARNESS}")
    sys.path.insert(0, str(HARNESS))
    last_cpu = (os.cpu_count() or 1) - 1
    server = subprocess.Popen(
        [sys.executable, str(HARNESS / "fake_openai_server.py"), "--host", "127.0.0.1",
         "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: _pin(last_cpu),
    )  # fmt: skip
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])  # "LISTENING <port>"
        _pin(0)
        url = f"http://127.0.0.1:{port}/scenario/3/2/add/0/v1"
        asyncio.run(_compare(url, args.rounds, args.runs))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
