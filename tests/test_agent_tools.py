"""Tool calls inside the loop: failures as text, approval, concurrency, cancellation, hooks."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from agentkit.agent import Agent
from agentkit.client import ChatClient
from agentkit.context import RunContext
from agentkit.errors import ModelRetry
from agentkit.events import Hooks, ToolCallRequest
from agentkit.result import RunUsage
from agentkit.testing import FakeServer, Reply, delay, http_error, text, tool_calls
from agentkit.tools import Tool, ToolResult, tool
from tests.conftest import run


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@tool
def boom() -> str:
    """Always fails."""
    raise RuntimeError("kaput")


@tool
def picky() -> str:
    """Asks the model to retry."""
    raise ModelRetry("try with more detail")


@tool(timeout=0.05)
async def sleepy() -> str:
    """Takes too long."""
    await anyio.sleep(10)
    return "never"


@tool(requires_approval=True)
def delete_file(path: str) -> str:
    """Delete a file."""
    return f"deleted {path}"


def replies(server: FakeServer, index: int = 1) -> list[dict[str, Any]]:
    """The tool messages sent with request ``index``."""
    return [m for m in server.requests[index]["messages"] if m["role"] == "tool"]


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_failures_become_tool_messages(
    server: FakeServer, client: ChatClient, stream: bool
) -> None:
    server.enqueue(
        tool_calls(
            ("nope", {}),
            ("add", "{not json"),
            ("add", {"a": "x", "b": 1}),
            ("boom", {}),
            ("picky", {}),
            ("sleepy", {}),
            ("delete_file", {"path": "/etc"}),
        )
    )
    server.enqueue("recovered")
    agent = Agent("m", tools=[add, boom, picky, sleepy, delete_file], client=client)
    result = await run(agent, "go", stream=stream)
    assert result.output == "recovered"
    sent = replies(server)
    assert [m["tool_call_id"] for m in sent] == [f"call_{i}" for i in range(1, 8)]
    contents = [m["content"] for m in sent]
    assert "no tool named 'nope'" in contents[0] and "add, boom" in contents[0]
    assert contents[1].startswith("error:")
    assert contents[2].startswith("error:") and "a" in contents[2]
    assert contents[3] == "error: RuntimeError: kaput"
    assert contents[4] == "try with more detail"
    assert "TimeoutError" in contents[5]
    assert "no approve callback" in contents[6]


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_approval(server: FakeServer, client: ChatClient, asynchronous: bool) -> None:
    asked: list[ToolCallRequest] = []

    def decide(call: ToolCallRequest) -> bool:
        asked.append(call)
        return "tmp" in call.arguments

    async def decide_async(call: ToolCallRequest) -> bool:
        await anyio.lowlevel.checkpoint()
        return decide(call)

    server.enqueue(
        tool_calls(("delete_file", {"path": "/tmp/x"}), ("delete_file", {"path": "/home"})),
        tool_calls(("add", {"a": 1, "b": 1})),
        "done",
    )
    approve = decide_async if asynchronous else decide
    agent = Agent("m", tools=[delete_file, add], client=client, approve=approve)
    await agent.run("clean up")
    assert [m["content"] for m in replies(server)] == [
        "deleted /tmp/x",
        "error: the user denied this call to 'delete_file'; it was not run",
    ]
    assert asked == [
        ToolCallRequest(call_id="call_1", name="delete_file", arguments='{"path": "/tmp/x"}'),
        ToolCallRequest(call_id="call_2", name="delete_file", arguments='{"path": "/home"}'),
    ]  # tools without requires_approval are not asked about


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_async_tools_run_concurrently(server: FakeServer) -> None:
    started = 0
    all_started = anyio.Event()

    @tool
    async def wait(n: int) -> int:
        """Wait until every call has started."""
        nonlocal started
        started += 1
        if started == 3:
            all_started.set()
        await all_started.wait()  # only returns if all three run at the same time
        return n

    server.enqueue(tool_calls(("wait", {"n": 1}), ("wait", {"n": 2}), ("wait", {"n": 3})), "ok")
    async with ChatClient(base_url=server.url, api_key="k", max_retries=0) as client:
        with anyio.fail_after(2):
            await Agent("m", tools=[wait], client=client).run("go")
    assert [m["content"] for m in replies(server)] == ["1", "2", "3"]


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_sync_tools_run_concurrently_in_threads(server: FakeServer) -> None:
    barrier = threading.Barrier(2, timeout=2)

    @tool
    def meet(n: int) -> int:
        """Wait at the barrier."""
        barrier.wait()  # raises BrokenBarrierError after 2 s unless both calls are in flight
        return n

    server.enqueue(tool_calls(("meet", {"n": 1}), ("meet", {"n": 2})), "ok")
    async with ChatClient(base_url=server.url, api_key="k", max_retries=0) as client:
        with anyio.fail_after(5):
            await Agent("m", tools=[meet], client=client).run("go")
    assert [m["content"] for m in replies(server)] == ["1", "2"]


async def test_three_slow_tools_finish_in_well_under_their_sum(
    server: FakeServer, client: ChatClient
) -> None:
    @tool
    async def slow(n: int) -> int:
        """Sleep 0.3 s."""
        await anyio.sleep(0.3)
        return n

    server.enqueue(tool_calls(("slow", {"n": 1}), ("slow", {"n": 2}), ("slow", {"n": 3})), "ok")
    start = time.perf_counter()
    await Agent("m", tools=[slow], client=client).run("go")
    assert time.perf_counter() - start < 0.75


async def test_max_concurrency_bounds_tool_calls(server: FakeServer, client: ChatClient) -> None:
    running = peak = 0

    @tool
    async def count() -> str:
        """Count concurrent calls."""
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await anyio.sleep(0.01)
        running -= 1
        return "ok"

    server.enqueue(tool_calls(*[("count", {})] * 5), "done")
    await Agent("m", tools=[count], client=client, max_concurrency=2).run("go")
    assert peak == 2
    assert len(replies(server)) == 5


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_cancelling_a_run_cancels_running_tools(
    server: FakeServer, client: ChatClient
) -> None:
    started = anyio.Event()
    cancelled = False

    @tool
    async def forever() -> str:
        """Never ends."""
        nonlocal cancelled
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            cancelled = True
        return ""  # pragma: no cover

    server.enqueue(tool_calls(("forever", {}), ("forever", {})))
    agent = Agent("m", tools=[forever], client=client)
    with anyio.fail_after(2):
        async with anyio.create_task_group() as group:
            group.start_soon(agent.run, "go")
            await started.wait()
            group.cancel_scope.cancel()
    assert cancelled
    assert len(server.requests) == 1


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_cancel_with_a_server_delay_returns_promptly(
    server: FakeServer, client: ChatClient
) -> None:
    server.enqueue(tool_calls(("add", {"a": 1, "b": 1})), delay(30, "late"))
    start = time.perf_counter()
    with pytest.raises(TimeoutError):
        with anyio.fail_after(0.3):
            await Agent("m", tools=[add], client=client).run("go")
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize("pending", ["tool", "server"])
def test_cancelling_an_asyncio_task_leaves_no_task_behind(server: FakeServer, pending: str) -> None:
    started = asyncio.Event()  # binds to no loop until used

    @tool
    async def forever() -> str:
        """Never ends."""
        started.set()
        await anyio.sleep_forever()
        return ""  # pragma: no cover

    if pending == "tool":
        server.enqueue(tool_calls(("forever", {}), ("forever", {})))
    else:
        server.enqueue(delay(30, "late"))

    async def main() -> None:  # plain asyncio: no anyio runner, no task group around the run
        current = asyncio.current_task()
        async with ChatClient(base_url=server.url, api_key="k", max_retries=0) as client:
            task = asyncio.create_task(Agent("m", tools=[forever], client=client).run("go"))
            async with asyncio.timeout(2):
                if pending == "tool":
                    await started.wait()
                else:
                    while not server.requests:  # noqa: ASYNC110 - the server sets no event
                        await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            async with asyncio.timeout(1):  # a bounded settle: nothing may outlive the run
                while asyncio.all_tasks() != {current}:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
        assert asyncio.all_tasks() == {current}

    asyncio.run(main())
    assert len(server.requests) == 1


async def test_asyncio_wait_for_times_out_promptly(server: FakeServer, client: ChatClient) -> None:
    server.enqueue(tool_calls(("add", {"a": 1, "b": 1})), delay(30, "late"))
    start = time.perf_counter()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(Agent("m", tools=[add], client=client).run("go"), timeout=0.2)
    assert time.perf_counter() - start < 2
    assert len(server.requests) == 2


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_threads_return_to_baseline_after_cancelled_sync_tools(
    server: FakeServer, client: ChatClient
) -> None:
    release = threading.Event()
    hold = 0.05

    @tool
    def blocking(n: int) -> int:
        """Blocks until released, or `hold` seconds (a thread cannot be interrupted)."""
        release.wait(hold)
        return n

    # Warm the worker-thread pool so the baseline counts its idle threads. The calls block a
    # moment, as below: on trio under pytest, the event loop then waits for I/O in a pooled
    # thread of its own (guest mode), and the baseline must count that one too.
    server.enqueue(tool_calls(("blocking", {"n": 1}), ("blocking", {"n": 2})), "ok")
    agent = Agent("m", tools=[blocking], client=client)
    await agent.run("warm up")
    baseline = threading.active_count()
    hold = 0.5

    server.enqueue(tool_calls(("blocking", {"n": 1}), ("blocking", {"n": 2})))
    with anyio.move_on_after(0.2) as scope:
        await agent.run("go")
    # Cancellation waited for the threads (they cannot be interrupted), then took effect.
    assert scope.cancelled_caught
    release.set()
    with anyio.fail_after(2):
        while threading.active_count() > baseline:  # noqa: ASYNC110 - no event to wait on
            await anyio.sleep(0.01)


async def test_hooks_see_every_request_and_tool(server: FakeServer, client: ChatClient) -> None:
    seen: list[Any] = []

    class Recorder(Hooks):
        async def before_request(
            self, ctx: RunContext[Any], request_params: dict[str, Any]
        ) -> None:
            seen.append(("before_request", ctx.step, ctx.deps, len(request_params["messages"])))
            request_params["temperature"] = 0.25  # hooks may change what is sent

        async def after_request(self, ctx: RunContext[Any], completion: Any) -> None:
            seen.append(("after_request", ctx.step, ctx.usage.requests))

        async def before_tool(self, ctx: RunContext[Any], call: ToolCallRequest) -> None:
            seen.append(("before_tool", call.name, ctx.tool_call_id))

        async def after_tool(
            self, ctx: RunContext[Any], call: ToolCallRequest, result: ToolResult
        ) -> None:
            seen.append(("after_tool", call.name, result.content, result.is_error))

    server.enqueue(tool_calls(("add", {"a": 1, "b": 2})), "3")
    agent = Agent("m", tools=[add], client=client, hooks=[Recorder()])
    await agent.run("go", deps="D")
    assert seen == [
        ("before_request", 0, "D", 1),
        ("after_request", 1, 1),
        ("before_tool", "add", "call_1"),
        ("after_tool", "add", "3", False),
        ("before_request", 1, "D", 3),
        ("after_request", 2, 2),
    ]
    assert server.requests[0]["temperature"] == 0.25


async def test_logging_levels_and_no_api_key(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="agentkit")
    server.enqueue(tool_calls(("add", {"a": 1, "b": 2}), ("boom", {})), "3")
    async with ChatClient(base_url=server.url, api_key="sk-secret-123", max_retries=0) as client:
        await Agent("m", tools=[add, boom], client=client).run("go")
    levels = {(r.levelname, r.getMessage().split(" ")[0]) for r in caplog.records}
    assert ("DEBUG", "request") in levels
    assert ("DEBUG", "tool") in levels
    assert ("INFO", "run") in levels
    # one record per failed call: Tool.invoke's, at WARNING as documented (the agent's is
    # DEBUG), with the traceback because DEBUG is on
    failures = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [(r.levelname, r.getMessage().split(":")[0]) for r in failures] == [
        ("WARNING", "tool boom raised RuntimeError")
    ]
    assert failures[0].exc_info is not None
    assert "sk-secret-123" not in caplog.text


async def test_a_failed_tool_logs_one_line_without_debug(
    server: FakeServer, client: ChatClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agentkit")
    server.enqueue(tool_calls(("boom", {})), "ok")
    await Agent("m", tools=[boom], client=client).run("go")
    [failure] = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert failure.levelname == "WARNING"
    assert not failure.exc_info  # a traceback only at DEBUG
    assert "\n" not in failure.getMessage().strip()


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_hooks_edit_the_request_not_the_run_or_the_agent(
    server: FakeServer, client: ChatClient
) -> None:
    @tool
    def delete_all() -> str:
        """Delete everything."""
        return "deleted"

    offered: list[list[str]] = []

    class Guard(Hooks):
        async def before_request(
            self, ctx: RunContext[Any], request_params: dict[str, Any]
        ) -> None:
            offered.append([t["function"]["name"] for t in request_params["tools"]])
            request_params["messages"].append({"role": "user", "content": "reminder"})
            request_params["messages"][0]["content"] += "!"
            request_params["tools"][:] = [
                t for t in request_params["tools"] if t["function"]["name"] != "delete_all"
            ]

    server.enqueue(tool_calls(("add", {"a": 1, "b": 2})), "3", "again")
    agent = Agent(
        "m", tools=[add, delete_all], client=client, hooks=[Guard()], reasoning_history="always"
    )
    result = await agent.run("go")
    await agent.run("go")
    first, second, third = server.requests
    assert [m["content"] for m in second["messages"] if m["role"] == "user"] == ["go!", "reminder"]
    assert [t["function"]["name"] for t in third["tools"]] == ["add"]
    assert [m.get("content") for m in result.messages if m["role"] == "user"] == ["go"]
    assert offered == [["add", "delete_all"]] * 3  # the agent's own list was never filtered


async def test_a_failed_sub_agent_still_bills_its_caller(server: FakeServer) -> None:
    def script(body: dict[str, Any]) -> Reply:
        usage = {"prompt_tokens": 1000, "completion_tokens": 10}
        if body["model"] == "sub":
            if body["messages"][-1]["role"] == "tool":
                return http_error(500, "the sub-agent's provider is down")
            return tool_calls(("add", {"a": 1, "b": 2})) | {"usage": usage}
        if body["messages"][-1]["role"] == "tool":
            return text("the helper failed", usage={"prompt_tokens": 1, "completion_tokens": 1})
        return tool_calls(("helper", {"input": "add"})) | {
            "usage": {"prompt_tokens": 1, "completion_tokens": 1}
        }

    server.responder = script
    async with ChatClient(base_url=server.url, api_key="k", max_retries=0) as client:
        sub = Agent("sub", tools=[add], client=client)
        lead = Agent("lead", tools=[sub.as_tool("helper", "Helps.")], client=client)
        result = await lead.run("go")
    assert result.output == "the helper failed"
    # two lead requests, and the sub-agent's billed first request before its 500
    assert result.usage.requests == 3
    assert result.usage.prompt_tokens == 1002


async def test_agent_as_tool_rolls_usage_up_and_passes_deps(server: FakeServer) -> None:
    @tool
    def whoami(ctx: RunContext[str]) -> str:
        """Who is asking."""
        return ctx.deps

    def script(body: dict[str, Any]) -> dict[str, Any]:
        usage = {"prompt_tokens": 10, "completion_tokens": 1}
        if body["model"] == "sub":
            if body["messages"][-1]["role"] == "tool":
                return text(f"sub says {body['messages'][-1]['content']}", usage=usage)
            return tool_calls(("whoami", {})) | {"usage": usage}
        if body["messages"][-1]["role"] == "tool":
            return text(body["messages"][-1]["content"], usage=usage)
        return tool_calls(("helper", {"input": "who?"})) | {"usage": usage}

    server.responder = script
    async with ChatClient(base_url=server.url, api_key="k", max_retries=0) as client:
        sub = Agent("sub", tools=[whoami], client=client)
        helper = sub.as_tool("helper", "Answers questions.")
        assert isinstance(helper, Tool)
        assert helper.parameters["properties"] == {
            "input": {
                "type": "string",
                "description": helper.parameters["properties"]["input"]["description"],
            }
        }
        assert helper.parameters["required"] == ["input"]
        result = await Agent("main", tools=[helper], client=client).run("go", deps="alice")
    assert result.output == "sub says alice"
    assert result.usage == RunUsage(
        requests=4, prompt_tokens=40, completion_tokens=4, total_tokens=44
    )


@pytest.mark.parametrize("stream", [False, True])
async def test_reasoning_kept_and_echoed_per_policy(
    server: FakeServer, client: ChatClient, stream: bool
) -> None:
    for policy, expected in [
        ("never", [False, False]),
        ("tool_calls", [True, False]),
        ("always", [True, True]),
    ]:
        server.reset()
        server.enqueue(
            tool_calls(("add", {"a": 1, "b": 1}), reasoning="think 1"),
            text("2", reasoning="think 2"),
            "ok",
        )
        agent = Agent("m", tools=[add], client=client, reasoning_history=policy)  # type: ignore[arg-type]
        result = await run(agent, "go", stream=stream)
        assert result.reasoning == "think 2"
        # The run's record keeps every step's reasoning, whatever is sent back.
        assistants = [m for m in result.messages if m["role"] == "assistant"]
        assert [m["reasoning_content"] for m in assistants] == ["think 1", "think 2"]
        sent = server.requests[1]["messages"][1]
        assert ("reasoning_content" in sent) == expected[0]
        # History that carries reasoning is sent by the same policy.
        await run(agent, "again", stream=stream, history=result.messages)
        resent = [m for m in server.requests[2]["messages"] if m["role"] == "assistant"]
        assert ["reasoning_content" in m for m in resent] == expected
        assert [m["reasoning_content"] for m in assistants] == ["think 1", "think 2"]


async def test_calls_with_empty_or_repeated_ids_keep_their_replies(
    server: FakeServer, client: ChatClient
) -> None:
    server.enqueue(
        tool_calls(("add", {"a": 1, "b": 1}, ""), ("add", {"a": 2, "b": 2}, "")),
        "2 and 4",
    )
    await Agent("m", tools=[add], client=client).run("go")
    assert [(m["tool_call_id"], m["content"]) for m in replies(server)] == [("", "2"), ("", "4")]


class HookFailed(Exception):
    """Raised by the hooks and approve callbacks below."""


class FailingHooks(Hooks):
    def __init__(self, where: str) -> None:
        self.where = where

    async def before_tool(self, ctx: RunContext[Any], call: ToolCallRequest) -> None:
        if self.where == "before_tool":
            raise HookFailed(call.call_id)

    async def after_tool(
        self, ctx: RunContext[Any], call: ToolCallRequest, result: ToolResult
    ) -> None:
        if self.where == "after_tool":
            raise HookFailed(call.call_id)


def failing_approve(where: str) -> Any:
    def approve(call: ToolCallRequest) -> bool:
        raise HookFailed(call.call_id)

    async def approve_async(call: ToolCallRequest) -> bool:
        await anyio.lowlevel.checkpoint()
        raise HookFailed(call.call_id)

    return {"approve": approve, "approve_async": approve_async}.get(where)


@pytest.mark.parametrize("mode", ["run", "plain", "live"])
@pytest.mark.parametrize("calls", [1, 2, 3])
@pytest.mark.parametrize("where", ["before_tool", "after_tool", "approve", "approve_async"])
@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_a_hook_or_approve_error_comes_out_as_itself(
    server: FakeServer, where: str, calls: int, mode: str
) -> None:
    """Whatever the number of calls in the turn (one runs without a task group, two with)."""
    server.enqueue(tool_calls(*[("delete_file", {"path": f"/tmp/{n}"}) for n in range(calls)]))
    async with ChatClient(base_url=server.url, api_key="k", max_retries=0) as client:
        agent = Agent(
            "m",
            tools=[delete_file],
            client=client,
            hooks=[FailingHooks(where)],
            approve=failing_approve(where),
            max_concurrency=2,  # three calls go through the limiter
        )
        with anyio.fail_after(5), pytest.raises(HookFailed) as caught:
            if mode == "live":
                async with agent.stream("go") as events:
                    async for _ in events:
                        pass
            else:
                await run(agent, "go", stream=mode == "plain")
    assert str(caught.value).startswith("call_")
