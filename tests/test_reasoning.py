"""Reasoning in either wire field (``reasoning_content`` or ``reasoning``), end to end.

DeepSeek-style servers send ``reasoning_content``; Groq, OpenRouter, Ollama and vLLM send
``reasoning``. Both are read, streamed, assembled, reported and sent back the same way.
"""

from __future__ import annotations

from typing import Any

import pytest

from agentkit import Agent, ChatClient, ReasoningDelta, RunFinished
from agentkit.testing import FakeServer, text, tool_calls
from agentkit.tools import tool
from agentkit.types import ChatCompletion, Message, ReasoningField
from tests.conftest import run

FIELDS: list[ReasoningField] = ["reasoning_content", "reasoning"]


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def test_message_reads_either_field():
    assert Message(reasoning_content="a").reasoning_text == "a"
    assert Message(reasoning="b").reasoning_text == "b"
    assert Message(reasoning="b").reasoning_field == "reasoning"
    assert (Message().reasoning_text, Message().reasoning_field) == (None, None)
    # an empty reasoning_content never hides a reasoning beside it; both set: read once
    both = Message(reasoning_content="", reasoning="b")
    assert (both.reasoning_text, both.reasoning_field) == ("b", "reasoning")
    same = Message(reasoning_content="x", reasoning="x")
    assert (same.reasoning_text, same.reasoning_field) == ("x", "reasoning_content")
    assert Message(reasoning_content="").reasoning_text == ""


@pytest.mark.parametrize("field", FIELDS)
def test_to_param_sends_reasoning_back_in_its_own_field(field: ReasoningField):
    message = Message.model_validate({"role": "assistant", "content": "hi", field: "thought"})
    assert message.to_param() == {"role": "assistant", "content": "hi"}
    assert message.to_param(reasoning=True) == {
        "role": "assistant",
        "content": "hi",
        field: "thought",
    }


@pytest.mark.parametrize("field", FIELDS)
async def test_stream_assembles_what_complete_returns(
    server: FakeServer, client: ChatClient, field: ReasoningField
):
    reply = text(
        "Hello there, friend.", reasoning="The user greets me. Reply.", reasoning_field=field
    )
    server.enqueue(reply, reply)
    whole = await client.complete(model="m", messages=[{"role": "user", "content": "hi"}])
    async with client.stream(model="m", messages=[{"role": "user", "content": "hi"}]) as s:
        pieces = [c.choices[0].delta.reasoning_text async for c in s if c.choices]
        streamed = await s.get_final_completion()
    assert "".join(p for p in pieces if p) == "The user greets me. Reply."
    assert sum(1 for p in pieces if p) > 1  # it really came in fragments
    assert _comparable(streamed) == _comparable(whole)
    assert streamed.choices[0].message.model_dump(exclude_none=True) == {
        "role": "assistant",
        "content": "Hello there, friend.",
        field: "The user greets me. Reply.",
    }


def _comparable(completion: ChatCompletion) -> dict[str, Any]:
    data = completion.model_dump(exclude_none=True)
    data.pop("id"), data.pop("created")  # each request gets its own
    return data


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("field", FIELDS)
async def test_agent_reports_and_replays_reasoning_in_the_servers_field(
    server: FakeServer, client: ChatClient, field: ReasoningField, stream: bool
):
    server.enqueue(
        tool_calls(("add", {"a": 1, "b": 2}), reasoning="I should add them", reasoning_field=field),
        text("3", reasoning="Done thinking", reasoning_field=field),
    )
    agent = Agent("m", tools=[add], client=client, reasoning_history="tool_calls")
    if stream:
        events = [e async for e in agent.stream("add 1 and 2")]
        deltas = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
        assert deltas == "I should add themDone thinking"
        last = events[-1]
        assert isinstance(last, RunFinished)
        result = last.result
    else:
        result = await run(agent, "add 1 and 2")
    assert result.reasoning == "Done thinking"
    assistants = [m for m in result.messages if m["role"] == "assistant"]
    assert [m[field] for m in assistants] == ["I should add them", "Done thinking"]
    # The tool-call turn goes back in the field the server used, and only that one.
    sent = server.requests[1]["messages"][1]
    assert sent[field] == "I should add them"
    assert {"reasoning", "reasoning_content"} & sent.keys() == {field}


@pytest.mark.parametrize("field", FIELDS)
async def test_policy_never_strips_either_field(
    server: FakeServer, client: ChatClient, field: ReasoningField
):
    server.enqueue(
        tool_calls(("add", {"a": 1, "b": 2}), reasoning="hm", reasoning_field=field), "3"
    )
    result = await Agent("m", tools=[add], client=client).run("go")
    assert result.messages[1][field] == "hm"  # kept in the record
    sent = server.requests[1]["messages"][1]
    assert not {"reasoning", "reasoning_content"} & sent.keys()


def test_fake_server_rejects_an_unknown_reasoning_field():
    with pytest.raises(ValueError, match="reasoning_field"):
        text("x", reasoning="y", reasoning_field="thinking")  # type: ignore[arg-type]
