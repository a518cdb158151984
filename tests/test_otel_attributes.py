"""agentkit.otel's attribute and content helpers on the awkward shapes real servers send."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentkit.otel._attributes import (
    completion_attributes,
    error_type,
    input_messages,
    output_messages,
    provider_for,
    request_attributes,
    server_attributes,
    system_instructions,
    usage_counts,
)


@pytest.mark.parametrize(
    ("host", "provider"),
    [
        ("api.openai.com", "openai"),
        ("API.DeepSeek.com", "deepseek"),
        ("generativelanguage.googleapis.com", "gcp.gemini"),
        ("my-res.openai.azure.com", "azure.ai.openai"),
        ("bedrock-runtime.us-east-1.amazonaws.com", "aws.bedrock"),
        ("gateway.internal", "openai"),
        (None, "openai"),
    ],
)
def test_provider_names(host: str | None, provider: str):
    assert provider_for(host) == provider


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.openai.com/v1", {"server.address": "api.openai.com", "server.port": 443}),
        ("http://127.0.0.1:8080/v1", {"server.address": "127.0.0.1", "server.port": 8080}),
        ("http://[::1]/v1", {"server.address": "::1", "server.port": 80}),
        ("https://user:pw@host:bad/v1", {"server.address": "host"}),
        ("ftp://host/v1", {"server.address": "host"}),
    ],
)
def test_server_attributes(url: str, expected: dict[str, object]):
    assert server_attributes(url) == expected


def test_request_attributes_take_only_settings_never_headers():
    params = {
        "model": "m", "messages": [], "temperature": 0, "max_completion_tokens": 50,
        "stop": "END", "n": 2, "seed": True, "response_format": {"type": "text"},
        "extra_headers": {"Authorization": "Bearer sk"}, "extra_body": {"x": 1},
    }  # fmt: skip
    assert request_attributes(params) == {
        "gen_ai.request.model": "m",
        "gen_ai.request.temperature": 0,
        "gen_ai.request.max_tokens": 50,
        "gen_ai.request.stop_sequences": ["END"],
        "gen_ai.request.choice.count": 2,
        "gen_ai.output.type": "text",
    }
    assert request_attributes({"stop": ["a", "b"], "n": 1}) == {
        "gen_ai.request.stop_sequences": ["a", "b"]
    }
    assert request_attributes({"stop": ["a", 1], "response_format": {"type": "json_object"}}) == {
        "gen_ai.output.type": "json"
    }


@pytest.mark.parametrize(
    "completion",
    [
        {},
        {"usage": None, "choices": None, "id": "", "model": None},
        {"usage": "12", "choices": ["x", {"finish_reason": None}]},
        {"usage": {"prompt_tokens": True, "completion_tokens": "3",
                   "prompt_tokens_details": None, "completion_tokens_details": []}},
    ],
)  # fmt: skip
def test_odd_completions_give_no_attributes(completion: dict[str, Any]):
    assert completion_attributes(completion) == {}
    assert usage_counts(completion) == {}


def test_error_types_are_qualified_unless_builtin():
    class Local(Exception):
        pass

    assert error_type(KeyError("x")) == "KeyError"
    assert error_type(Local()).endswith(
        ".test_error_types_are_qualified_unless_builtin.<locals>.Local"
    )


def test_content_parts_of_every_message_shape():
    messages: list[dict[str, Any]] = [
        {"role": "developer", "content": [{"type": "text", "text": "rule "}, {"type": "text",
                                                                              "text": "two"}]},
        {"role": "system", "content": None},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]},
        {"role": "assistant", "content": None, "tool_calls": [
            "junk", {"id": "c1", "function": None},
            {"id": "c2", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}},
        ]},
        {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "42"}]},
    ]  # fmt: skip
    assert json.loads(system_instructions(messages, 100) or "") == [
        {"type": "text", "content": "rule two"}
    ]
    assert system_instructions(messages[2:], 100) is None
    assert json.loads(input_messages(messages, 100)) == [
        {"role": "user", "parts": []},
        {"role": "assistant", "parts": [
            {"type": "tool_call", "id": "c1", "name": None, "arguments": None},
            {"type": "tool_call", "id": "c2", "name": "f", "arguments": {"a": 1}},
        ]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c2", "response": "42"}]},
    ]  # fmt: skip
    odd = {"choices": ["junk", {"message": None, "finish_reason": "length"}]}
    assert json.loads(output_messages(odd, 100)) == [
        {"role": "assistant", "parts": [], "finish_reason": "length"}
    ]
