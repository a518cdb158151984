"""One Agent, many runs at once: from several threads, each on its own event loop.

The agent, its tool executor, its output spec, its tools and a shared checkpoint store are
built once and shared; every run must still see only its own deps, messages and usage. The
model is answered through the request seam (`Agent._model_request`, the JSON-in/JSON-out
contract of docs/agents.md) so that these tests exercise the agent's shared state alone,
whatever the HTTP client does across event loops.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from pydantic import BaseModel

from agentkit.agent import Agent
from agentkit.checkpoint import FileCheckpointStore
from agentkit.context import RunContext
from agentkit.errors import RunClaimedError
from agentkit.events import Hooks, RunFinished, ToolCallRequest
from agentkit.tools import ToolResult, tool

THREADS = 4
RUNS_PER_THREAD = 6
meeting = threading.Barrier(THREADS, timeout=10)  # reset by each test that uses it


class Answer(BaseModel):
    n: int
    total: int
    owner: str


@tool
def double(n: int) -> int:
    """Double a number (a sync tool: runs in a worker thread)."""
    return 2 * n


@tool
async def owner(ctx: RunContext[str]) -> str:
    """The run's owner, from its deps."""
    await anyio.lowlevel.checkpoint()  # let the other runs of this loop interleave
    return ctx.deps


@tool
def meet(n: int) -> int:
    """Wait until one run of every thread is inside this tool: the threads really overlap."""
    meeting.wait()
    return n


def completion(message: dict[str, Any], tokens: int = 1) -> dict[str, Any]:
    return {
        "id": "c",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": tokens, "completion_tokens": 1, "total_tokens": tokens + 1},
    }


def calling(*calls: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
            for i, (name, args) in enumerate(calls)
        ],
    }


class Scripted(Agent[Answer]):
    """Answers each request from the request alone: the run's own messages, nothing shared."""

    def answer(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        n = int(next(m["content"] for m in messages if m["role"] == "user"))
        replies = [m["content"] for m in messages if m["role"] == "tool"]
        if not replies:
            calls = [("double", {"n": n}), ("owner", {})]
            return completion(calling(*calls, *([("meet", {"n": n})] if n == 0 else [])), n)
        answer = {"n": n, "total": int(replies[0]), "owner": replies[1]}
        return completion({"role": "assistant", "content": json.dumps(answer)}, n)

    async def _model_request(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.answer(params["messages"])

    async def _model_stream(self, params: dict[str, Any]) -> AsyncGenerator[Any, None]:
        await anyio.lowlevel.checkpoint()
        yield self.answer(params["messages"])


class Seen(Hooks):
    """Records, for every tool call, the deps its context had; shared by every run."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    async def after_tool(
        self, ctx: RunContext[Any], call: ToolCallRequest, result: ToolResult
    ) -> None:
        with self.lock:
            self.calls.append((ctx.deps, call.name))


def make_agent(hooks: Seen) -> Scripted:
    return Scripted(
        "m",
        instructions=lambda ctx: f"Serve {ctx.deps}.",
        tools=[double, owner, meet],
        output_type=Answer,
        hooks=[hooks],
        approve=lambda call: True,
        run_timeout=30,
    )


def test_one_agent_serves_runs_from_many_threads_and_loops(tmp_path: Path) -> None:
    meeting.reset()
    hooks = Seen()
    agent = make_agent(hooks)
    store = FileCheckpointStore(tmp_path)
    results: dict[tuple[int, int], Any] = {}
    errors: list[BaseException] = []

    async def serve(thread: int) -> None:
        async def one(i: int) -> None:
            deps = f"t{thread}"
            if i % 3 == 0:  # n == 0 for i == 0: this run meets the other threads' in `meet`
                result = await agent.run(str(i), deps=deps, checkpoint=store)
            elif i % 3 == 1:
                events = [e async for e in agent.stream(str(i), deps=deps)]
                assert isinstance(events[-1], RunFinished)
                result = events[-1].result
            else:
                async with agent.stream(str(i), deps=deps) as stream:
                    events = [e async for e in stream]
                assert isinstance(events[-1], RunFinished)
                result = events[-1].result
            results[thread, i] = result

        with anyio.fail_after(30):
            async with anyio.create_task_group() as group:
                for i in range(RUNS_PER_THREAD):
                    group.start_soon(one, i)

    def thread_main(thread: int) -> None:
        try:
            backend = "trio" if thread % 2 else "asyncio"
            anyio.run(serve, thread, backend=backend)
            # and run_sync, from every thread at once
            results[thread, -1] = agent.run_sync("7", deps=f"t{thread}")
        except BaseException as exc:  # reported below, with the thread that raised it
            errors.append(exc)

    workers = [threading.Thread(target=thread_main, args=(t,)) for t in range(THREADS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert not errors, errors
    assert len(results) == THREADS * (RUNS_PER_THREAD + 1)
    for (thread, i), result in results.items():
        n = 7 if i == -1 else i
        assert result.output == Answer(n=n, total=2 * n, owner=f"t{thread}")
        assert result.messages[0] == {"role": "system", "content": f"Serve t{thread}."}
        assert result.usage.requests == 2
        assert result.usage.prompt_tokens == 2 * n
    per_owner = {t: sum(1 for deps, _ in hooks.calls if deps == f"t{t}") for t in range(THREADS)}
    assert per_owner == dict.fromkeys(range(THREADS), 2 * (RUNS_PER_THREAD + 1) + 1)
    assert list(tmp_path.iterdir()) == []  # every checkpoint deleted, every claim released
    # The shared definitions went out unchanged, however many runs used them.
    assert [d["function"]["name"] for d in agent._base["tools"]] == ["double", "owner", "meet"]


def test_threads_resuming_one_run_id_run_its_pending_tool_once(tmp_path: Path) -> None:
    ran: list[int] = []
    inside, leave = threading.Event(), threading.Event()

    @tool
    def once(n: int) -> int:
        """Count the call, and hold the run until the other thread has tried."""
        ran.append(n)
        inside.set()
        leave.wait(10)
        return n

    class Once(Scripted):
        def answer(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
            if messages[-1]["role"] == "tool":
                answer = {"n": 5, "total": 5, "owner": "x"}
                return completion({"role": "assistant", "content": json.dumps(answer)})
            return completion(calling(("once", {"n": 5})))

    agent = Once("m", tools=[once], output_type=Answer)
    store = FileCheckpointStore(tmp_path)
    outcomes: list[Any] = []

    def start(wait_for: threading.Event | None) -> None:
        if wait_for is not None:
            wait_for.wait(10)
        try:
            run = functools.partial(agent.run_sync, "5", checkpoint=store, run_id="shared")
            outcomes.append(run().output.total)
        except RunClaimedError as exc:
            outcomes.append(exc.run_id)
        finally:
            leave.set()

    first = threading.Thread(target=start, args=(None,))
    second = threading.Thread(target=start, args=(inside,))
    first.start()
    second.start()
    first.join(30)
    second.join(30)
    assert sorted(outcomes, key=str) == [5, "shared"]
    assert ran == [5]


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_many_runs_on_one_loop_keep_to_themselves() -> None:
    hooks = Seen()
    agent = make_agent(hooks)
    results: dict[int, Any] = {}

    async def one(i: int) -> None:
        results[i] = await agent.run(str(i), deps=f"d{i}")

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            for i in range(1, 41):
                group.start_soon(one, i)
    assert all(r.output == Answer(n=i, total=2 * i, owner=f"d{i}") for i, r in results.items())
    assert sorted(hooks.calls) == sorted(
        (f"d{i}", name) for i in range(1, 41) for name in ("double", "owner")
    )
