"""The Toolset seam MCP servers plug into: any object yielding tools when a run starts."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest

from agentkit import Agent, ChatClient, MaxStepsExceeded, Tool, ToolDefinitionError, Toolset, tool
from agentkit.testing import FakeServer, text, tool_calls
from tests.conftest import run


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


class Registry:
    """A toolset that counts how often it is opened and closed."""

    def __init__(self, *tools: Tool[..., Any]) -> None:
        self.tools = list(tools)
        self.opened = self.closed = 0

    @contextlib.asynccontextmanager
    async def tools_for_run(self) -> AsyncIterator[Sequence[Tool[..., Any]]]:
        self.opened += 1
        try:
            yield self.tools
        finally:
            self.closed += 1


def test_a_registry_is_a_toolset_and_a_tool_is_not():
    assert isinstance(Registry(), Toolset) and not isinstance(add, Toolset)


@pytest.mark.parametrize("stream", [False, True])
async def test_toolset_tools_are_offered_and_called_each_run(
    server: FakeServer, client: ChatClient, stream: bool
):
    @tool
    def shout(text: str) -> str:
        """Say it louder."""
        return text.upper()

    registry = Registry(shout)
    agent = Agent("m", tools=[add, registry], client=client)
    server.enqueue(tool_calls(("shout", {"text": "hi"})), text("HI"), text("again"))
    assert (await run(agent, "shout", stream=stream)).output == "HI"
    assert (await run(agent, "more", stream=stream)).output == "again"
    assert (registry.opened, registry.closed) == (2, 2)
    assert [t["function"]["name"] for t in server.requests[0]["tools"]] == ["add", "shout"]
    assert server.requests[1]["messages"][-1]["content"] == "HI"


async def test_the_toolset_closes_when_the_run_fails(server: FakeServer, client: ChatClient):
    registry = Registry(add)
    server.enqueue(tool_calls(("add", {"a": 1, "b": 2})), tool_calls(("add", {"a": 1, "b": 2})))
    agent = Agent("m", tools=[registry], client=client, max_steps=1, on_max_steps="final_answer")
    with pytest.raises(MaxStepsExceeded) as caught:
        await agent.run("loop")
    assert registry.closed == 1 and caught.value.messages
    assert server.requests[1]["tool_choice"] == "none"  # the final request, with toolset tools


async def test_an_empty_toolset_sends_no_tools(server: FakeServer, client: ChatClient):
    server.enqueue(text("ok"))
    await Agent("m", tools=[Registry()], client=client).run("x")
    assert "tools" not in server.requests[0]


async def test_a_clash_fails_at_run_start_with_the_run_so_far(client: ChatClient):
    agent = Agent("m", tools=[add, Registry(add)], client=client)  # built fine: tools unknown yet
    with pytest.raises(ToolDefinitionError, match="clashes with a local tool") as caught:
        await agent.run("x")
    assert caught.value.messages == [{"role": "user", "content": "x"}]


async def test_strict_agents_make_toolset_tools_strict(server: FakeServer, client: ChatClient):
    server.enqueue(text("ok"))
    await Agent("m", tools=[Registry(add)], client=client, strict_tools=True).run("x")
    assert server.requests[0]["tools"][0]["function"]["strict"] is True
