"""ChatClient over httpx.MockTransport (the wire, precisely) and the FakeServer (end to end)."""

from __future__ import annotations

import copy
import email.utils
import gzip
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from inline_snapshot import snapshot

from agentkit import errors
from agentkit._accumulate import StreamAccumulator
from agentkit._fallback import DROPPABLE, TOOL_STRICT
from agentkit.client import DEFAULT_BASE_URL, OPENAI_BASE_URL, ChatClient
from agentkit.testing import (
    FakeServer,
    RawSSE,
    delay,
    disconnect,
    http_error,
    malformed,
    rate_limit,
    stream_error,
    text,
    tool_calls,
    truncated,
)
from agentkit.tools import tool
from agentkit.types import ChatCompletion, ModelSettings
from tests.conftest import mock_transport, request_errors

STREAMS = Path(__file__).parent / "data" / "streams"
KEY = "sk-very-secret-key-123"
USER = [{"role": "user", "content": "Hi"}]
OK = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}

Handler = Callable[[httpx.Request], httpx.Response]


def mock(handler: Handler, **options: Any) -> ChatClient:
    """A client whose requests go to ``handler``; no real backoff sleeps.

    Its chat request bodies are checked against OpenAI's schema when the test ends (conftest).
    """
    http = httpx.AsyncClient(transport=mock_transport(handler))
    options.setdefault("retry_backoff", 0)
    options.setdefault("api_key", KEY)
    return ChatClient(base_url="http://test/v1", http_client=http, **options)


def recorder(*responses: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A handler answering with ``responses`` in turn (the last one repeats)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = responses[min(len(seen), len(responses)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler, seen


def body(request: httpx.Request) -> Any:
    return json.loads(request.content)


async def _once(text: str) -> AsyncIterator[bytes]:
    """A body read from the network (so httpx decodes it then), not at construction."""
    yield text.encode()


async def _fails_after(data: bytes) -> AsyncIterator[bytes]:
    yield data
    raise httpx.ReadError("reset")


def sse(data: bytes, size: int = 7, fail: Exception | None = None) -> httpx.Response:
    """A streamed 200 response delivering ``data`` in ``size``-byte pieces, then ``fail``."""

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(0, len(data), size):
            yield data[i : i + size]
        if fail is not None:
            raise fail

    return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=pieces())


# --- configuration --------------------------------------------------------------------------


async def test_environment_defaults(monkeypatch: pytest.MonkeyPatch):
    assert ChatClient().base_url == DEFAULT_BASE_URL == "https://api.getinfinityblue.com/v1"
    monkeypatch.setenv("OPENAI_BASE_URL", "http://openai.example/v1/")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    handler, seen = recorder(httpx.Response(200, json=OK))
    http = httpx.AsyncClient(transport=mock_transport(handler))
    client = ChatClient(http_client=http)
    assert client.base_url == "http://openai.example/v1"
    await client.complete(model="m", messages=USER)
    assert seen[-1].headers["authorization"] == "Bearer sk-openai"
    monkeypatch.setenv("AGENTKIT_BASE_URL", "http://agentkit.example")
    monkeypatch.setenv("AGENTKIT_API_KEY", "sk-agentkit")
    client = ChatClient(http_client=http)
    assert client.base_url == "http://agentkit.example/v1"
    await client.complete(model="m", messages=USER)
    assert str(seen[-1].url) == "http://agentkit.example/v1/chat/completions"
    assert seen[-1].headers["authorization"] == "Bearer sk-agentkit"
    # explicit arguments win over the environment
    client = ChatClient(base_url="http://x", api_key="sk-arg", http_client=http)
    await client.complete(model="m", messages=USER)
    assert seen[-1].headers["authorization"] == "Bearer sk-arg"


@pytest.mark.parametrize(
    ("env", "url", "key"),
    [
        ({"OPENAI_API_KEY": "sk-o"}, "https://api.openai.com/v1", "sk-o"),
        ({"OPENAI_API_KEY": "sk-o", "OPENAI_BASE_URL": "http://o/v1"}, "http://o/v1", "sk-o"),
        ({"AGENTKIT_API_KEY": "sk-a", "OPENAI_API_KEY": "sk-o"}, DEFAULT_BASE_URL, "sk-a"),
        ({"AGENTKIT_API_KEY": "sk-a"}, DEFAULT_BASE_URL, "sk-a"),
        # each key goes only to its own family's URL, never to the other's
        ({"OPENAI_API_KEY": "sk-o", "AGENTKIT_BASE_URL": "http://a"}, OPENAI_BASE_URL, "sk-o"),
        ({"AGENTKIT_API_KEY": "sk-a", "OPENAI_BASE_URL": "http://o"}, DEFAULT_BASE_URL, "sk-a"),
        ({"AGENTKIT_BASE_URL": "http://a"}, "http://a/v1", None),
        ({}, DEFAULT_BASE_URL, None),
    ],
)
async def test_an_openai_key_never_goes_to_the_gateway(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], url: str, key: str | None
):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    handler, seen = recorder(httpx.Response(200, json=OK))
    await ChatClient(http_client=httpx.AsyncClient(transport=mock_transport(handler))).complete(
        model="m", messages=USER
    )
    sent = (str(seen[0].url), seen[0].headers.get("authorization"))
    assert sent == (f"{url}/chat/completions", key and f"Bearer {key}")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://h", "http://h/v1"),
        ("http://h/", "http://h/v1"),
        ("http://h/v1", "http://h/v1"),
        ("http://h/v1/", "http://h/v1"),
        ("https://openrouter.ai/api/v1", "https://openrouter.ai/api/v1"),
        ("http://h:8080/proxy", "http://h:8080/proxy/v1"),
        (
            "https://generativelanguage.googleapis.com/v1beta/openai/",
            "https://generativelanguage.googleapis.com/v1beta/openai",
        ),
        ("https://api.groq.com/openai", "https://api.groq.com/openai/v1"),
        ("http://h/api/v2beta", "http://h/api/v2beta"),
        ("http://h/version1", "http://h/version1/v1"),
        ("http://h/v1?tenant=acme", "http://h/v1?tenant=acme"),
        ("http://h/?tenant=acme", "http://h/v1?tenant=acme"),
        ("http://h/v1/chat/completions", "http://h/v1"),  # the endpoint's URL, pasted
        ("http://h/chat/completions/", "http://h/v1"),
        (
            "https://res.openai.azure.com/openai/deployments/gpt?api-version=2024-10-21",
            "https://res.openai.azure.com/openai/deployments/gpt?api-version=2024-10-21",
        ),
    ],
)
def test_base_url_is_normalised(given: str, expected: str):
    assert ChatClient(base_url=given).base_url == expected


async def test_query_of_the_base_url_is_kept_on_every_endpoint():
    listing = {"object": "list", "data": [{"id": "m"}]}
    handler, seen = recorder(httpx.Response(200, json=OK), httpx.Response(200, json=listing))
    http = httpx.AsyncClient(transport=mock_transport(handler))
    client = ChatClient(base_url="https://h/v1/?tenant=acme", api_key=KEY, http_client=http)
    await client.complete(model="m", messages=USER)
    await client.list_models()
    assert [str(r.url) for r in seen] == [
        "https://h/v1/chat/completions?tenant=acme",
        "https://h/v1/models?tenant=acme",
    ]


@pytest.mark.parametrize("base_url", ["localhost:8000/v1", "127.0.0.1:9/v1", "ftp://h/v1"])
def test_base_url_without_http_scheme_is_rejected(monkeypatch: pytest.MonkeyPatch, base_url: str):
    with pytest.raises(errors.InvalidRequestError, match="add http:// or https://"):
        ChatClient(base_url=base_url)
    monkeypatch.setenv("AGENTKIT_BASE_URL", base_url)
    with pytest.raises(errors.InvalidRequestError, match="AGENTKIT_BASE_URL"):
        ChatClient()


@pytest.mark.parametrize(
    ("value", "what"),
    [
        ("Zoë-secret", "U+00EB (character 3)"),
        ("\u200bsecret", "U+200B (character 1)"),
        ("secret\r", "U+000D (character 7)"),
        ("sec\nret", "U+000A (character 4)"),
        ("secret ", "starts or ends with whitespace"),
        (" secret", "starts or ends with whitespace"),
    ],
)
async def test_a_header_value_no_http_header_can_carry_is_refused_unquoted(value: str, what: str):
    with pytest.raises(errors.InvalidRequestError) as caught:
        ChatClient(default_headers={"api-key": value})
    assert "default_headers['api-key'] " in str(caught.value) and what in str(caught.value)
    assert "secret" not in str(caught.value)  # the value may be a credential: never quoted
    handler, seen = recorder(httpx.Response(200, json=OK))
    with pytest.raises(errors.InvalidRequestError) as caught:
        await mock(handler).complete(model="m", messages=USER, extra_headers={"x-api-key": value})
    assert "extra_headers['x-api-key'] " in str(caught.value) and what in str(caught.value)
    assert "secret" not in str(caught.value) and seen == []


def test_a_header_name_that_is_not_a_token_is_refused():
    with pytest.raises(errors.InvalidRequestError, match="not an HTTP token"):
        ChatClient(default_headers={"X Key": "v"})


async def test_headers_on_the_wire():
    handler, seen = recorder(httpx.Response(200, json=OK))
    client = mock(handler, default_headers={"X-App": "demo"})
    await client.complete(model="m", messages=USER, extra_headers={"X-Trace": "t1"})
    headers = seen[0].headers
    assert headers["authorization"] == f"Bearer {KEY}"
    assert headers["content-type"] == "application/json"
    assert (headers["x-app"], headers["x-trace"]) == ("demo", "t1")
    await client.complete(model="m", messages=USER)
    assert "x-trace" not in seen[1].headers


async def test_no_key_sends_no_authorization():
    handler, seen = recorder(httpx.Response(200, json=OK))
    http = httpx.AsyncClient(transport=mock_transport(handler))
    await ChatClient(base_url="http://local", http_client=http).complete(model="m", messages=USER)
    assert "authorization" not in seen[0].headers


async def test_api_key_never_leaks(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    echo = {"error": {"message": f"Incorrect API key provided: {KEY}.", "type": "auth"}}
    handler, seen = recorder(
        httpx.Response(500, json={"error": {"message": "boom"}}),
        httpx.Response(401, json=echo, headers={"x-request-id": "req_9"}),
    )
    client = mock(handler, max_retries=1)
    assert KEY not in repr(client) and KEY not in str(client)
    with pytest.raises(errors.AuthenticationError) as caught:
        await client.complete(model="m", messages=USER)
    error = caught.value
    assert len(seen) == 2
    assert error.message == "Incorrect API key provided: ***."
    assert error.request_id == "req_9"
    for text_ in (str(error), repr(error), json.dumps(error.body), repr(error.request)):
        assert KEY not in text_
    assert caplog.records and all(KEY not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("key", "message", "expected"),
    [
        # redacted only as a whole token: "Unknown" must not become "Un***nown"
        ("k", "Unknown API key: k", "Unknown API key: ***"),
        ("EMPTY", "Unknown model for key EMPTY.", "Unknown model for key ***."),
        ("sk-1", "key sk-12 is not sk-1", "key sk-12 is not ***"),
        (
            "sk-proj-9f8e7d6c5b4a",
            "Incorrect API key provided: sk-proj-9f8e7d6c5b4a. Unknown keys are rejected.",
            "Incorrect API key provided: ***. Unknown keys are rejected.",
        ),
    ],
)
async def test_api_key_redaction_keeps_messages_intact(key: str, message: str, expected: str):
    handler, _ = recorder(httpx.Response(401, json={"error": {"message": message}}))
    with pytest.raises(errors.AuthenticationError) as caught:
        await mock(handler, api_key=key).complete(model="m", messages=USER)
    assert caught.value.message == expected
    assert caught.value.body == {"error": {"message": expected}}


@pytest.mark.parametrize("key", [f"{KEY}\n", f"  {KEY} ", f"{KEY}\r\n"])
async def test_api_key_surrounding_whitespace_is_stripped(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch, key: str
):
    monkeypatch.setenv("AGENTKIT_API_KEY", key)  # as KEY=$(cat key.txt) or a pasted key leaves it
    server.enqueue(text("hi"))
    async with ChatClient(base_url=server.url, max_retries=0) as client:
        await client.complete(model="m", messages=USER)
    assert server.recorded[-1].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize(
    ("key", "what"),
    [(f"{KEY}\u200b", "U+200B"), (f"{KEY}\n{KEY}", "U+000A"), (f"sk-proj {KEY}", "U+0020")],
)
async def test_api_key_that_cannot_be_sent_is_rejected_at_construction(
    monkeypatch: pytest.MonkeyPatch, key: str, what: str
):
    with pytest.raises(errors.InvalidRequestError) as given:
        ChatClient(api_key=key)
    monkeypatch.setenv("AGENTKIT_API_KEY", key)
    with pytest.raises(errors.InvalidRequestError) as from_env:
        ChatClient()
    assert f"api_key contains {what}" in str(given.value)
    assert f"AGENTKIT_API_KEY contains {what}" in str(from_env.value)
    assert KEY not in str(given.value) + str(from_env.value)


async def test_api_key_is_masked_in_every_error_message(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    handler, seen = recorder(httpx.ConnectError(f"proxy refused Bearer {KEY}"))
    with pytest.raises(errors.APIConnectionError) as refused:
        await mock(handler, max_retries=1).complete(model="m", messages=USER)
    assert len(seen) == 2
    echo = f'data: {{"error": {{"message": "invalid api key {KEY}"}}}}\n\n'.encode()
    handler, _ = recorder(sse(echo))
    with pytest.raises(errors.APIStreamError) as in_stream:
        await mock(handler).stream(model="m", messages=USER).get_final_completion()
    handler, _ = recorder(httpx.Response(200, text=f"<html>bad key {KEY}</html>"))
    with pytest.raises(errors.APIResponseError) as not_json:
        await mock(handler).complete(model="m", messages=USER)
    handler, _ = recorder(sse(f"data: <html>bad key {KEY}</html>\n\n".encode()))
    with pytest.raises(errors.APIResponseError) as not_json_streamed:
        await mock(handler).stream(model="m", messages=USER).get_final_completion()
    for error in (refused, in_stream, not_json, not_json_streamed):
        assert "***" in str(error.value) and KEY not in str(error.value)
    assert in_stream.value.body == {"message": "invalid api key ***"}
    assert not_json.value.body_start == not_json_streamed.value.body_start
    assert not_json.value.body_start == "<html>bad key ***</html>"
    assert caplog.records and all(KEY not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "failure",
    [httpx.LocalProtocolError("Illegal header value"), httpx.UnsupportedProtocol("ftp://")],
)
async def test_errors_of_our_own_request_are_not_retried(failure: Exception):
    handler, seen = recorder(failure, httpx.Response(200, json=OK))
    with pytest.raises(errors.APIConnectionError) as caught:
        await mock(handler, max_retries=2).complete(model="m", messages=USER)
    assert caught.value.__cause__ is failure
    assert len(seen) == 1


async def test_closing(server: FakeServer):
    handler, _ = recorder(httpx.Response(200, json=OK))
    http = httpx.AsyncClient(transport=mock_transport(handler))
    async with ChatClient(base_url="http://t", http_client=http):
        pass
    assert not http.is_closed  # shared clients stay open
    server.enqueue(text("one"), text("two"))
    async with ChatClient(base_url=server.url) as own:
        await own.complete(model="m", messages=USER)
    # closing closed this loop's pool; the client is still usable and opens a new one
    assert (await own.complete(model="m", messages=USER)).choices[0].message.content == "two"
    await own.aclose()


# --- requests -------------------------------------------------------------------------------


async def test_request_body(request_validator: Any):
    handler, seen = recorder(httpx.Response(200, json=OK))
    tools = [{"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}]
    settings: ModelSettings = {
        "temperature": 0.2,
        "max_tokens": 50,
        "stop": ["\n"],
        "seed": 7,
        "stream_options": {"include_usage": True},  # dropped: only for streams
        "extra_body": {"top_k": 5},
    }
    completion = await mock(handler).complete(
        model="m",
        messages=[{"role": "system", "content": "Be brief."}, *USER],
        tools=tools,  # type: ignore[arg-type]
        tool_choice={"type": "function", "function": {"name": "add"}},
        **settings,
    )
    assert completion == ChatCompletion.model_validate(OK)
    assert str(seen[0].url) == "http://test/v1/chat/completions"
    sent = body(seen[0])
    assert sent == snapshot(
        {
            "model": "m",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi"},
            ],
            "tools": [
                {"type": "function", "function": {"name": "add", "parameters": {"type": "object"}}}
            ],
            "tool_choice": {"type": "function", "function": {"name": "add"}},
            "temperature": 0.2,
            "max_tokens": 50,
            "stop": ["\n"],
            "seed": 7,
            "top_k": 5,
        }
    )
    assert not list(request_validator.iter_errors(sent))


async def test_every_request_field_reaches_the_wire(request_validator: Any):
    handler, seen = recorder(
        httpx.Response(200, json=OK), sse((STREAMS / "openai_text.sse").read_bytes())
    )
    definition = {
        "type": "function",
        "function": {
            "name": "add",
            "description": "Add two numbers.",
            "parameters": {
                "type": "object",
                "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                "required": ["a", "b"],
                "additionalProperties": False,
            },
            "strict": True,
        },
    }
    settings: ModelSettings = {
        "temperature": 0.5,
        "top_p": 0.9,
        "n": 2,
        "stop": ["END", "STOP"],
        "max_tokens": 100,
        "max_completion_tokens": 200,
        "presence_penalty": 0.5,
        "frequency_penalty": -0.5,
        "logit_bias": {"50256": -100},
        "user": "user-1",
        "response_format": {"type": "json_object"},
        "seed": 42,
        "reasoning_effort": "low",
        "modalities": ["text", "audio"],
        "audio": {"voice": "alloy", "format": "wav"},
    }
    request: dict[str, Any] = {
        "model": "m",
        "messages": [{"role": "system", "content": "Be brief."}, *USER],
        "tools": [definition],
        "tool_choice": {"type": "function", "function": {"name": "add"}},
        **settings,
    }
    client = mock(handler)
    await client.complete(**request)
    stream = client.stream(**request, stream_options={"include_usage": True})
    await stream.get_final_completion()
    sent = [body(r) for r in seen]
    assert sent == snapshot(
        [
            {
                "model": "m",
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Hi"},
                ],
                "tools": [
                    {
                        "type": "function",
                        "function": {
                            "name": "add",
                            "description": "Add two numbers.",
                            "parameters": {
                                "type": "object",
                                "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                                "required": ["a", "b"],
                                "additionalProperties": False,
                            },
                            "strict": True,
                        },
                    }
                ],
                "tool_choice": {"type": "function", "function": {"name": "add"}},
                "temperature": 0.5,
                "top_p": 0.9,
                "n": 2,
                "stop": ["END", "STOP"],
                "max_tokens": 100,
                "max_completion_tokens": 200,
                "presence_penalty": 0.5,
                "frequency_penalty": -0.5,
                "logit_bias": {"50256": -100},
                "user": "user-1",
                "response_format": {"type": "json_object"},
                "seed": 42,
                "reasoning_effort": "low",
                "modalities": ["text", "audio"],
                "audio": {"voice": "alloy", "format": "wav"},
            },
            {
                "model": "m",
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Hi"},
                ],
                "tools": [
                    {
                        "type": "function",
                        "function": {
                            "name": "add",
                            "description": "Add two numbers.",
                            "parameters": {
                                "type": "object",
                                "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                                "required": ["a", "b"],
                                "additionalProperties": False,
                            },
                            "strict": True,
                        },
                    }
                ],
                "tool_choice": {"type": "function", "function": {"name": "add"}},
                "temperature": 0.5,
                "top_p": 0.9,
                "n": 2,
                "stop": ["END", "STOP"],
                "max_tokens": 100,
                "max_completion_tokens": 200,
                "presence_penalty": 0.5,
                "frequency_penalty": -0.5,
                "logit_bias": {"50256": -100},
                "user": "user-1",
                "response_format": {"type": "json_object"},
                "seed": 42,
                "reasoning_effort": "low",
                "modalities": ["text", "audio"],
                "audio": {"voice": "alloy", "format": "wav"},
                "stream_options": {"include_usage": True},
                "stream": True,
            },
        ]
    )
    assert request_errors(request_validator, sent) == []


async def test_mappings_and_unicode_are_serialised():
    from types import MappingProxyType

    handler, seen = recorder(httpx.Response(200, json=OK))
    message = MappingProxyType({"role": "user", "content": "héllo ✓"})
    await mock(handler).complete(model="m", messages=[message])
    assert body(seen[0])["messages"] == [{"role": "user", "content": "héllo ✓"}]
    with pytest.raises(errors.InvalidRequestError, match="not JSON-serialisable"):
        await mock(handler).complete(model="m", messages=[{"role": "user", "content": object()}])


BAD_REQUESTS: list[tuple[dict[str, Any], str]] = [
    ({"temperature": -0.5}, "temperature must be a number >= 0"),
    ({"temperature": True}, "temperature"),
    ({"top_p": 1.1}, "top_p must be a number from 0 to 1"),
    ({"n": 0}, "n must be an integer >= 1"),
    ({"stop": ["a", 1]}, "stop must be a string or a list"),
    ({"stop": 3}, "stop must be a string or a list"),
    ({"logit_bias": {"50256": "ban"}}, "logit_bias"),
    ({"logit_bias": [1]}, "logit_bias must map token ids"),
    ({"presence_penalty": -2.5}, "presence_penalty must be a number from -2 to 2"),
    ({"frequency_penalty": 3}, "frequency_penalty"),
    ({"reasoning_effort": 3}, "reasoning_effort must be a string"),
    ({"max_tokens": 0}, "max_tokens must be an integer >= 1"),
    ({"max_completion_tokens": 1.5}, "max_completion_tokens"),
    ({"modalities": "text"}, "modalities must be a list"),
    ({"top_logprobs": -1}, "top_logprobs"),
    ({"response_format": "json"}, "response_format must be an object"),
    ({"temprature": 1}, "unknown setting 'temprature'"),
    ({"extra_body": [1]}, "extra_body must be a dict"),
    ({"model": ""}, "model must be a non-empty string"),
    ({"messages": "hi"}, "messages must be a list"),
    ({"messages": []}, "messages must not be empty"),
    ({"messages": ["hi"]}, r"messages\[0\] must be a dict"),
    ({"messages": [{"content": "x"}]}, r"messages\[0\] has role None"),
    ({"messages": [{"role": 5, "content": "x"}]}, "has role 5"),
    ({"messages": [{"role": "tool", "tool_call_id": 3}]}, "tool_call_id must be a string"),
    ({"tool_choice": 7}, "tool_choice must be"),
    ({"tool_choice": {"type": "function"}}, "tool_choice must name the function"),
    ({"tool_choice": {"type": "function", "function": {"name": "nope"}}}, "not in tools"),
    ({"tool_choice": "required", "tools": None}, "needs at least one function"),
    ({"tools": [{"name": "add"}]}, r"tools\[0\] must look like"),
]


@pytest.mark.parametrize(("change", "message"), BAD_REQUESTS)
async def test_bad_requests_are_caught_before_sending(change: dict[str, Any], message: str):
    handler, seen = recorder(httpx.Response(200, json=OK))
    client = mock(handler)
    tools = [{"type": "function", "function": {"name": "add", "parameters": {}}}]
    arguments: dict[str, Any] = {"model": "m", "messages": USER, "tools": tools, **change}
    with pytest.raises(errors.InvalidRequestError, match=message):
        await client.complete(**arguments)
    with pytest.raises(ValueError, match=message):  # InvalidRequestError is a ValueError
        client.stream(**arguments)
    assert seen == []


async def test_valid_edge_values_are_accepted():
    handler, seen = recorder(httpx.Response(200, json=OK))
    message = mock(handler).complete(
        model="m",
        messages=[
            {"role": "developer", "content": "x"},
            {"role": "assistant", "content": None, "tool_calls": []},
            {"role": "tool", "tool_call_id": "c", "content": "1"},
        ],
        temperature=0,
        top_p=1,
        stop="END",
        logit_bias={"1": -100},
        reasoning_effort="xhigh",
        modalities=["text", "audio"],
        presence_penalty=-2,
        tool_choice="none",
        user=None,  # type: ignore[arg-type]  # None means "not set"
    )
    await message
    assert "user" not in body(seen[0])


# --- responses ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, errors.BadRequestError),
        (401, errors.AuthenticationError),
        (403, errors.PermissionDeniedError),
        (404, errors.NotFoundError),
        (409, errors.ConflictError),
        (422, errors.UnprocessableEntityError),
        (429, errors.RateLimitError),
        (500, errors.InternalServerError),
        (503, errors.InternalServerError),
        (418, errors.APIStatusError),
    ],
)
async def test_status_errors(status: int, error_type: type[errors.APIStatusError]):
    error_body = {
        "error": {"message": "nope", "type": "some_type", "code": 42, "param": "messages"}
    }
    response = httpx.Response(status, json=error_body, headers={"x-request-id": "req_1"})
    handler, seen = recorder(response)
    with pytest.raises(error_type) as caught:
        await mock(handler, max_retries=0).complete(model="m", messages=USER)
    error = caught.value
    assert type(error) is error_type
    assert (error.status_code, error.message, error.type, error.code, error.param) == (
        status,
        "nope",
        "some_type",
        "42",
        "messages",
    )
    assert error.request_id == "req_1"
    assert error.body == error_body
    assert str(error) == f"HTTP {status}: nope (type='some_type', code='42') [request id req_1]"


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(502, text="<html>Bad gateway</html>"), "<html>Bad gateway</html>"),
        (httpx.Response(400, json={"error": "plain string"}), "plain string"),
        (httpx.Response(422, json={"detail": [{"msg": "field required"}]}), "field required"),
        (httpx.Response(401), "pass api_key= or set AGENTKIT_API_KEY"),
        (httpx.Response(500), "Internal Server Error"),
    ],
)
async def test_odd_error_bodies(response: httpx.Response, message: str):
    handler, _ = recorder(response)
    with pytest.raises(errors.APIStatusError, match=message):
        await mock(handler, max_retries=0).complete(model="m", messages=USER)


async def test_error_body_wrapped_in_a_list():
    error = {"code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT"}
    handler, _ = recorder(httpx.Response(400, json=[{"error": error}]))
    with pytest.raises(errors.BadRequestError) as caught:
        await mock(handler, max_retries=0).complete(model="m", messages=USER)
    assert (caught.value.message, caught.value.type, caught.value.code) == (
        "API key not valid.",
        "INVALID_ARGUMENT",  # Google's status, as the type
        "400",
    )
    assert caught.value.body == [{"error": error}]  # the body as the server sent it


@pytest.mark.parametrize(
    "content",
    [b"not json at all", b"[]", b"null", b'{"choices": "x"}', b"{}", b'{"object": "list"}'],
)
async def test_body_that_is_not_a_completion(content: bytes):
    handler, _ = recorder(httpx.Response(200, content=content))
    with pytest.raises(errors.APIResponseError) as caught:
        await mock(handler).complete(model="m", messages=USER)
    assert caught.value.body_start == content.decode()
    assert content.decode() in str(caught.value)


async def test_error_object_in_a_200_body():
    content = json.dumps({"error": {"message": "quota exceeded"}}).encode()
    handler, _ = recorder(httpx.Response(200, content=content))
    with pytest.raises(errors.APIResponseError, match="quota exceeded"):
        await mock(handler).complete(model="m", messages=USER)


# --- retries --------------------------------------------------------------------------------


async def test_rate_limit_retried_then_raised():
    handler, seen = recorder(httpx.Response(429, headers={"retry-after": "0"}))
    client = mock(handler, max_retries=2)
    with pytest.raises(errors.RateLimitError):
        await client.complete(model="m", messages=USER)
    assert len(seen) == 3


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
async def test_retryable_statuses_then_success(status: int, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="agentkit")
    handler, seen = recorder(httpx.Response(status), httpx.Response(200, json=OK))
    completion = await mock(handler).complete(model="m", messages=USER)
    assert completion.choices[0].message.content == "Hello"
    assert len(seen) == 2
    assert seen[0].content == seen[1].content
    [record] = caplog.records
    assert record.levelno == logging.INFO and "retry 1 of 2" in record.getMessage()


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_client_errors_are_not_retried(status: int):
    handler, seen = recorder(httpx.Response(status), httpx.Response(200, json=OK))
    with pytest.raises(errors.APIStatusError):
        await mock(handler, max_retries=5).complete(model="m", messages=USER)
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("failure", "error_type"),
    [
        (httpx.ConnectError("refused"), errors.APIConnectionError),
        (httpx.RemoteProtocolError("peer closed"), errors.APIConnectionError),
        (httpx.ReadTimeout("slow"), errors.APITimeoutError),
        (httpx.ConnectTimeout("slow"), errors.APITimeoutError),
    ],
)
async def test_transport_errors(failure: Exception, error_type: type[errors.APIError]):
    handler, seen = recorder(failure)
    with pytest.raises(error_type) as caught:
        await mock(handler, max_retries=2).complete(model="m", messages=USER)
    assert len(seen) == 3
    assert caught.value.__cause__ is failure
    handler, seen = recorder(failure, httpx.Response(200, json=OK))
    await mock(handler).complete(model="m", messages=USER)
    assert len(seen) == 2


def _retry_delays(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage().split()[2] for r in caplog.records if "retrying" in r.getMessage()]


@pytest.mark.parametrize(
    ("headers", "delay"),
    [
        ({"retry-after": "0.01"}, "0.010"),
        ({"retry-after-ms": "20", "retry-after": "5"}, "0.020"),
        ({"retry-after": email.utils.formatdate(time.time() - 10, usegmt=True)}, "0.000"),
        ({"retry-after": "soon"}, "0.000"),  # unparseable: backoff (0 in these tests)
        ({"retry-after-ms": "x"}, "0.000"),
        ({"retry-after": "nan"}, "0.000"),  # parses as a float, but is no wait at all
        ({"retry-after-ms": "nan", "retry-after": "0.01"}, "0.010"),
        ({"retry-after-ms": "-5000", "retry-after": "0.01"}, "0.010"),  # never a negative wait
        ({"retry-after": "-3"}, "0.000"),
    ],
)
async def test_retry_after_is_honoured(
    headers: dict[str, str], delay: str, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="agentkit")
    handler, _ = recorder(httpx.Response(429, headers=headers), httpx.Response(200, json=OK))
    await mock(handler).complete(model="m", messages=USER)
    assert _retry_delays(caplog) == [delay]


@pytest.mark.parametrize("usegmt", [True, False])  # "... GMT" or "... -0000"
async def test_retry_after_http_date_in_the_future(
    usegmt: bool, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    caplog.set_level(logging.INFO, logger="agentkit")
    when = email.utils.formatdate(time.time() + 2, usegmt=usegmt)  # whole seconds: 1-2 s away
    handler, _ = recorder(httpx.Response(429, headers={"retry-after": when}))
    with monkeypatch.context() as patch:
        patch.setenv("TZ", "XYZ+9")  # HTTP dates are UTC, whatever the local time zone
        time.tzset()
        try:
            with anyio.move_on_after(0.2):  # the wait starts after the log line; stop it there
                await mock(handler).complete(model="m", messages=USER)
        finally:
            patch.undo()
            time.tzset()
    [wait] = [float(d) for d in _retry_delays(caplog)]
    assert 0.9 < wait <= 2.0


@pytest.mark.parametrize(
    ("headers", "asked"),
    [({"retry-after": "3600"}, 3600.0), ({"retry-after-ms": "61000"}, 61.0)],
)
async def test_a_wait_longer_than_max_retry_wait_is_not_slept_through(
    headers: dict[str, str], asked: float, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="agentkit")
    handler, seen = recorder(httpx.Response(429, headers=headers))
    with anyio.fail_after(5), pytest.raises(errors.RateLimitError) as caught:
        await mock(handler, max_retries=5).complete(model="m", messages=USER)
    assert caught.value.retry_after == asked and len(seen) == 1
    assert _retry_delays(caplog) == []
    # the cap is the client's: a longer one sleeps through a wait below it
    handler, seen = recorder(
        httpx.Response(503, headers={"retry-after": "0.05"}), httpx.Response(200, json=OK)
    )
    await mock(handler, max_retry_wait=0.1).complete(model="m", messages=USER)
    handler, seen = recorder(httpx.Response(503, headers={"retry-after": "0.05"}))
    with pytest.raises(errors.InternalServerError) as failed:
        await mock(handler, max_retry_wait=0.01).complete(model="m", messages=USER)
    assert failed.value.retry_after == 0.05


async def test_backoff_grows_with_jitter_and_is_capped(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="agentkit")
    handler, _ = recorder(httpx.Response(503))
    with pytest.raises(errors.InternalServerError):
        await mock(handler, max_retries=4, retry_backoff=0.002).complete(model="m", messages=USER)
    waits = [float(d) for d in _retry_delays(caplog)]
    assert len(waits) == 4
    for attempt, wait in enumerate(waits):  # base * 2**n, minus up to 25% jitter
        assert 0.75 * 0.002 * 2**attempt - 0.001 <= wait <= 0.002 * 2**attempt + 0.001
    caplog.clear()
    with anyio.move_on_after(0.2):  # the wait starts after the log line; stop it there
        await mock(handler, retry_backoff=100).complete(model="m", messages=USER)
    [wait] = [float(d) for d in _retry_delays(caplog)]
    assert 6 <= wait <= 8  # capped at 8 s


# --- unsupported parameters -----------------------------------------------------------------


def rejection(message: str, param: str | None = None, status: int = 400) -> httpx.Response:
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": None}
    return httpx.Response(status, json={"error": error})


def google_rejection(name: str, at: str = "") -> httpx.Response:
    """Gemini's OpenAI-compatible endpoint: a list of one error, worded Google's way."""
    message = f'Invalid JSON payload received. Unknown name "{name}"{at}: Cannot find field.'
    error = {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}
    return httpx.Response(400, json=[{"error": error}])


@pytest.mark.parametrize(
    "response",
    [
        rejection("Unrecognized request argument supplied: reasoning_effort"),
        rejection("Unsupported parameter: 'reasoning_effort' is not supported with this model."),
        rejection("Unknown parameter: 'reasoning_effort'."),
        rejection("reasoning_effort is not supported"),
        rejection("Unsupported value: 'low' for this model.", param="reasoning_effort"),
        rejection(
            "[{'type': 'extra_forbidden', 'loc': ('body', 'reasoning_effort'), "
            "'msg': 'Extra inputs are not permitted'}]"
        ),
        httpx.Response(
            422,
            json={
                "detail": [
                    {
                        "type": "extra_forbidden",
                        "loc": ["body", "reasoning_effort"],
                        "msg": "Extra inputs are not permitted",
                    }
                ]
            },
        ),
        google_rejection("reasoning_effort"),
    ],
)
async def test_unsupported_parameter_is_dropped_and_remembered(
    response: httpx.Response, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="agentkit")
    handler, seen = recorder(response, httpx.Response(200, json=OK))
    client = mock(handler, max_retries=0)  # the fallback is not a retry
    await client.complete(model="m", messages=USER, reasoning_effort="low", temperature=1)
    assert [("reasoning_effort" in body(r)) for r in seen] == [True, False]
    assert body(seen[1])["temperature"] == 1
    await client.complete(model="m", messages=USER, reasoning_effort="low")
    await client.stream(model="m", messages=USER, reasoning_effort="high").aclose()
    assert len(seen) == 3 and "reasoning_effort" not in body(seen[2])
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "'reasoning_effort'" in warnings[0].getMessage()


async def test_rejected_parameter_is_remembered_per_model(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.INFO, logger="agentkit")
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if body(request)["model"] == "reasoner" and "temperature" in body(request):
            return rejection("Unsupported value: 'temperature' is not supported with this model.")
        return httpx.Response(200, json=OK)

    client = mock(handler, max_retries=0)
    for model in ("reasoner", "chat"):
        await client.complete(model=model, messages=USER, temperature=0.2)
    await client.stream(model="reasoner", messages=USER, temperature=0.2).get_final_completion()
    assert [(body(r)["model"], "temperature" in body(r)) for r in seen] == [
        ("reasoner", True),
        ("reasoner", False),  # dropped for this model...
        ("chat", True),  # ...and still sent for another one on the same gateway
        ("reasoner", False),
    ]
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "'temperature' for model 'reasoner'" in warning.getMessage()


NOW: Any = {"type": "function", "function": {"name": "now", "parameters": {"type": "object"}}}


@tool(strict=True)
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@pytest.mark.parametrize(
    "response",
    [
        rejection("Unknown parameter: 'tools[0].function.strict'."),
        rejection("This parameter is not supported.", param="tools[0].function.strict"),
        rejection("strict is not supported"),
        httpx.Response(
            422,
            json={
                "detail": [
                    {
                        "type": "extra_forbidden",
                        "loc": ["body", "tools", 0, "function", "strict"],
                        "msg": "Extra inputs are not permitted",
                    }
                ]
            },
        ),
        google_rejection("strict", at=" at 'tools[0].function'"),
    ],
)
async def test_rejected_tool_strict_is_left_out_and_remembered(
    response: httpx.Response, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="agentkit")
    plain = {"type": "function", "function": {"name": "now", "parameters": {"type": "object"}}}
    tools: Any = [add.definition(), plain]
    before = copy.deepcopy(tools)
    handler, seen = recorder(
        response,
        httpx.Response(200, json=OK),
        httpx.Response(200, json=OK),
        sse((STREAMS / "openai_text.sse").read_bytes()),
    )
    client = mock(handler, max_retries=0)  # the fallback is not a retry
    await client.complete(model="m", messages=USER, tools=tools, tool_choice="auto")
    await client.complete(model="m", messages=USER, tools=tools)
    await client.stream(model="m", messages=USER, tools=tools).get_final_completion()
    assert len(seen) == 4
    assert [[t["function"].get("strict") for t in body(r)["tools"]] for r in seen] == [
        [True, None],
        [None, None],
        [None, None],
        [None, None],
    ]
    # only the flag is left out: the strict-form parameters are kept
    assert (
        body(seen[1])["tools"][0]["function"]["parameters"] == before[0]["function"]["parameters"]
    )
    assert body(seen[1])["tool_choice"] == "auto"
    # the caller's definitions, and the Tool's cached one, are untouched
    assert tools == before and add.definition() is tools[0]
    assert add.definition()["function"].get("strict") is True
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "strict" in warnings[0].getMessage()


async def test_tool_strict_still_rejected_raises_unsupported_parameter_error():
    handler, seen = recorder(rejection("Unknown parameter: 'tools[0].function.strict'."))
    with pytest.raises(errors.UnsupportedParameterError) as caught:
        await mock(handler).complete(model="m", messages=USER, tools=[add.definition()])
    assert caught.value.parameter == TOOL_STRICT
    assert len(seen) == 2
    # no tool has the flag: nothing to leave out, so the server's error is raised as it is
    handler, seen = recorder(rejection("strict is not supported"))
    plain: Any = [{"type": "function", "function": {"name": "now", "parameters": {}}}]
    with pytest.raises(errors.BadRequestError) as plain_error:
        await mock(handler).complete(model="m", messages=USER, tools=plain)
    assert type(plain_error.value) is errors.BadRequestError
    assert len(seen) == 1


async def test_still_rejected_raises_unsupported_parameter_error():
    always = rejection("Unsupported parameter: 'reasoning_effort'")
    handler, seen = recorder(always)
    with pytest.raises(errors.UnsupportedParameterError) as caught:
        await mock(handler).complete(model="m", messages=USER, reasoning_effort="low")
    assert caught.value.parameter == "reasoning_effort"
    assert caught.value.status_code == 400
    assert len(seen) == 2


@pytest.mark.parametrize(
    ("response", "named"),
    [
        (rejection("Unsupported value: 'messages[0].role' is 'developer'"), "messages[0].role"),
        (rejection("Unsupported parameter: 'messages[0].content'"), "messages[0].content"),
        (rejection("web_search_options is not supported with this model"), "web_search_options"),
        (rejection("Unknown parameter: 'response_format'"), "response_format"),
        (rejection("This parameter is not supported.", param="tools"), "tools"),
        (rejection("Unsupported parameter: 'max_tokens'; use max_completion_tokens"), "max_tokens"),
        (rejection("Unrecognized request argument supplied: n"), "n"),
        (rejection("Unsupported parameter: 'logprobs'"), "logprobs"),
    ],
)
async def test_what_the_request_asks_for_is_never_dropped(
    response: httpx.Response, named: str, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.INFO, logger="agentkit")
    handler, seen = recorder(response, httpx.Response(200, json=OK))
    settings: Any = {
        "web_search_options": {},
        "response_format": {"type": "json_object"},
        "max_tokens": 9,
        "n": 2,
        "logprobs": True,
    }
    with pytest.raises(errors.BadRequestError) as caught:
        await mock(handler).complete(model="m", messages=USER, tools=[NOW], **settings)
    assert type(caught.value) is errors.BadRequestError
    assert caught.value.param == named
    assert f"{named!r} is part of what the request asks for" in str(caught.value)
    assert len(seen) == 1
    assert not [r for r in caplog.records if r.levelno == logging.WARNING]


def test_the_droppable_parameters_are_documented():
    documented = (Path(__file__).parent.parent / "docs" / "client.md").read_text()
    for name in DROPPABLE - {TOOL_STRICT}:
        assert f"`{name}`" in documented


async def test_other_bad_requests_are_plain():
    handler, seen = recorder(
        rejection("'image_url' is not supported by this model"),
        rejection("messages must alternate"),
    )
    client = mock(handler)
    with pytest.raises(errors.BadRequestError) as caught:
        await client.complete(model="m", messages=USER)
    assert type(caught.value) is errors.BadRequestError
    with pytest.raises(errors.BadRequestError) as caught:
        await client.complete(model="m", messages=USER)
    assert type(caught.value) is errors.BadRequestError
    assert len(seen) == 2


async def test_unsupported_extra_body_key_and_stream_options():
    handler, seen = recorder(
        rejection("Unrecognized request argument supplied: stream_options"),
        rejection("Unknown parameter: 'top_k'"),
        sse((STREAMS / "openai_text.sse").read_bytes()),
    )
    stream = mock(handler).stream(model="m", messages=USER, extra_body={"top_k": 3})
    completion = await stream.get_final_completion()
    assert completion.choices[0].message.content == "Hello wörld ✓"
    assert [sorted(body(r)) for r in seen] == [
        ["messages", "model", "stream", "stream_options", "top_k"],
        ["messages", "model", "stream", "top_k"],
        ["messages", "model", "stream"],
    ]


# --- streaming over MockTransport -----------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "openai_text.sse",
        "openai_tool_calls.sse",
        "gemini_no_index.sse",
        "reasoning.sse",
        "crlf_comments.sse",
        "finish_without_done.sse",  # a finish_reason without [DONE] is accepted
    ],
)
@pytest.mark.parametrize("size", [1, 5, 4096])
async def test_stream_fixture(name: str, size: int):
    raw = (STREAMS / name).read_bytes()
    handler, seen = recorder(sse(raw, size))
    stream = mock(handler).stream(model="m", messages=USER)
    received = [chunk async for chunk in stream]
    assert len(received) == raw.count(b"data: {")
    completion = await stream.get_final_completion()
    assert completion.choices and completion.choices[0].finish_reason
    sent = body(seen[0])
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert seen[0].headers["accept"] == "text/event-stream"


async def test_stream_request_keeps_caller_stream_options():
    handler, seen = recorder(sse((STREAMS / "openai_text.sse").read_bytes()))
    options = {"include_usage": False, "include_obfuscation": False}
    await mock(handler).stream(model="m", messages=USER, stream_options=options).aclose()
    async with mock(handler).stream(model="m", messages=USER, stream_options=options) as stream:
        await stream.get_final_completion()
    assert body(seen[0])["stream_options"] == options


async def test_truncated_stream_is_interrupted_with_partial():
    raw = (STREAMS / "truncated.sse").read_bytes()
    handler, seen = recorder(sse(raw))
    stream = mock(handler).stream(model="m", messages=USER)
    chunks = []
    with pytest.raises(errors.StreamInterruptedError) as caught:
        async for chunk in stream:
            chunks.append(chunk)
    assert len(chunks) == 1 and len(seen) == 1  # not retried: a chunk was yielded
    partial = caught.value.partial
    assert partial is not None
    assert partial.choices[0].message.content == "Half an ans"
    assert partial.choices[0].finish_reason is None
    assert [c async for c in stream] == []  # the stream stays ended


async def test_drop_before_any_chunk_is_retried():
    text_stream = (STREAMS / "openai_text.sse").read_bytes()
    handler, seen = recorder(
        sse(b": keep-alive\n\n", fail=httpx.ReadError("reset")),
        sse(b""),  # ends with nothing at all
        sse(text_stream),
    )
    completion = await mock(handler).stream(model="m", messages=USER).get_final_completion()
    assert completion.choices[0].message.content == "Hello wörld ✓"
    assert len(seen) == 3


async def test_drop_before_any_chunk_exhausts_retries():
    handler, seen = recorder(
        sse(b"", fail=httpx.ReadTimeout("slow")), sse(b"", fail=httpx.ReadTimeout("slow"))
    )
    with pytest.raises(errors.APITimeoutError):
        await mock(handler, max_retries=1).stream(model="m", messages=USER).get_final_completion()
    assert len(seen) == 2
    handler, seen = recorder(sse(b'data: {"choices": []'))
    with pytest.raises(errors.APIConnectionError, match="ended before"):
        await mock(handler, max_retries=0).stream(model="m", messages=USER).get_final_completion()


async def test_drop_after_a_chunk_is_interrupted():
    raw = (STREAMS / "openai_text.sse").read_bytes()
    first_event = raw[: raw.index(b"\n\n") + 2]
    handler, seen = recorder(sse(first_event, fail=httpx.RemoteProtocolError("gone")))
    with pytest.raises(errors.StreamInterruptedError) as caught:
        await mock(handler).stream(model="m", messages=USER).get_final_completion()
    assert isinstance(caught.value.__cause__, httpx.RemoteProtocolError)
    assert caught.value.partial is not None
    assert caught.value.partial.choices[0].message.content == ""
    assert len(seen) == 1


async def test_drop_after_the_finish_reason_ends_the_stream():
    raw = (STREAMS / "openai_text.sse").read_bytes()
    finished = raw[: raw.index(b'"finish_reason":"stop"}]}\n\n') + 27]  # before usage, [DONE]
    handler, seen = recorder(sse(finished, fail=httpx.RemoteProtocolError("peer closed")))
    async with mock(handler).stream(model="m", messages=USER) as stream:
        chunks = [chunk async for chunk in stream]
        completion = await stream.get_final_completion()
    assert len(chunks) == 4 and len(seen) == 1
    choice = completion.choices[0]
    assert (choice.message.content, choice.finish_reason) == ("Hello wörld ✓", "stop")


async def test_stream_status_error_then_success():
    handler, seen = recorder(
        httpx.Response(429, headers={"retry-after": "0"}),
        sse((STREAMS / "openai_text.sse").read_bytes()),
    )
    async with mock(handler).stream(model="m", messages=USER) as stream:
        completion = await stream.get_final_completion()
    assert completion.usage is not None and completion.usage.total_tokens == 22
    assert len(seen) == 2
    handler, seen = recorder(httpx.Response(401, json={"error": {"message": "bad key"}}))
    with pytest.raises(errors.AuthenticationError, match="bad key"):
        async for _ in mock(handler).stream(model="m", messages=USER):
            pass


async def test_stream_error_status_whose_body_breaks_is_retried():
    broken = httpx.Response(503, content=_fails_after(b'{"error": {"mess'))
    handler, seen = recorder(broken, sse((STREAMS / "openai_text.sse").read_bytes()))
    completion = await mock(handler).stream(model="m", messages=USER).get_final_completion()
    assert completion.choices[0].message.content == "Hello wörld ✓"
    assert len(seen) == 2
    broken = httpx.Response(503, content=_fails_after(b'{"error": {"mess'))
    handler, _ = recorder(broken)
    with pytest.raises(errors.APIConnectionError) as caught:
        await mock(handler, max_retries=0).stream(model="m", messages=USER).get_final_completion()
    assert isinstance(caught.value.__cause__, httpx.ReadError)


@pytest.mark.parametrize(
    ("content_type", "stream"),
    [("application/json", False), ("application/json", True), ("text/event-stream", True)],
)
async def test_body_that_cannot_be_decoded(content_type: str, stream: bool):
    headers = {"content-type": content_type, "content-encoding": "gzip"}  # but it is not
    handler, seen = recorder(httpx.Response(200, headers=headers, content=_once(json.dumps(OK))))
    client = mock(handler)
    with pytest.raises(errors.APIResponseError, match="could not be decoded") as caught:
        if stream:
            await client.stream(model="m", messages=USER).get_final_completion()
        else:
            await client.complete(model="m", messages=USER)
    assert isinstance(caught.value.__cause__, httpx.DecodingError)
    assert len(seen) == 1  # the same answer would come back: not retried


@pytest.mark.parametrize("encoding", ["gzip", "identity", None])
async def test_a_stream_reads_the_same_whatever_its_content_encoding(encoding: str | None):
    # An unencoded body is read raw, an encoded one through httpx's decoder: same answer.
    raw = (STREAMS / "openai_tool_calls.sse").read_bytes()
    headers = {"content-type": "text/event-stream"}
    if encoding is not None:
        headers["content-encoding"] = encoding
    body = gzip.compress(raw) if encoding == "gzip" else raw

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 50):  # read from the network, so httpx decodes it then
            yield body[i : i + 50]

    def answer() -> httpx.Response:
        return httpx.Response(200, headers=headers, content=pieces())

    plain, _ = recorder(sse(raw))
    expected = await mock(plain).stream(model="m", messages=USER).get_final_completion()
    handler, _ = recorder(answer(), answer())
    client = mock(handler)
    typed = client.stream(model="m", messages=USER)
    chunks = [chunk async for chunk in typed]
    assert chunks and await typed.get_final_completion() == expected
    async with client.stream(model="m", messages=USER) as lean:
        texts = [piece async for piece in lean.text_deltas()]
        assert await lean.get_final_completion() == expected
    assert texts == [
        (None, c.choices[0].delta.content)
        for c in chunks
        if c.choices and c.choices[0].delta.content
    ]


async def test_error_event_in_stream():
    handler, _ = recorder(sse((STREAMS / "error_event.sse").read_bytes()))
    stream = mock(handler).stream(model="m", messages=USER)
    with pytest.raises(errors.APIStreamError) as caught:
        async for _ in stream:
            pass
    error = caught.value
    assert (str(error), error.type, error.code) == (
        "upstream overloaded",
        "server_error",
        "overloaded",
    )
    assert error.body == {
        "message": "upstream overloaded",
        "type": "server_error",
        "code": "overloaded",
    }


async def test_error_typed_event():
    handler, _ = recorder(sse(b"event: error\ndata: upstream died\n\n"))
    with pytest.raises(errors.APIStreamError, match="upstream died"):
        await mock(handler).stream(model="m", messages=USER).get_final_completion()


async def test_bad_chunk_in_stream():
    handler, _ = recorder(sse(b"data: {not json}\n\ndata: [DONE]\n\n"))
    with pytest.raises(errors.APIResponseError) as caught:
        await mock(handler).stream(model="m", messages=USER).get_final_completion()
    assert caught.value.body_start == "{not json}"


async def test_server_that_ignores_stream_true():
    handler, _ = recorder(httpx.Response(200, json=REPLY_WITH_CALLS))
    stream = mock(handler).stream(model="m", messages=USER)
    chunks = [chunk async for chunk in stream]
    expected = ChatCompletion.model_validate(REPLY_WITH_CALLS)
    assert await stream.get_final_completion() == expected
    # and the one chunk adds up to the same completion
    accumulator = StreamAccumulator()
    accumulator.add(chunks[0])
    assert len(chunks) == 1 and accumulator.completion() == expected
    broken = httpx.Response(
        200, headers={"content-type": "application/json"}, content=_fails_after(b'{"id"')
    )
    handler, seen = recorder(broken, httpx.Response(200, json=OK))
    completion = await mock(handler).stream(model="m", messages=USER).get_final_completion()
    assert completion == ChatCompletion.model_validate(OK) and len(seen) == 2
    handler, _ = recorder(httpx.Response(200, json={"nope": 1}))
    with pytest.raises(errors.APIResponseError):
        await mock(handler).stream(model="m", messages=USER).get_final_completion()


REPLY_WITH_CALLS = {
    **OK,
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "annotations": [],
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
}


async def test_closing_a_stream_early():
    handler, _ = recorder(sse((STREAMS / "openai_text.sse").read_bytes()))
    async with mock(handler).stream(model="m", messages=USER) as stream:
        async for _ in stream:
            break
    with pytest.raises(errors.StreamInterruptedError, match="closed before it finished"):
        await stream.get_final_completion()


async def test_stream_timeout_per_call():
    handler, seen = recorder(
        sse((STREAMS / "openai_text.sse").read_bytes()), httpx.Response(200, json=OK)
    )
    client = mock(handler, timeout=httpx.Timeout(5.0))
    await client.stream(model="m", messages=USER, timeout=1.5).get_final_completion()
    await client.complete(model="m", messages=USER)
    assert seen[0].extensions["timeout"]["read"] == 1.5
    assert seen[1].extensions["timeout"]["read"] == 5.0


# --- models ---------------------------------------------------------------------------------


async def test_list_models():
    listing = {"object": "list", "data": [{"id": "a", "owned_by": "x"}, {"id": "b"}]}
    handler, seen = recorder(httpx.Response(200, json=listing))
    models = await mock(handler).list_models()
    assert [m.id for m in models] == ["a", "b"]
    assert (seen[0].method, str(seen[0].url)) == ("GET", "http://test/v1/models")
    handler, _ = recorder(httpx.Response(200, json={"models": []}))
    with pytest.raises(errors.APIResponseError):
        await mock(handler).list_models()


# --- end to end, against agentkit.testing ---------------------------------------------------


def retrying(server: FakeServer, **options: Any) -> ChatClient:
    options.setdefault("retry_backoff", 0)
    return ChatClient(base_url=server.url, api_key="sk-test", **options)


REPLIES = {
    "text": text("Hello there, world", usage={"prompt_tokens": 5, "completion_tokens": 4}),
    "tools": tool_calls(("add", {"a": 1, "b": 2}), ("mul", '{"a": 3, "b": 4}'), content="Let me"),
    "reasoning": text("42", reasoning="Think step by step."),
    "gateway nulls": {
        "created": 1700000000.5,
        "choices": [
            {
                "message": {
                    "tool_calls": [
                        {"id": None, "type": None, "function": {"name": "f", "arguments": None}}
                    ]
                }
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": None, "total_tokens": None},
    },
    "content parts": {
        "choices": [{"message": {"content": [{"type": "text", "text": "Hi"}, {"type": "x"}]}}]
    },
    "annotations and logprobs": {
        "choices": [
            {
                "message": {"content": "Hi", "annotations": [{"type": "url_citation"}]},
                "logprobs": {"content": [{"token": "Hi", "logprob": -0.1}], "refusal": None},
            }
        ]
    },
}


@pytest.mark.parametrize("reply", sorted(REPLIES))
async def test_streaming_equals_not_streaming(server: FakeServer, client: ChatClient, reply: str):
    answer = {**REPLIES[reply], "id": "chatcmpl-same"}  # the server numbers ids otherwise
    server.enqueue(answer, answer)
    with anyio.fail_after(10):
        plain = await client.complete(model="m", messages=USER)
        streamed = await client.stream(model="m", messages=USER).get_final_completion()
    assert plain.choices and plain.usage is not None
    assert streamed.model_dump() == plain.model_dump()
    assert streamed == plain


async def test_usage_details_are_parsed(server: FakeServer, client: ChatClient):
    usage = {
        "prompt_tokens": 120,
        "completion_tokens": 50,
        "prompt_tokens_details": {
            "cached_tokens": 64,
            "audio_tokens": 8,
            "image_tokens": 32,
            "text_tokens": 80,
        },
        "completion_tokens_details": {
            "reasoning_tokens": 30,
            "audio_tokens": 5,
            "image_tokens": 2,
            "text_tokens": 13,
        },
    }
    answer = {**text("Hi", usage=usage), "id": "chatcmpl-same"}
    server.enqueue(answer, answer)
    with anyio.fail_after(10):
        plain = await client.complete(model="m", messages=USER)
        async with client.stream(model="m", messages=USER) as stream:
            chunks = [chunk async for chunk in stream]
            streamed = await stream.get_final_completion()
    assert chunks[-1].choices == [] and chunks[-1].usage == plain.usage  # the final usage chunk
    assert plain.usage is not None
    assert (plain.usage.prompt_tokens, plain.usage.completion_tokens) == (120, 50)
    assert plain.usage.total_tokens == 170
    prompt = plain.usage.prompt_tokens_details
    assert prompt is not None
    assert (prompt.cached_tokens, prompt.audio_tokens, prompt.image_tokens, prompt.text_tokens) == (
        64,
        8,
        32,
        80,
    )
    done = plain.usage.completion_tokens_details
    assert done is not None
    assert (done.reasoning_tokens, done.audio_tokens, done.image_tokens, done.text_tokens) == (
        30,
        5,
        2,
        13,
    )
    assert not prompt.model_extra and not done.model_extra  # typed fields, not kept extras
    assert streamed == plain


async def test_e2e_rate_limit_then_success(server: FakeServer):
    server.enqueue(rate_limit(retry_after=0), "ok")
    async with retrying(server) as client:
        completion = await client.complete(model="m", messages=USER)
    assert completion.choices[0].message.content == "ok"
    assert len(server.requests) == 2


async def test_e2e_truncated_stream(server: FakeServer, client: ChatClient):
    server.enqueue(truncated("This answer is cut short", after=2))
    with anyio.fail_after(10), pytest.raises(errors.StreamInterruptedError) as caught:
        await client.stream(model="m", messages=USER).get_final_completion()
    partial = caught.value.partial
    assert partial is not None and partial.choices[0].finish_reason is None


async def test_e2e_dropped_connection_retried(server: FakeServer):
    server.enqueue(disconnect(), truncated(after=0), "fine")
    async with retrying(server) as client:
        with anyio.fail_after(10):
            completion = await client.stream(model="m", messages=USER).get_final_completion()
    assert completion.choices[0].message.content == "fine"
    assert len(server.requests) == 3


async def test_e2e_faults(server: FakeServer, client: ChatClient):
    server.enqueue(
        stream_error("overloaded", after=1),
        malformed(),
        http_error(400, "Unrecognized request argument supplied: seed"),
        "ok",
    )
    with anyio.fail_after(10):
        with pytest.raises(errors.APIStreamError, match="overloaded"):
            await client.stream(model="m", messages=USER).get_final_completion()
        with pytest.raises(errors.APIResponseError):
            await client.complete(model="m", messages=USER)
        await client.complete(model="m", messages=USER, seed=1)
    assert "seed" in server.requests[2] and "seed" not in server.requests[3]


async def test_e2e_raw_stream_split_everywhere(server: FakeServer, client: ChatClient):
    raw = (STREAMS / "openai_tool_calls.sse").read_text()
    server.enqueue(RawSSE(raw, chunk_size=3))
    with anyio.fail_after(10):
        completion = await client.stream(model="m", messages=USER).get_final_completion()
    calls = completion.choices[0].message.tool_calls
    assert calls is not None and [c.function.name for c in calls] == ["get_weather", "get_time"]


async def test_e2e_timeouts(server: FakeServer):
    server.enqueue(delay(5, "late"), delay(5, "late"))
    async with retrying(server, timeout=0.1, max_retries=0) as client:
        with anyio.fail_after(10):
            with pytest.raises(errors.APITimeoutError):
                await client.complete(model="m", messages=USER)
            with pytest.raises(errors.APITimeoutError):
                await client.stream(model="m", messages=USER).get_final_completion()
    server.reset()  # cut the delays short
    server.enqueue(delay(0.3, "slow but fine"))
    async with retrying(server, timeout=0.05, max_retries=0) as client:
        with anyio.fail_after(10):
            completion = await client.complete(model="m", messages=USER, timeout=5)
    assert completion.choices[0].message.content == "slow but fine"


async def test_e2e_list_models(server: FakeServer, client: ChatClient):
    assert [m.id for m in await client.list_models()] == ["fake-model"]


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_works_on_trio(server: FakeServer):
    server.enqueue(rate_limit(retry_after=0), "one", "two", disconnect(), "three")
    server.enqueue(stream_error(after=1), truncated(after=2))
    async with retrying(server) as client:
        with anyio.fail_after(10):
            assert (await client.complete(model="m", messages=USER)).choices[0].message.content
            streamed = await client.stream(model="m", messages=USER).get_final_completion()
            assert streamed.choices[0].message.content == "two"
            streamed = await client.stream(model="m", messages=USER).get_final_completion()
            assert streamed.choices[0].message.content == "three"
            with pytest.raises(errors.APIStreamError):
                await client.stream(model="m", messages=USER).get_final_completion()
            with pytest.raises(errors.StreamInterruptedError):
                await client.stream(model="m", messages=USER).get_final_completion()
