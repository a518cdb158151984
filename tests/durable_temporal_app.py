"""The durable agent the Temporal tests run, and the worker process they start and kill.

Tools leave a side effect (a line in ``<dir>/<tool>.count`` per execution) so tests can count
executions across processes; ``dir`` comes in the run's deps, as JSON data.

Run as ``python -m tests.durable_temporal_app TARGET TASK_QUEUE READY_FILE``: a worker
serving `durable` until killed, with ``AGENTKIT_BASE_URL`` pointing at the test's FakeServer.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
from pydantic import BaseModel
from temporalio.client import Client
from temporalio.common import RetryPolicy

from agentkit import Agent, RunContext, tool
from agentkit.durable.temporal import TemporalAgent, pydantic_data_converter, worker
from agentkit.testing import tool_calls


class Deps(BaseModel):
    """Where the tools count their executions."""

    dir: str


def _count(ctx: RunContext[Deps], name: str, value: object) -> int:
    """Append ``<value> <pid>`` for this execution; returns how many lines came before it."""
    path = Path(ctx.deps.dir) / f"{name}.count"
    before = len(path.read_text().splitlines()) if path.exists() else 0
    with path.open("a") as file:
        file.write(f"{value} {os.getpid()}\n")
    return before


@tool
async def first(ctx: RunContext[Deps], x: int) -> str:
    """The first step.

    Args:
        x: The value.
    """
    _count(ctx, "first", str(x))
    return f"first({x})={x + 1}"


@tool
async def second(ctx: RunContext[Deps], x: int) -> str:
    """The second step; its first execution in a run hangs if ``<dir>/hang`` exists.

    Args:
        x: The value.
    """
    before = _count(ctx, "second", str(x))
    if before == 0 and (Path(ctx.deps.dir) / "hang").exists():
        await anyio.sleep_forever()  # until the test kills this worker
    return f"second({x})={x * 2}"


@tool
async def flaky(ctx: RunContext[Deps], fails: int) -> str:
    """Raise on the first ``fails`` executions, then succeed.

    Args:
        fails: How many executions fail.
    """
    if _count(ctx, "flaky", fails) < fails:
        raise RuntimeError("flaky failed")
    return "flaky worked"


@tool(requires_approval=True)
async def refund(ctx: RunContext[Deps], amount: int) -> str:
    """Refund money (needs a human's approval).

    Args:
        amount: How much.
    """
    _count(ctx, "refund", str(amount))
    return f"refunded {amount}"


agent = Agent("fake-model", tools=[first, second, flaky, refund], name="steps")
durable = TemporalAgent(
    agent,
    deps_type=Deps,
    tool_activities={
        # Short, so a run whose worker died retries `second` on another worker within seconds.
        "second": {"start_to_close_timeout": timedelta(seconds=3)},
        "flaky": {
            "retry_policy": RetryPolicy(
                initial_interval=timedelta(milliseconds=10), maximum_attempts=2
            )
        },
    },
)
limited = TemporalAgent(
    Agent("fake-model", tools=[first, second], max_steps=1, name="limited"), deps_type=Deps
)


def respond(body: dict[str, Any]) -> Any:
    """The model: ``go N`` calls first(N) and second(N) together, ``one N`` first(N) alone,
    ``refund N`` refund(N), ``flaky N`` flaky(N); then it answers with the replies joined."""
    messages = body["messages"]
    last = messages[-1]
    if last["role"] == "user":
        verb, _, number = last["content"].partition(" ")
        n = int(number)
        if verb == "refund":
            return tool_calls(("refund", {"amount": n}))
        if verb == "twice":  # two calls sharing one id, as some servers send
            return tool_calls(
                ("refund", {"amount": n}, "dup"), ("refund", {"amount": n + 1}, "dup")
            )
        if verb == "one":
            return tool_calls(("first", {"x": n}))
        if verb == "flaky":
            return tool_calls(("flaky", {"fails": n}))
        return tool_calls(("first", {"x": n}), ("second", {"x": n}))
    replies = [m["content"] for m in messages if m["role"] == "tool"]
    return "; ".join(replies)


async def serve(target: str, task_queue: str, ready: str) -> None:
    """Serve `durable` on ``task_queue`` until killed; write ``ready`` once polling."""
    client = await Client.connect(target, data_converter=pydantic_data_converter)
    # A killed worker's sticky queue would hold its runs' next workflow task for the default
    # 10 s before Temporal hands it to another worker: 1 s keeps the crash test short.
    async with worker(
        client,
        [durable, limited],
        task_queue=task_queue,
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=1),
    ):
        await anyio.Path(ready).write_text(json.dumps({"pid": os.getpid()}))
        await anyio.sleep_forever()


if __name__ == "__main__":
    target, task_queue, ready = sys.argv[1:4]
    anyio.run(serve, target, task_queue, ready)
