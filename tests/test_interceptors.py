"""Interceptors: order, replacing a step, approval, the run scope, streaming, per-run ones."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agentkit.agent import Agent
from agentkit.client import ChatClient
from agentkit.context import RunContext
from agentkit.errors import MaxStepsExceeded
from agentkit.events import RunFinished, TextDelta, ToolCallRequest
from agentkit.interceptors import ApproveCall, Interceptor, ModelCall, ToolCall
from agentkit.testing import FakeServer, text, tool_calls
from agentkit.tools import tool
from tests.conftest import run


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@tool(requires_approval=True)
def wipe(path: str) -> str:
    """Delete a file."""
    return f"deleted {path}"


class Recorder(Interceptor):
    """Records what it sees, tagged with its name, and calls through."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    def run(self, agent: Agent[Any], ctx: RunContext[Any]) -> Any:
        @contextlib.asynccontextmanager
        async def scope() -> AsyncIterator[None]:
            self.log.append(f"{self.name} run start {ctx.run_id}")
            try:
                yield
            except BaseException as exc:
                self.log.append(f"{self.name} run error {type(exc).__name__}")
                raise
            self.log.append(f"{self.name} run end")

        return scope()

    async def model_request(
        self, ctx: RunContext[Any], params: dict[str, Any], call_next: ModelCall
    ) -> dict[str, Any]:
        self.log.append(f"{self.name} request {ctx.step}")
        completion = await call_next(params)
        self.log.append(f"{self.name} response {completion['choices'][0]['finish_reason']}")
        return completion

    async def tool_call(
        self, ctx: RunContext[Any], call: dict[str, Any], call_next: ToolCall
    ) -> dict[str, Any]:
        self.log.append(f"{self.name} tool {ctx.tool_name} {call['function']['arguments']}")
        outcome = await call_next(call)
        self.log.append(f"{self.name} tool done {outcome['content']}")
        return outcome


@pytest.mark.parametrize("stream", [False, True])
async def test_interceptors_wrap_in_order_agent_level_outermost(
    server: FakeServer, client: ChatClient, stream: bool
) -> None:
    server.enqueue(tool_calls(("add", {"a": 1, "b": 2})))
    server.enqueue(text("3"))
    log: list[str] = []
    agent = Agent("m", tools=[add], client=client, interceptors=[Recorder("outer", log)])
    result = await run(
        agent, "add", stream=stream, run_id="r1", interceptors=[Recorder("inner", log)]
    )
    assert result.output == "3"
    assert result.run_id == "r1"
    assert log == [
        "outer run start r1",
        "inner run start r1",
        "outer request 0",
        "inner request 0",
        "inner response tool_calls",
        "outer response tool_calls",
        'outer tool add {"a": 1, "b": 2}',
        'inner tool add {"a": 1, "b": 2}',
        "inner tool done 3",
        "outer tool done 3",
        "outer request 1",
        "inner request 1",
        "inner response stop",
        "outer response stop",
        "inner run end",
        "outer run end",
    ]


async def test_an_interceptor_can_replace_both_side_effects(server: FakeServer) -> None:
    """What a durable engine does: serve recorded outcomes without calling the model or tool."""
    completion_calls = {
        "id": "c1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "add", "arguments": '{"a": 2, "b": 2}'},
                        }
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    }
    completion_text = {
        **completion_calls,
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "four"},
            }
        ],
    }
    recorded = [completion_calls, completion_text]

    class Replay(Interceptor):
        async def model_request(
            self, ctx: RunContext[Any], params: dict[str, Any], call_next: ModelCall
        ) -> dict[str, Any]:
            return recorded[ctx.step]

        async def tool_call(
            self, ctx: RunContext[Any], call: dict[str, Any], call_next: ToolCall
        ) -> dict[str, Any]:
            sub = {"requests": 2, "prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}
            return {"content": "4 (recorded)", "is_error": False, "duration": 0.0, "usage": sub}

    async with ChatClient(base_url=server.url, api_key="k") as client:
        agent = Agent("m", tools=[add], client=client)
        result = await agent.run("2+2?", interceptors=[Replay()])
    assert result.output == "four"
    assert server.requests == []  # nothing went over the wire
    assert result.messages[-2] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "4 (recorded)",
    }
    # the usage a replayed tool outcome carries is counted, as a live call's would be
    assert result.usage.requests == 4
    assert result.usage.total_tokens == 6 + 6 + 13


async def test_approval_can_be_decided_by_an_interceptor(
    server: FakeServer, client: ChatClient
) -> None:
    asked: list[str] = []

    class Approver(Interceptor):
        async def approve(
            self, ctx: RunContext[Any], request: ToolCallRequest, call_next: ApproveCall
        ) -> bool:
            asked.append(f"{ctx.tool_call_id} {request.name}")
            return request.arguments == '{"path": "ok.txt"}'

    server.enqueue(tool_calls(("wipe", {"path": "ok.txt"}), ("wipe", {"path": "/etc"})))
    server.enqueue(text("done"))
    agent = Agent("m", tools=[wipe], client=client, interceptors=[Approver()])
    await agent.run("clean up")
    replies = [m["content"] for m in server.requests[1]["messages"] if m["role"] == "tool"]
    assert replies == [
        "deleted ok.txt",
        "error: the user denied this call to 'wipe'; it was not run",
    ]
    assert sorted(asked) == ["call_1 wipe", "call_2 wipe"]


async def test_approval_interceptor_that_calls_through_asks_the_agent(
    server: FakeServer, client: ChatClient
) -> None:
    server.enqueue(tool_calls(("wipe", {"path": "a"})))
    server.enqueue(text("done"))
    agent = Agent("m", tools=[wipe], client=client, interceptors=[Interceptor()])
    await agent.run("clean up")
    reply = server.requests[1]["messages"][-1]["content"]
    assert "no approve callback is configured" in reply


async def test_the_run_scope_sees_the_error_and_tools_inherit_its_context(
    server: FakeServer, client: ChatClient
) -> None:
    current: contextvars.ContextVar[str] = contextvars.ContextVar("current", default="none")
    seen: list[str] = []
    log: list[str] = []

    @tool
    async def probe() -> str:
        """Report the context."""
        seen.append(current.get())
        return "ok"

    class Scope(Recorder):
        def run(self, agent: Agent[Any], ctx: RunContext[Any]) -> Any:
            inner = super().run(agent, ctx)

            @contextlib.asynccontextmanager
            async def scope() -> AsyncIterator[None]:
                token = current.set("in run")
                try:
                    async with inner:
                        yield
                finally:
                    current.reset(token)

            return scope()

    server.enqueue(tool_calls(("probe", {}), ("probe", {})))
    agent = Agent("m", tools=[probe], client=client, max_steps=1, interceptors=[Scope("s", log)])
    with pytest.raises(MaxStepsExceeded) as caught:
        await agent.run("go")
    assert seen == ["in run", "in run"]  # two concurrent calls, each in its own task
    assert log[-1] == "s run error MaxStepsExceeded"
    assert caught.value.messages[-1]["role"] == "tool"  # the error still carries the run


async def test_streamed_deltas_arrive_live_inside_async_with(
    server: FakeServer, client: ChatClient
) -> None:
    server.enqueue(text("hello there world"))
    order: list[str] = []

    class Mark(Interceptor):
        async def model_request(
            self, ctx: RunContext[Any], params: dict[str, Any], call_next: ModelCall
        ) -> dict[str, Any]:
            order.append("request start")
            completion = await call_next(params)
            order.append("request end")
            return completion

    agent = Agent("m", client=client, interceptors=[Mark()])
    async with agent.stream("hi") as events:
        async for event in events:
            if isinstance(event, TextDelta):
                order.append("delta")
    assert order[0] == "request start" and order[-1] == "request end"
    assert order.count("delta") >= 2  # each delta reached the reader before the request ended


async def test_plain_stream_with_interceptors_yields_the_deltas_after_the_request(
    server: FakeServer, client: ChatClient
) -> None:
    server.enqueue(text("hello there world"))
    agent = Agent("m", client=client, interceptors=[Interceptor()])
    events = [event async for event in agent.stream("hi")]
    deltas = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert deltas == "hello there world"
    last = events[-1]
    assert isinstance(last, RunFinished) and last.result.output == "hello there world"


def test_run_sync_takes_interceptors(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTKIT_BASE_URL", server.url)
    monkeypatch.setenv("AGENTKIT_API_KEY", "k")
    server.enqueue(text("ok"))
    log: list[str] = []
    agent = Agent("m")  # its own client, closed when run_sync's event loop ends
    result = agent.run_sync("hi", run_id="sync", interceptors=[Recorder("r", log)])
    assert result.output == "ok"
    assert log == ["r run start sync", "r request 0", "r response stop", "r run end"]
