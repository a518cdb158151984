"""Typed final answers: response_format on the wire, validation, retries, errors."""

from __future__ import annotations

import dataclasses
import json

import pytest
from pydantic import BaseModel
from typing_extensions import TypedDict

from agentkit.agent import Agent
from agentkit.client import ChatClient
from agentkit.errors import OutputValidationError
from agentkit.result import RunResult
from agentkit.testing import FakeServer, tool_calls
from agentkit.tools import tool
from tests.conftest import run


class City(BaseModel):
    name: str
    population: int


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Movie(TypedDict):
    title: str
    year: int


@tool
def lookup(name: str) -> str:
    """Look a city up."""
    return f"{name}: 2.1M"


@pytest.mark.parametrize("stream", [False, True])
async def test_pydantic_output_after_a_tool(
    server: FakeServer, client: ChatClient, stream: bool
) -> None:
    server.enqueue(tool_calls(("lookup", {"name": "Paris"})))
    server.enqueue('{"name": "Paris", "population": 2100000}')
    agent: Agent[City] = Agent("m", tools=[lookup], client=client, output_type=City)
    result: RunResult[City] = await run(agent, "Paris?", stream=stream)
    assert result.output == City(name="Paris", population=2100000)
    fmt = server.requests[0]["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "City"
    assert all(r["response_format"] == fmt for r in server.requests)
    assert json.loads(json.dumps(result.to_dict()))["output"] == {
        "name": "Paris",
        "population": 2100000,
    }


@pytest.mark.parametrize(
    ("output_type", "answer", "expected"),
    [
        (Point, '{"x": 1, "y": 2}', Point(x=1, y=2)),
        (Movie, '{"title": "Heat", "year": 1995}', {"title": "Heat", "year": 1995}),
        (list[int], '{"result": [1, 2, 3]}', [1, 2, 3]),
        (int, '{"result": 42}', 42),
        (bool, '{"result": true}', True),
    ],
)
async def test_other_output_types(
    server: FakeServer, client: ChatClient, output_type: type, answer: str, expected: object
) -> None:
    server.enqueue(answer)
    result = await Agent("m", client=client, output_type=output_type).run("go")
    assert result.output == expected
    assert "response_format" in server.requests[0]


@pytest.mark.parametrize("stream", [False, True])
async def test_invalid_answer_is_sent_back_then_accepted(
    server: FakeServer, client: ChatClient, stream: bool
) -> None:
    server.enqueue('{"name": "Paris"}', '{"name": "Paris", "population": 1}')
    result = await run(Agent("m", client=client, output_type=City), "go", stream=stream)
    assert result.output.population == 1
    assert result.steps == 2
    retry = server.requests[1]["messages"][-1]
    assert retry["role"] == "user"
    assert "population" in retry["content"]
    assert server.requests[1]["messages"][-2] == {
        "role": "assistant",
        "content": '{"name": "Paris"}',
    }


async def test_output_retries_exhausted(server: FakeServer, client: ChatClient) -> None:
    server.enqueue("not json", "still not", "nope")
    agent = Agent("m", client=client, output_type=City, output_retries=2)
    with pytest.raises(OutputValidationError) as caught:
        await agent.run("go")
    assert len(server.requests) == 3
    assert "JSON" in caught.value.errors
    assert caught.value.messages[-1] == {"role": "assistant", "content": "nope"}
    assert caught.value.usage.requests == 3


async def test_no_output_retries(server: FakeServer, client: ChatClient) -> None:
    server.enqueue("not json")
    with pytest.raises(OutputValidationError):
        await Agent("m", client=client, output_type=City, output_retries=0).run("go")
    assert len(server.requests) == 1


async def test_final_answer_after_max_steps_is_validated_without_retry(
    server: FakeServer, client: ChatClient
) -> None:
    server.enqueue(tool_calls(("lookup", {"name": "x"})), "garbage")
    agent = Agent(
        "m",
        tools=[lookup],
        client=client,
        output_type=City,
        max_steps=1,
        on_max_steps="final_answer",
    )
    with pytest.raises(OutputValidationError):
        await agent.run("go")
    assert len(server.requests) == 2
