"""What the model may send a tool: unknown keys, fixed keywords, strict schemas, deep nesting."""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
from inline_snapshot import snapshot
from pydantic import BaseModel

from agentkit._output import OutputError, OutputSpec
from agentkit.agent import Agent
from agentkit.client import ChatClient
from agentkit.context import RunContext
from agentkit.errors import ToolDefinitionError
from agentkit.testing import FakeServer, text, tool_calls
from agentkit.tools import Tool, tool

DEEP = "[" * 50_000 + "]" * 50_000  # past Python's recursion limit for json and jsonschema


@tool
def greet(name: str, loud: bool = False) -> str:
    """Greet someone."""
    return name.upper() if loud else name


async def test_a_key_the_function_does_not_take_is_named_to_the_model() -> None:
    result = await greet.invoke('{"name": "ada", "lowd": true}')
    assert result.is_error and result.error_type == "ArgumentsError"
    assert result.content == snapshot(
        """\
error: invalid arguments:
- lowd: not a parameter of this tool (its parameters: loud, name)\
"""
    )
    assert (await greet.invoke('{"name": "ada", "loud": true}')).content == "ADA"


def _open_schema(*names: str) -> dict[str, Any]:
    return {"type": "object", "properties": {n: {"type": "string"} for n in names}}


async def test_from_schema_refuses_keys_the_function_cannot_take() -> None:
    def lookup(key: str) -> str:
        return key

    tool_ = Tool.from_schema(lookup, _open_schema("key"), name="lookup")
    result = await tool_.invoke('{"key": "a", "other": "b"}')
    assert result.is_error
    assert "- other: not a parameter of this tool (its parameters: key)" in result.content


async def test_from_schema_with_kwargs_takes_extra_keys_only_from_an_open_schema() -> None:
    seen: list[dict[str, Any]] = []

    def remote(**arguments: Any) -> str:
        seen.append(arguments)
        return "ok"

    open_ = Tool.from_schema(remote, _open_schema("key"), name="open")
    assert (await open_.invoke('{"key": "a", "extra": 1}')).content == "ok"
    assert seen == [{"key": "a", "extra": 1}]

    closed = Tool.from_schema(
        remote, {**_open_schema("key"), "additionalProperties": False}, name="closed"
    )
    refused = await closed.invoke('{"key": "a", "extra": 1}')
    assert refused.is_error and "extra" in refused.content
    # strict mode sends the schema closed, so the model's extra key is refused there too
    strict = await open_.invoke('{"key": "a", "extra": 1}', strict=True)
    assert strict.is_error and "- extra: not a parameter of this tool" in strict.content
    assert seen == [{"key": "a", "extra": 1}]  # neither refused call reached the function


async def test_from_schema_never_lets_the_model_set_a_partial_keyword_or_the_context() -> None:
    seen: list[tuple[Any, ...]] = []

    def query(ctx: RunContext[Any], sql: str, user_id: int, **rest: Any) -> str:
        seen.append((ctx.deps, sql, user_id, rest))
        return "ok"

    bound = Tool.from_schema(
        functools.partial(query, user_id=42), _open_schema("sql"), name="query"
    )
    ok = await bound.invoke('{"sql": "s"}', RunContext(deps="db"))
    assert ok.content == "ok"
    for key, value in (("user_id", 7), ("ctx", "forged")):
        refused = await bound.invoke(json.dumps({"sql": "s", key: value}), RunContext(deps="db"))
        assert refused.is_error, key
        assert f"- {key}: not a parameter of this tool" in refused.content
    assert seen == [("db", "s", 42, {})]


def test_from_schema_definition_errors_name_the_mismatch() -> None:
    def query(sql: str, user_id: int) -> str:
        return sql

    with pytest.raises(ToolDefinitionError, match="lists user_id, which the function's caller"):
        Tool.from_schema(
            functools.partial(query, user_id=1), _open_schema("sql", "user_id"), name="q"
        )
    with pytest.raises(ToolDefinitionError, match="lists limit, which the function does not"):
        Tool.from_schema(query, _open_schema("sql", "limit"), name="q")


async def test_strict_agent_refuses_extra_keys_for_hand_written_schemas(
    server: FakeServer, client: ChatClient
) -> None:
    calls: list[dict[str, Any]] = []

    def remote(**arguments: Any) -> str:
        calls.append(arguments)
        return "done"

    tool_ = Tool.from_schema(remote, _open_schema("key"), name="remote")
    server.enqueue(tool_calls(("remote", {"key": "a", "admin": "true"})))
    server.enqueue(text("ok"))
    agent = Agent("m", tools=[tool_], client=client, strict_tools=True)
    await agent.run("go")
    sent = server.requests[0]["tools"][0]["function"]
    assert sent["strict"] is True and sent["parameters"]["additionalProperties"] is False
    reply = server.requests[1]["messages"][-1]["content"]
    assert "- admin: not a parameter of this tool" in reply
    assert calls == []


async def test_deeply_nested_arguments_are_an_arguments_error() -> None:
    def remote(**arguments: Any) -> str:
        return "ok"

    @tool
    def anything(x: Any) -> str:
        """Take anything."""
        return "ok"

    hand_written = Tool.from_schema(remote, {"type": "object", "properties": {"x": {}}}, name="h")
    for tool_ in (anything, hand_written):
        result = await tool_.invoke('{"x": ' + DEEP + "}")
        assert result.error_type == "ArgumentsError", tool_.name
        assert result.content == (
            "error: the arguments are nested too deeply; send a flatter JSON object"
        )


class Answer(BaseModel):
    value: Any


@pytest.mark.parametrize("output_type", [Answer, dict, list, int])
def test_deeply_nested_answers_are_an_output_error(output_type: Any) -> None:
    spec = OutputSpec.for_type(output_type)
    answer = DEEP if output_type is list else '{"value": ' + DEEP + "}"
    with pytest.raises(OutputError, match="nested too deeply"):
        spec.validate(answer)
