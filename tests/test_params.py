"""Request parameters: what ChatClient accepts is what OpenAI's request schema accepts."""

from __future__ import annotations

import json
from typing import Any, get_type_hints

import anyio
import httpx
import pytest
from jsonschema import Draft202012Validator

from agentkit import errors
from agentkit.client import ChatClient
from agentkit.types import ModelSettings
from tests.conftest import mock_transport

USER = [{"role": "user", "content": "Hi"}]
OK = {"choices": [{"message": {"content": "Hello"}}]}
FUNCTION = {"name": "f", "parameters": {"type": "object"}}

# One valid value of every setting.
VALID: ModelSettings = {
    "temperature": 0.5,
    "top_p": 0.9,
    "n": 128,
    "stop": ["END"],
    "max_tokens": 100,
    "max_completion_tokens": 200,
    "presence_penalty": 0.5,
    "frequency_penalty": -0.5,
    "logit_bias": {"50256": -100, "1": 100},
    "logprobs": True,
    "top_logprobs": 20,
    "user": "user-1",
    "seed": -(2**63),
    "response_format": {"type": "json_object"},
    "reasoning_effort": "low",
    "verbosity": "low",
    "modalities": ["text"],
    "audio": {"voice": "alloy", "format": "wav"},
    "parallel_tool_calls": False,
    "stream_options": {"include_usage": True},
    "metadata": {"k" * 64: "v" * 512, **{str(i): "" for i in range(15)}},
    "store": True,
    "service_tier": "flex",
    "prediction": {"type": "content", "content": "x"},
    "web_search_options": {},
    "prompt_cache_key": "key-1",
    "prompt_cache_retention": "24h",
    "prompt_cache_options": {"ttl": "30m", "mode": "explicit"},
    "safety_identifier": "x" * 64,
    "moderation": {"model": "omni-moderation-latest"},
    "functions": [FUNCTION],
    "function_call": {"name": "f"},
}

# Each: settings no server accepts (wrong JSON types, impossible values) -> the error says.
INVALID: list[tuple[dict[str, Any], str]] = [
    ({"seed": True}, "seed must be a 64-bit integer"),
    ({"seed": 2**63}, "seed must be a 64-bit integer"),
    ({"n": 0}, "n must be an integer >= 1"),
    ({"max_tokens": -1}, "max_tokens must be an integer >= 1"),
    ({"temperature": -0.5}, "temperature must be a number >= 0"),
    ({"top_p": 1.5}, "top_p must be a number from 0 to 1"),
    ({"logit_bias": {"50256": "ban"}}, r"logit_bias\['50256'\] must be a number"),
    ({"stop": [1]}, "stop must be a string or a list of strings"),
    ({"reasoning_effort": 3}, "reasoning_effort must be a string, got int"),
    ({"metadata": ["a"]}, "metadata must be an object"),
    ({"functions": [{"description": "no name"}]}, r"functions\[0\] must look like"),
    ({"function_call": 1}, "function_call must be a string"),
]

# Values OpenAI's schema refuses that real gateways take: sent as they are.
PROVIDER_VALUES: list[dict[str, Any]] = [
    {"reasoning_effort": "default"},  # Groq
    {"verbosity": "max"},
    {"n": 129, "top_logprobs": 50, "logprobs": True},  # vLLM takes larger values
    {"temperature": 3.5},
    {"stop": ["a", "b", "c", "d", "e"]},
    {"stop": []},
    {"logit_bias": {"50256": 0.5}},
    {"metadata": {"a": 1, "k" * 65: "v" * 513, **{str(i): "" for i in range(17)}}},
    {"safety_identifier": "x" * 65},
    {"prompt_cache_retention": "1h", "prompt_cache_options": {"ttl": "1h"}},
    {"moderation": {"policy": {}}},
    {"modalities": ["text", "image"]},
    {"functions": []},
    {"function_call": "required"},
]


def client(seen: list[httpx.Request]) -> ChatClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=OK)

    http = httpx.AsyncClient(transport=mock_transport(handler))
    return ChatClient(base_url="http://test/v1", api_key="k", http_client=http, max_retries=0)


def properties(schema: Any, node: Any) -> set[str]:
    if "$ref" in node:
        node = schema["$defs"][node["$ref"].removeprefix("#/$defs/")]
    parts = [properties(schema, part) for part in node.get("allOf", [])]
    return set(node.get("properties", {})).union(*parts)


def test_settings_are_the_request_schema_parameters(request_validator: Draft202012Validator):
    parameters = properties(request_validator.schema, request_validator.schema)
    ours = set(get_type_hints(ModelSettings)) - {"extra_body"}
    assert ours == parameters - {"model", "messages", "tools", "tool_choice", "stream"}
    assert set(VALID) == ours


async def test_every_setting_is_accepted_as_the_schema_allows(
    request_validator: Draft202012Validator,
):
    seen: list[httpx.Request] = []
    with anyio.fail_after(5):  # a stream, because stream_options is left out of other requests
        await client(seen).stream(model="m", messages=USER, **VALID).get_final_completion()
    sent = json.loads(seen[0].content)
    assert {key: sent[key] for key in VALID} == VALID
    assert list(request_validator.iter_errors(sent)) == []


@pytest.mark.parametrize(("settings", "message"), INVALID)
async def test_what_no_server_accepts_is_caught_before_sending(
    settings: dict[str, Any], message: str
):
    await refused(settings, message)


@pytest.mark.invalid_requests  # provider values OpenAI's own schema does not list
@pytest.mark.parametrize("settings", PROVIDER_VALUES)
async def test_provider_values_are_sent_as_given(settings: dict[str, Any]):
    seen: list[httpx.Request] = []
    with anyio.fail_after(5):
        await client(seen).complete(model="m", messages=USER, **settings)
    sent = json.loads(seen[0].content)
    assert {key: sent[key] for key in settings} == settings


@pytest.mark.invalid_requests
async def test_provider_tools_tool_choice_and_roles_are_sent_as_given():
    web: Any = {"type": "openrouter:web_search", "parameters": {"max_uses": 1}}
    function: Any = {"type": "function", "function": FUNCTION}
    choices: list[Any] = ["any", "auto", {"type": "allowed_tools"}, {"type": "web_search"}]
    messages = [{"role": "ipython", "content": "x"}, {"role": "tool", "content": "y"}]
    seen: list[httpx.Request] = []
    with anyio.fail_after(5):
        for choice in choices:
            await client(seen).complete(
                model="m", messages=messages, tools=[web, function], tool_choice=choice
            )
    sent = [json.loads(r.content) for r in seen]
    assert [(b["tools"], b["tool_choice"], b["messages"]) for b in sent] == [
        ([web, function], choice, messages) for choice in choices
    ]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ({"messages": [{"content": "no role"}]}, r"messages\[0\] has role None"),
        ({"messages": [{"role": "tool", "tool_call_id": 7}]}, "tool_call_id must be a string"),
        ({"tools": [{"type": "function", "function": {}}]}, r"tools\[0\] must look like"),
        ({"tools": ["f"]}, r"tools\[0\] must be a dict"),
        ({"tool_choice": 3}, "tool_choice must be a string"),
        ({"tool_choice": "required"}, "needs at least one function in tools"),
        (
            {"tool_choice": {"type": "function", "function": {"name": "g"}}},
            "names function 'g', which is not in tools",
        ),
    ],
)
async def test_malformed_messages_and_tools_are_refused(call: dict[str, Any], message: str):
    seen: list[httpx.Request] = []
    with anyio.fail_after(5), pytest.raises(errors.InvalidRequestError, match=message):
        await client(seen).complete(**{"model": "m", "messages": USER, **call})
    assert seen == []


@pytest.mark.invalid_requests  # top_p=7, sent on purpose through the escape hatch
async def test_a_refused_value_names_the_extra_body_escape_hatch():
    seen: list[httpx.Request] = []
    with pytest.raises(errors.InvalidRequestError, match=r"extra_body=\{'top_p': \.\.\.\}"):
        await client(seen).complete(model="m", messages=USER, top_p=7)
    await client(seen).complete(model="m", messages=USER, extra_body={"top_p": 7})
    assert json.loads(seen[0].content)["top_p"] == 7


@pytest.mark.parametrize(
    ("request_args", "key"),
    [
        ({"model": "", "messages": USER}, "model"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": [{"content": "no role"}]}, "messages"),
        ({"model": "m", "messages": [{"role": "tool", "tool_call_id": 7}]}, "messages"),
    ],
)
async def test_every_refusal_names_the_escape_hatch(request_args: dict[str, Any], key: str):
    with pytest.raises(errors.InvalidRequestError, match=rf"extra_body=\{{'{key}': \.\.\.\}}"):
        await client([]).complete(**request_args)


async def test_extra_body_none_leaves_out_what_agentkit_adds():
    seen: list[httpx.Request] = []
    with anyio.fail_after(5):
        stream = client(seen).stream(model="m", messages=USER, extra_body={"stream_options": None})
        await stream.get_final_completion()
        await client(seen).stream(model="m", messages=USER).get_final_completion()
    assert [json.loads(r.content).get("stream_options") for r in seen] == [
        None,
        {"include_usage": True},
    ]


async def refused(settings: dict[str, Any], message: str) -> None:
    seen: list[httpx.Request] = []
    with anyio.fail_after(5), pytest.raises(errors.InvalidRequestError, match=message):
        await client(seen).complete(model="m", messages=USER, **settings)
    assert seen == []
