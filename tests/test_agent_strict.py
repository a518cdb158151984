"""Tools inside a run: strict mode per agent, validator failures as text, the run context."""

from __future__ import annotations

from typing import Any

import pytest
from inline_snapshot import snapshot
from pydantic import BaseModel, field_validator

from agentkit import Agent
from agentkit.client import ChatClient
from agentkit.context import RunContext
from agentkit.errors import ToolDefinitionError
from agentkit.testing import FakeServer, text, tool_calls
from agentkit.tools import tool
from tests.conftest import run

received: list[Any] = []


@tool
def book(room: str, nights: int = 2, note: str | None = "none") -> str:
    """Book a room.

    Args:
        room: The room.
        nights: How long.
    """
    received.append((room, nights, note))
    return f"booked {room} for {nights}"


@tool(strict=False)
def search(query: str, limit: int = 5) -> str:
    """Search."""
    return query


@tool
def merge(patch: dict[str, Any]) -> str:
    """Apply a patch."""
    return "ok"


@pytest.fixture(autouse=True)
def _clear() -> None:
    received.clear()


# --- strict per agent --------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_strict_tools_end_to_end(server: FakeServer, client: ChatClient, stream: bool):
    server.enqueue(tool_calls(("book", {"room": "12", "nights": None, "note": None})))
    server.enqueue(text("done"))
    agent = Agent("m", tools=[book, search], client=client, strict_tools=True)
    result = await run(agent, "book room 12", stream=stream)
    assert result.output == "done"
    assert received == [("12", 2, None)]  # null: the default, unless the type admits None
    assert server.requests[1]["messages"][-1]["content"] == "booked 12 for 2"
    assert server.requests[0]["tools"] == snapshot(
        [
            {
                "type": "function",
                "function": {
                    "name": "book",
                    "parameters": {
                        "properties": {
                            "room": {"description": "The room.", "type": "string"},
                            "nights": {
                                "anyOf": [{"type": "integer"}, {"type": "null"}],
                                "description": "How long. (default: 2)",
                            },
                            "note": {
                                "anyOf": [{"type": "string"}, {"type": "null"}],
                                "description": '(default: "none")',
                            },
                        },
                        "required": ["room", "nights", "note"],
                        "type": "object",
                        "additionalProperties": False,
                    },
                    "description": "Book a room.",
                    "strict": True,
                },
            },
            {  # strict=False on the tool wins over the agent
                "type": "function",
                "function": {
                    "name": "search",
                    "parameters": {
                        "properties": {
                            "query": {"type": "string"},
                            "limit": {"default": 5, "type": "integer"},
                        },
                        "required": ["query"],
                        "type": "object",
                    },
                    "description": "Search.",
                },
            },
        ]
    )


async def test_strict_tools_off_by_default(server: FakeServer, client: ChatClient):
    server.enqueue(text("hi"))
    await Agent("m", tools=[book], client=client).run("hi")
    assert "strict" not in server.requests[0]["tools"][0]["function"]


def test_strict_tools_refuse_open_ended_parameters_at_construction():
    Agent("m", tools=[merge])  # fine without strict
    with pytest.raises(ToolDefinitionError, match="tool 'merge': strict mode cannot express"):
        Agent("m", tools=[merge], strict_tools=True)
    Agent("m", tools=[tool(merge.__wrapped__, strict=False)], strict_tools=True)  # opted out


# --- failures during argument validation -------------------------------------------------


class Country(BaseModel):
    code: str

    @field_validator("code")
    @classmethod
    def known(cls, value: str) -> str:
        return {"fr": "France"}[value]  # a KeyError, not a ValueError: pydantic lets it out


@tool
def capital(country: Country) -> str:
    """The capital of a country."""
    return "Paris"


@pytest.mark.parametrize("stream", [False, True])
async def test_validator_exception_is_sent_to_the_model(
    server: FakeServer, client: ChatClient, stream: bool
):
    server.enqueue(tool_calls(("capital", {"country": {"code": "xx"}})))
    server.enqueue(tool_calls(("capital", {"country": {"code": "fr"}})))
    server.enqueue(text("Paris it is"))
    result = await run(Agent("m", tools=[capital], client=client), "capital?", stream=stream)
    assert result.output == "Paris it is"
    assert server.requests[1]["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": "error: KeyError: 'xx'",
    }
    assert server.requests[2]["messages"][-1]["content"] == "Paris"


# --- the run context ---------------------------------------------------------------------


class Deps(BaseModel):
    user: str


@pytest.mark.parametrize("stream", [False, True])
async def test_tools_see_the_run_context(server: FakeServer, client: ChatClient, stream: bool):
    seen: list[tuple[RunContext[Deps], list[dict[str, Any]]]] = []

    @tool
    async def whoami(ctx: RunContext[Deps], loud: bool = False) -> str:
        seen.append((ctx, list(ctx.messages)))  # the conversation as it is during the call
        return ctx.deps.user.upper() if loud else ctx.deps.user

    server.enqueue(tool_calls(("whoami", {"loud": True})))
    server.enqueue(text("you are ADA"))
    agent = Agent("m", tools=[whoami], client=client)
    result = await run(agent, "who am I?", stream=stream, deps=Deps(user="ada"))
    assert result.output == "you are ADA"
    [(ctx, messages)] = seen
    assert ctx.deps == Deps(user="ada")
    assert ctx.usage.requests >= 1
    assert (ctx.tool_name, ctx.tool_call_id) == ("whoami", "call_1")
    assert messages[0] == {"role": "user", "content": "who am I?"}
    assert messages[-1]["role"] == "assistant"
    assert messages[-1]["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "whoami", "arguments": '{"loud": true}'},
        }
    ]
    assert "whoami" not in str(server.requests[0]["tools"][0]["function"]["parameters"])
