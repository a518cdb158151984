"""The built-in demo model: rules that call tools and answer, over a real FakeServer."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any, Literal

import anyio
import httpx
import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import agentkit
from agentkit import Agent, ToolCallStarted
from agentkit._demo import DEMO_MODEL, DISCLAIMER, demo_responder, demo_server
from agentkit._demo.serve import _DemoTransport
from agentkit._demo.tools import calculate, get_time, get_weather
from agentkit.client import ChatClient
from agentkit.testing import FakeServer
from agentkit.tools import Tool, tool
from agentkit.types import ChatCompletion

DEMO_TOOLS: list[Tool[Any, Any]] = [tool(get_weather), tool(calculate), tool(get_time)]


@pytest.fixture(scope="module")
def server() -> Iterator[FakeServer]:
    with demo_server() as running:
        yield running


@pytest.fixture
async def client(server: FakeServer) -> AsyncIterator[ChatClient]:
    async with ChatClient(base_url=server.url, api_key="k", max_retries=0) as c:
        yield c


async def drive(
    client: ChatClient,
    prompt: str,
    tools: list[Tool[Any, Any]] = DEMO_TOOLS,
    *,
    stream: bool = False,
    history: list[dict[str, Any]] | None = None,
    **settings: Any,
) -> tuple[list[ChatCompletion], list[dict[str, Any]]]:
    """A minimal agent loop (the real Agent has its own tests): returns every completion."""
    messages: list[dict[str, Any]] = [*(history or []), {"role": "user", "content": prompt}]
    by_name = {t.name: t for t in tools}
    completions: list[ChatCompletion] = []
    definitions = [t.definition() for t in tools] or None
    for _ in range(8):
        if stream:
            async with client.stream(
                model=DEMO_MODEL, messages=messages, tools=definitions, **settings
            ) as chunks:
                completion = await chunks.get_final_completion()
        else:
            completion = await client.complete(
                model=DEMO_MODEL, messages=messages, tools=definitions, **settings
            )
        completions.append(completion)
        message = completion.choices[0].message
        messages.append(dict(message.to_param()))
        if not message.tool_calls:
            return completions, messages
        for call in message.tool_calls:
            result = await by_name[call.function.name].invoke(call.function.arguments)
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result.content})
    raise AssertionError("the demo model never answered")


def calls_of(completion: ChatCompletion) -> list[tuple[str, dict[str, Any]]]:
    calls = completion.choices[0].message.tool_calls or []
    return [(c.function.name, json.loads(c.function.arguments)) for c in calls]


def answer_of(completions: list[ChatCompletion]) -> str:
    return completions[-1].choices[0].message.content or ""


@pytest.mark.parametrize("stream", [False, True])
async def test_parallel_calls_then_answer_from_results(client: ChatClient, stream: bool):
    completions, _ = await drive(client, "What's the weather in Paris and Tokyo?", stream=stream)
    assert len(completions) == 2
    assert calls_of(completions[0]) == [
        ("get_weather", {"city": "Paris"}),
        ("get_weather", {"city": "Tokyo"}),
    ]
    first = completions[0].choices[0]
    assert first.finish_reason == "tool_calls"
    assert first.message.reasoning_content is not None
    assert DISCLAIMER in first.message.reasoning_content
    assert answer_of(completions) == (
        f"Here is what I found:\n- {get_weather('Paris')}\n- {get_weather('Tokyo')}"
    )
    assert completions[-1].choices[0].finish_reason == "stop"


async def test_arithmetic_goes_to_the_calculator(client: ChatClient):
    completions, _ = await drive(client, "what is 12*7 + 3")
    assert calls_of(completions[0]) == [("calculate", {"expression": "12*7 + 3"})]
    assert answer_of(completions) == "12*7 + 3 = 87"


async def test_word_arithmetic_and_two_expressions_in_parallel(client: ChatClient):
    completions, _ = await drive(client, "What is 3 times 4 plus 2, and the square root of 16?")
    assert calls_of(completions[0]) == [
        ("calculate", {"expression": "3 * 4 + 2"}),
        ("calculate", {"expression": "sqrt(16)"}),
    ]
    assert answer_of(completions).endswith("- 3 * 4 + 2 = 14\n- sqrt(16) = 4")


async def test_multi_step_arithmetic_on_looked_up_values(client: ChatClient):
    prompt = "How much warmer is it in Paris than in Tokyo?"
    completions, messages = await drive(client, prompt, stream=True)
    assert [len(calls_of(c)) for c in completions] == [2, 1, 0]
    paris, tokyo = (int(get_weather(c).split(": ")[1].split("°")[0]) for c in ("Paris", "Tokyo"))
    expected = f"{paris} - {tokyo}" if tokyo >= 0 else f"{paris} - ({tokyo})"
    assert calls_of(completions[1]) == [("calculate", {"expression": expected})]
    assert answer_of(completions).endswith(f"{expected} = {paris - tokyo}")
    assert [m["role"] for m in messages].count("tool") == 3


async def test_average_wins_over_compare(client: ChatClient):
    completions, _ = await drive(client, "Compare Berlin, London and Madrid: average temperature?")
    assert [name for name, _ in calls_of(completions[0])] == ["get_weather"] * 3
    [(name, args)] = calls_of(completions[1])
    assert name == "calculate"
    assert args["expression"].endswith(") / 3")


async def test_enum_and_timezone_arguments(client: ChatClient):
    completions, _ = await drive(client, "weather in New York in fahrenheit")
    assert calls_of(completions[0]) == [("get_weather", {"city": "New York", "unit": "fahrenheit"})]
    assert "°F" in answer_of(completions)
    completions, _ = await drive(client, "What time is it in Tokyo?")
    assert calls_of(completions[0]) == [("get_time", {"timezone": "Asia/Tokyo"})]
    completions, _ = await drive(client, "what time is it?")
    assert calls_of(completions[0]) == [("get_time", {})]  # the tool's default: UTC


async def test_follow_up_question_reuses_the_previous_tool(client: ChatClient):
    _, history = await drive(client, "What's the weather in Paris?")
    completions, _ = await drive(client, "and in London?", history=history)
    assert calls_of(completions[0]) == [("get_weather", {"city": "London"})]


async def test_numbers_fill_numeric_parameters_in_order(client: ChatClient):
    @tool
    def subtract(a: int, b: int) -> int:
        """Subtract b from a."""
        return a - b

    completions, _ = await drive(client, "subtract: 10 and 3", [subtract])
    assert calls_of(completions[0]) == [("subtract", {"a": 10, "b": 3})]
    assert answer_of(completions) == "subtract(a=10, b=3) returned: 7"

    @tool
    def is_prime(n: int) -> bool:
        """Tell whether n is a prime number."""
        return n > 1 and all(n % d for d in range(2, n))

    completions, _ = await drive(client, "is 7 prime? and 12?", [is_prime])
    assert calls_of(completions[0]) == [("is_prime", {"n": 7}), ("is_prime", {"n": 12})]
    assert "true" in answer_of(completions)


async def test_quoted_search_queries_fan_out(client: ChatClient):
    @tool
    def search(query: str, limit: int = 3) -> str:
        """Search the web."""
        return f"{limit} pages about {query}"

    completions, _ = await drive(client, 'search "anyio" and "trio"', [search])
    assert calls_of(completions[0]) == [
        ("search", {"query": "anyio"}),
        ("search", {"query": "trio"}),
    ]
    completions, _ = await drive(client, "find out about structured concurrency", [search])
    assert calls_of(completions[0]) == [
        ("search", {"query": "find out about structured concurrency"})
    ]


async def test_a_question_goes_to_the_tool_that_looks_things_up(client: ChatClient):
    @tool
    def search(query: str) -> str:
        """Search the web and return the top result."""
        return "Dune (1965) is a novel by Frank Herbert."

    completions, _ = await drive(client, "Who wrote Dune?", [search])  # no word names the tool
    assert calls_of(completions[0]) == [("search", {"query": "Who wrote Dune"})]
    assert "Frank Herbert" in answer_of(completions)


async def test_description_and_parameter_words_pick_the_tool(client: ChatClient):
    @tool
    def books(title: str) -> str:
        """Tell who wrote a book, and when."""
        return "Frank Herbert, 1965"

    @tool
    def rates(amount: float, currency: str) -> str:
        """Convert money.

        Args:
            amount: How much.
            currency: An ISO code such as USD; the answer is in euros.
        """
        return f"{amount * 0.9} EUR"

    offered: list[Tool[Any, Any]] = [books, rates]
    completions, _ = await drive(client, 'Who wrote "Dune"?', offered)
    assert calls_of(completions[0]) == [("books", {"title": "Dune"})]
    completions, _ = await drive(client, "How many euros is 30 USD?", offered)
    assert calls_of(completions[0]) == [("rates", {"amount": 30, "currency": "USD"})]


class Trip(BaseModel):
    origin: str
    destination: str
    adults: int
    nights: int


async def test_each_field_of_a_nested_argument_is_filled_from_its_own_name(client: ChatClient):
    @tool
    def book_trip(trip: Trip) -> str:
        """Book a holiday."""
        return f"booked {trip.origin} -> {trip.destination}"

    @tool
    def book_flight(origin: str, destination: str, adults: int = 1) -> str:
        """Book a flight."""
        return f"flight {origin} -> {destination} for {adults}"

    prompt = "Book a trip from Paris to Tokyo for 2 adults, 5 nights"
    completions, _ = await drive(client, prompt, [book_trip])
    trip = {"origin": "Paris", "destination": "Tokyo", "adults": 2, "nights": 5}
    assert calls_of(completions[0]) == [("book_trip", {"trip": trip})]
    completions, _ = await drive(client, "Book a flight to Oslo from Rome", [book_flight])
    assert calls_of(completions[0]) == [("book_flight", {"origin": "Rome", "destination": "Oslo"})]


async def test_an_optional_parameter_takes_only_what_its_name_points_at(client: ChatClient):
    @tool
    def weather(city: str, unit: str = "celsius", days: int = 1) -> str:
        """Get the weather for a city."""
        return f"{city} {unit} {days}"

    completions, _ = await drive(client, "Weather in Paris and Tokyo?", [weather])
    assert calls_of(completions[0]) == [
        ("weather", {"city": "Paris"}),
        ("weather", {"city": "Tokyo"}),
    ]
    completions, _ = await drive(client, "Paris weather for 3 days, unit: 'kelvin'", [weather])
    expected = {"city": "Paris", "unit": "kelvin", "days": 3}
    assert calls_of(completions[0]) == [("weather", expected)]


async def test_no_relevant_tool_and_missing_argument(client: ChatClient):
    completions, _ = await drive(client, "Tell me a joke")
    assert len(completions) == 1
    assert answer_of(completions).startswith("None of my tools (get_weather, calculate, get_time)")
    completions, _ = await drive(client, "what's the weather?")
    assert answer_of(completions) == (
        "I could not call a tool: get_weather needs city, which your message doesn't give."
    )


async def test_without_tools_it_says_what_it_is(client: ChatClient):
    completions, _ = await drive(client, "hello there", [])
    assert answer_of(completions) == (
        f'({DISCLAIMER}) No tools were offered, so I can only repeat you: "hello there"'
    )


WEATHER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "cities": {"type": "array", "items": {"$ref": "#/$defs/City"}},
        "summary": {"type": "string"},
        "warmest": {"anyOf": [{"type": "string"}, {"type": "null"}]},
    },
    "required": ["cities", "summary", "warmest"],
    "additionalProperties": False,
    "$defs": {
        "City": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "temperature": {"type": "number"},
                "humidity": {"type": "integer", "minimum": 0, "maximum": 100},
                "sky": {"enum": ["sunny", "overcast", "windy", "other"]},
            },
            "required": ["city", "temperature", "humidity", "sky"],
        }
    },
}


@pytest.mark.parametrize("stream", [False, True])
async def test_json_schema_answer_uses_the_tool_results(client: ChatClient, stream: bool):
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "w", "schema": WEATHER_SCHEMA},
    }
    completions, _ = await drive(
        client, "weather in Paris and Tokyo", stream=stream, response_format=response_format
    )
    value = json.loads(answer_of(completions))
    jsonschema.validate(value, WEATHER_SCHEMA)
    assert [c["city"] for c in value["cities"]] == ["Paris", "Tokyo"]
    paris = get_weather("Paris")
    assert value["cities"][0]["temperature"] == int(paris.split(": ")[1].split("°")[0])
    assert value["cities"][0]["humidity"] == int(paris.rsplit(" ", 1)[1].rstrip("%"))
    assert paris in value["summary"]


SCHEMAS: list[dict[str, Any]] = [
    {},
    {"type": "string", "minLength": 500},
    {"type": "string", "maxLength": 3},
    {"type": "integer", "minimum": 5, "maximum": 7},
    {"type": "number", "maximum": -1},
    {"type": "boolean"},
    {"type": "null"},
    {"type": ["null", "integer"]},
    {"const": "fixed"},
    {"enum": [1, 2, 3]},
    {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2},
    {"type": "array", "items": {"enum": ["a", "b"]}, "minItems": 1},
    {"type": "object", "properties": {"when": {"type": "string", "format": "date-time"},
                                      "mail": {"type": "string", "format": "email"}}},
    {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}}},
    {"$defs": {"Node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/Node"}}}},
     "$ref": "#/$defs/Node"},
    {"type": "object", "properties": {"n": {"oneOf": [{"type": "null"}, {"type": "number"}]}},
     "required": ["n"]},
]  # fmt: skip


@pytest.mark.parametrize("schema", SCHEMAS, ids=[json.dumps(s)[:40] for s in SCHEMAS])
def test_json_schema_answers_validate(schema: dict[str, Any]):
    request = {
        "model": "m",
        "messages": [{"role": "user", "content": "Paris has 3 cats"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
    }
    content = demo_responder(request)["choices"][0]["message"]["content"]
    jsonschema.validate(json.loads(content), schema)


def one_lookup(name: str, parameter: str, value: str, content: str) -> list[dict[str, Any]]:
    arguments = json.dumps({parameter: value})
    call = {"id": "c0", "type": "function", "function": {"name": name, "arguments": arguments}}
    return [
        {"role": "user", "content": f'Research "{value}"'},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c0", "content": content},
    ]


@pytest.mark.parametrize(("parameter", "field"), [("query", "topic"), ("q", "subject")])
def test_json_fields_of_one_lookup_take_what_was_asked_and_found(parameter: str, field: str):
    schema = {
        "type": "object",
        "properties": {field: {"type": "string"}, "summary": {"type": "string"}},
        "required": [field, "summary"],
    }
    request = {
        "messages": one_lookup("search", parameter, "json schema", "Describes JSON documents."),
        "response_format": {"type": "json_schema", "json_schema": {"name": "f", "schema": schema}},
    }
    content = demo_responder(request)["choices"][0]["message"]["content"]
    # not the chat answer "search(query='json schema') returned: Describes JSON documents."
    assert json.loads(content) == {field: "json schema", "summary": "Describes JSON documents."}


def test_json_summary_of_a_calculation_keeps_the_expression():
    schema = {"type": "object", "properties": {"summary": {"type": "string"}}}
    request = {
        "messages": one_lookup("calculate", "expression", "12*7 + 3", "87"),
        "tools": [t.definition() for t in DEMO_TOOLS],
        "response_format": {"type": "json_schema", "json_schema": {"name": "f", "schema": schema}},
    }
    content = demo_responder(request)["choices"][0]["message"]["content"]
    assert json.loads(content) == {"summary": "12*7 + 3 = 87"}


def test_json_object_answer():
    request = {
        "messages": [{"role": "user", "content": "hi"}],
        "response_format": {"type": "json_object"},
    }
    content = demo_responder(request)["choices"][0]["message"]["content"]
    assert json.loads(content) == {
        "answer": f'({DISCLAIMER}) No tools were offered, so I can only repeat you: "hi"'
    }


def request_for(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": "m",
        "messages": [{"role": "user", "content": text}],
        "tools": [t.definition() for t in DEMO_TOOLS],
        **extra,
    }


def test_tool_choice_none_forbids_calls_and_forced_choice_calls():
    reply = demo_responder(request_for("weather in Paris", tool_choice="none"))
    assert "tool_calls" not in reply["choices"][0]["message"]
    forced = {"type": "function", "function": {"name": "get_time"}}
    reply = demo_responder(request_for("weather in Paris", tool_choice=forced))
    assert [c["function"]["name"] for c in reply["choices"][0]["message"]["tool_calls"]] == [
        "get_time"
    ]
    reply = demo_responder(request_for("Tell me a joke", tool_choice="required"))
    (call,) = reply["choices"][0]["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "", "unit": "celsius"}


def test_calls_already_made_are_not_repeated_and_rounds_are_bounded():
    request = request_for("weather in Paris")
    first = demo_responder(request)["choices"][0]["message"]
    request["messages"] += [
        {"role": "assistant", "content": None, "tool_calls": first["tool_calls"]},
        {"role": "tool", "tool_call_id": first["tool_calls"][0]["id"], "content": "rainy"},
    ]
    second = demo_responder(request)["choices"][0]["message"]
    assert "tool_calls" not in second
    assert second["content"] == "get_weather(city='Paris') returned: rainy"
    # results that never satisfy the plan: the model still answers after a few rounds
    messages: list[dict[str, Any]] = [{"role": "user", "content": "weather in Paris"}]
    for n in range(4):
        arguments = json.dumps({"city": f"X{n}"})
        call = {"id": f"c{n}", "function": {"name": "get_weather", "arguments": arguments}}
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": f"c{n}", "content": "?"},
        ]
    reply = demo_responder({**request_for(""), "messages": messages})
    assert reply["choices"][0]["finish_reason"] == "stop"


def test_odd_messages_do_not_break_it():
    messages: list[Any] = [
        "not a message",
        {"role": "system", "content": None},
        {"role": "user", "content": [{"type": "text", "text": "weather in"}, {"type": "image_url"},
                                     "junk", {"type": "text", "text": "Lima"}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "x", "function": {"name": "get_weather", "arguments": "{not json"}}]},
        {"role": "tool", "tool_call_id": "unknown", "content": "orphan"},
    ]  # fmt: skip
    reply = demo_responder({**request_for(""), "messages": messages})
    (call,) = reply["choices"][0]["message"]["tool_calls"]
    assert json.loads(call["function"]["arguments"]) == {"city": "Lima"}
    assert demo_responder({})["choices"][0]["message"]["content"]
    loop = {"$defs": {"Loop": {"$ref": "#/$defs/Loop"}}, "$ref": "#/$defs/Loop"}
    response_format = {"type": "json_schema", "json_schema": {"name": "x", "schema": loop}}
    assert demo_responder({"response_format": response_format})["choices"][0]["message"]


def test_usage_is_deterministic_and_consistent():
    first, second = (
        demo_responder(request_for("weather in Paris")),
        demo_responder(request_for("weather in Paris")),
    )
    assert first == second
    usage = first["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert 0 < usage["completion_tokens_details"]["reasoning_tokens"] < usage["completion_tokens"]


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=200), with_tools=st.booleans())
def test_any_text_gets_a_well_formed_reply(text: str, with_tools: bool):
    request = request_for(text) if with_tools else {"messages": [{"role": "user", "content": text}]}
    reply = ChatCompletion.model_validate(demo_responder(request))
    (choice,) = reply.choices
    assert choice.message.content or choice.message.tool_calls
    for call in choice.message.tool_calls or []:
        assert isinstance(json.loads(call.function.arguments), dict)


async def test_demo_server_lists_the_demo_model(client: ChatClient):
    assert [m.id for m in await client.list_models()] == [DEMO_MODEL]


# --- the demo tools -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "expected"),
    [("12*7 + 3", "87"), ("2^10", "1024"), ("7 / 2", "3.5"), ("-(3 - 5) * 2", "4"),
     ("sqrt(16) + abs(-2)", "6"), ("max(1, 9) - min(4, 2)", "7"), ("10 // 3 + 10 % 3", "4"),
     ("1/3", "0.3333333333")],
)  # fmt: skip
def test_calculate(expression: str, expected: str):
    assert calculate(expression) == expected


@pytest.mark.parametrize(
    "expression",
    ["__import__('os').system('true')", "x + 1", "(1).real", "9**9**9", "1/0", "True + 1",
     "'a' * 3", "sqrt(x=4)", "1 +"],
)  # fmt: skip
def test_calculate_rejects_what_is_not_arithmetic(expression: str):
    with pytest.raises(ValueError):
        calculate(expression)


def test_weather_is_stable_and_converts_units():
    assert get_weather("Paris") == get_weather("Paris")
    celsius = int(get_weather("Oslo").split(": ")[1].split("°")[0])
    fahrenheit = get_weather("Oslo", unit="fahrenheit")
    assert f": {round(celsius * 9 / 5 + 32)}°F" in fahrenheit


@pytest.mark.parametrize("zone", ["UTC", "Asia/Tokyo"])
def test_get_time(zone: Literal["UTC", "Asia/Tokyo"]):
    assert f" in {zone} (" in get_time(zone)


def test_get_time_rejects_unknown_zones():
    with pytest.raises(ValueError, match="unknown timezone 'Mars/Olympus'"):
        get_time("Mars/Olympus")


def test_arguments_follow_each_schema_type():
    parameters = {
        "type": "object",
        "properties": {
            "day": {"type": "string", "format": "date"},
            "verbose": {"type": "boolean"},
            "strict": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "pages": {"type": "integer", "minimum": 1},
            "ratio": {"type": "number", "default": 0.5},
            "kind": {"const": "report"},
            "mode": {"enum": ["fast", "slow"]},
            "options": {"type": "object", "properties": {"x": {"type": "boolean"}}},
        },
    }
    parameters["required"] = list(parameters["properties"])
    request = {
        "messages": [
            {
                "role": "user",
                "content": "Make a verbose report of 3 pages on 2025-03-01 about "
                '"Alpha" and "Beta"',
            },
        ],
        "tools": [
            {"type": "function", "function": {"name": "make_report", "parameters": parameters}}
        ],
    }
    (call,) = demo_responder(request)["choices"][0]["message"]["tool_calls"]
    assert json.loads(call["function"]["arguments"]) == {
        "day": "2025-03-01",
        "verbose": True,
        "strict": False,
        "tags": ["Alpha", "Beta"],
        "pages": 3,
        "ratio": 0.5,
        "kind": "report",
        "mode": "fast",
        "options": {"x": False},
    }


TERM = r"(?:\d+|\(-\d+\))"


@pytest.mark.parametrize(
    ("question", "pattern"),
    [
        ("total", rf"{TERM} \+ {TERM} \+ {TERM}"),
        ("difference", rf"max\({TERM}, {TERM}, {TERM}\) - min\({TERM}, {TERM}, {TERM}\)"),
    ],
)
async def test_arithmetic_over_three_looked_up_values(
    client: ChatClient, question: str, pattern: str
):
    prompt = f"What is the {question} of the temperatures in Oslo, Lima and Cairo?"
    completions, _ = await drive(client, prompt)
    [(name, args)] = calls_of(completions[1])
    assert name == "calculate"
    assert re.fullmatch(pattern, args["expression"])


NAMES = st.sampled_from(["city", "temperature", "humidity", "summary", "count", "tags", "when"])


@st.composite
def integer_schemas(draw: st.DrawFn) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer"}
    step = draw(st.none() | st.integers(1, 7))
    low = draw(st.none() | st.integers(-50, 50))
    if step:
        schema["multipleOf"] = step
    if low is not None:
        schema["minimum" if draw(st.booleans()) else "exclusiveMinimum"] = low
        if draw(st.booleans()):  # wide enough to hold a multiple of the step
            schema["maximum"] = low + draw(st.integers(0, 40)) + 2 * (step or 1)
    return schema


@st.composite
def number_schemas(draw: st.DrawFn) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "number"}
    low = draw(st.floats(-100, 100))
    if draw(st.booleans()):
        schema["minimum" if draw(st.booleans()) else "exclusiveMinimum"] = low
    if draw(st.booleans()):
        high = low + draw(st.floats(0.5, 50))
        schema["maximum" if draw(st.booleans()) else "exclusiveMaximum"] = high
    return schema


@st.composite
def string_schemas(draw: st.DrawFn) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    low = draw(st.integers(0, 30))
    if draw(st.booleans()):
        schema["minLength"] = low
    if draw(st.booleans()):
        schema["maxLength"] = low + draw(st.integers(0, 10))
    return schema


LEAVES = st.one_of(
    integer_schemas(),
    number_schemas(),
    string_schemas(),
    st.just({"type": "boolean"}),
    st.just({"type": "null"}),
    st.lists(st.integers() | st.text(max_size=5), min_size=1, max_size=4).map(
        lambda values: {"enum": values}
    ),
    st.integers().map(lambda value: {"const": value}),
)


def containers(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    arrays = st.builds(
        lambda items, low, extra: (
            {"type": "array", "items": items, "minItems": low}
            | ({} if extra is None else {"maxItems": low + extra})
        ),
        children,
        st.integers(0, 3),
        st.none() | st.integers(0, 3),
    )
    objects = st.dictionaries(NAMES, children, max_size=4).flatmap(
        lambda properties: st.sets(st.sampled_from(sorted(properties) or ["x"])).map(
            lambda required: {
                "type": "object",
                "properties": properties,
                "required": sorted(required & set(properties)),
            }
        )
    )
    nullable = children.map(lambda schema: {"anyOf": [schema, {"type": "null"}]})
    return arrays | objects | nullable


def weather_conversation() -> list[dict[str, Any]]:
    calls = [
        {"id": f"c{i}", "type": "function",
         "function": {"name": "get_weather", "arguments": json.dumps({"city": city})}}
        for i, city in enumerate(["Paris", "Tokyo"])
    ]  # fmt: skip
    return [
        {"role": "user", "content": "weather in Paris and Tokyo, 3 days"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        *({"role": "tool", "tool_call_id": c["id"], "content": get_weather(city)}
          for c, city in zip(calls, ["Paris", "Tokyo"], strict=True)),
    ]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(schema=st.recursive(LEAVES, containers, max_leaves=12))
def test_json_answers_satisfy_any_supported_schema(schema: dict[str, Any]):
    request = request_for("")
    request["messages"] = weather_conversation()
    request["response_format"] = {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": schema},
    }
    reply = demo_responder(request)["choices"][0]
    assert reply["finish_reason"] == "stop"
    jsonschema.validate(json.loads(reply["message"]["content"]), schema)


def test_demo_client_needs_no_server_key_or_environment(monkeypatch: pytest.MonkeyPatch):
    # a configured real endpoint is ignored: the demo never reads (or sends) the user's key
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-key")
    monkeypatch.setenv("AGENTKIT_BASE_URL", "http://127.0.0.1:9/v1")
    agent = Agent("any-name", tools=DEMO_TOOLS, client=agentkit.demo_client())
    assert agent.run_sync("weather in Paris").output == get_weather("Paris")
    # the same client from a second event loop, and streamed, as a real server would serve it
    events = anyio.run(lambda: _drain(agent.stream("what is 6*7")))
    assert events[-1].result.output == "6*7 = 42"
    assert any(isinstance(e, ToolCallStarted) for e in events)


async def _drain(stream: Any) -> list[Any]:
    return [event async for event in stream]


async def test_demo_client_answers_like_the_demo_server():
    client = agentkit.demo_client()
    assert [m.id for m in await client.list_models()] == [DEMO_MODEL]
    messages = [{"role": "user", "content": "what is 2+2"}]
    definitions = [t.definition() for t in DEMO_TOOLS]
    completion = await client.complete(model="m", messages=messages, tools=definitions)
    async with client.stream(model="m", messages=messages, tools=definitions) as chunks:
        streamed = await chunks.get_final_completion()
    assert calls_of(completion) == calls_of(streamed) == [("calculate", {"expression": "2+2"})]
    http = httpx.AsyncClient(transport=_DemoTransport())  # what the client sends through
    assert (await http.get("http://demo.agentkit.invalid/v1/nowhere")).status_code == 404
    model = await http.get(f"http://demo.agentkit.invalid/v1/models/{DEMO_MODEL}")
    assert model.json()["id"] == DEMO_MODEL
    url = "http://demo.agentkit.invalid/v1/chat/completions"
    deep = '{"messages": ' + "[" * 100_000 + "]" * 100_000 + "}"
    for body in (b"[1]", b"{not json", deep.encode()):
        bad = await http.post(url, content=body)
        assert bad.status_code == 400
        assert bad.json()["error"]["type"] == "invalid_request_error"
