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

# Each: settings the schema rejects -> what the error says.
INVALID: list[tuple[dict[str, Any], str]] = [
    ({"seed": True}, "seed must be a 64-bit integer"),
    ({"n": 129}, "n must be an integer from 1 to 128"),
    ({"n": 0}, "n must be an integer from 1 to 128"),
    ({"logit_bias": {"50256": 0.5}}, r"logit_bias\['50256'\] must be an integer from -100 to 100"),
    ({"stop": []}, "stop must not be an empty list"),
    ({"verbosity": "loud"}, "verbosity must be one of low, medium, high, got 'loud'"),
    ({"safety_identifier": "x" * 65}, "at most 64 characters, got 65 characters; send a hash"),
    ({"metadata": {"a": 1}}, r"metadata\['a'\] must be a string .* convert numbers with str"),
    ({"prompt_cache_retention": "1h"}, "prompt_cache_retention must be one of in_memory, 24h"),
    ({"prompt_cache_options": {"ttl": "1h"}}, r'prompt_cache_options must be .*\(ttl "30m"'),
    ({"prompt_cache_options": {"mode": "auto"}}, "prompt_cache_options must be an object"),
    ({"moderation": {"policy": {}}}, "moderation must be an object naming its model"),
    ({"functions": []}, "functions must be a list of 1 to 128 .* pass them as tools"),
    ({"functions": [{"description": "no name"}]}, r"functions\[0\] must look like"),
    ({"function_call": "required"}, "function_call must be 'none', 'auto' or"),
]

# Limits the schema states in prose (Metadata's description) or as imprecise float bounds.
BEYOND_KEYWORDS: list[tuple[dict[str, Any], str]] = [
    ({"seed": 2**63}, "seed must be a 64-bit integer"),
    ({"metadata": {"k" * 65: "v"}}, "metadata key 'k+' must be a string of at most 64"),
    ({"metadata": {"a": "v" * 513}}, r"metadata\['a'\] must be a string of at most 512"),
    ({"metadata": {str(i): "" for i in range(17)}}, "metadata must be an object of at most 16"),
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
async def test_what_the_schema_rejects_is_caught_before_sending(
    request_validator: Draft202012Validator, settings: dict[str, Any], message: str
):
    assert list(request_validator.iter_errors({"model": "m", "messages": USER, **settings}))
    await refused(settings, message)


@pytest.mark.parametrize(("settings", "message"), BEYOND_KEYWORDS)
async def test_limits_the_schema_states_in_prose_are_caught_too(
    settings: dict[str, Any], message: str
):
    await refused(settings, message)


async def refused(settings: dict[str, Any], message: str) -> None:
    seen: list[httpx.Request] = []
    with anyio.fail_after(5), pytest.raises(errors.InvalidRequestError, match=message):
        await client(seen).complete(model="m", messages=USER, **settings)
    assert seen == []
