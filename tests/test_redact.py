"""No header value of a request (the key, api-key, x-api-key, any user header) is ever shown."""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
import httpx
import pytest

from agentkit import ChatClient, errors
from tests.conftest import mock_transport

USER = [{"role": "user", "content": "Hi"}]
KEY = "sk-live/abc+def=="  # a "/" that JSON may spell "\/"
AZURE = "azure-9f8e7d6c"
USER_SECRET = "tenant-secret-42"
SECRETS = (KEY, AZURE, USER_SECRET)


def client(handler: Any, **options: Any) -> ChatClient:
    http = httpx.AsyncClient(transport=mock_transport(handler))
    return ChatClient(
        base_url="http://test/v1",
        api_key=KEY,
        default_headers={"api-key": AZURE},
        http_client=http,
        retry_backoff=0,
        **options,
    )


def shown(error: BaseException) -> str:
    """Everything an error shows: message, repr, attributes, and its whole cause chain."""
    parts = []
    seen: BaseException | None = error
    while seen is not None:
        parts += [str(seen), repr(seen), repr(getattr(seen, "body", None))]
        parts.append(repr(getattr(seen, "message", None)))
        seen = seen.__cause__ or seen.__context__
    return " ".join(parts)


def assert_hidden(text: str) -> None:
    for secret in SECRETS:
        for spelling in (secret, secret.replace("/", "\\/"), json.dumps(secret)[1:-1]):
            assert spelling not in text


def echo(status: int, template: str) -> httpx.Response:
    """A server echoing every secret back in its error body, spelled by ``template``."""
    return httpx.Response(
        status,
        content=template.format(*(json.dumps(s)[1:-1].replace("/", "\\/") for s in SECRETS)),
        headers={"content-type": "application/json"},
    )


ESCAPED = '{{"error": {{"message": "bad key {0}, api-key {1}, x-tenant {2}", "param": "{0}"}}}}'
# \u-escaped: only decoding shows the key
UNICODE = '{{"error": {{"message": "bad key \\u0073k-live\\/abc+def==", "code": "{1}"}}}}'


@pytest.mark.parametrize("template", [ESCAPED, UNICODE])
@pytest.mark.parametrize("status", [400, 401, 500])
async def test_an_echoed_secret_is_masked_raw_and_decoded(
    status: int, template: str, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)

    def handler(request: httpx.Request) -> httpx.Response:
        return echo(status, template)

    with anyio.fail_after(5), pytest.raises(errors.APIStatusError) as caught:
        await client(handler, max_retries=1).complete(
            model="m", messages=USER, extra_headers={"x-tenant": USER_SECRET}
        )
    assert "***" in str(caught.value)
    assert_hidden(shown(caught.value))
    assert_hidden(caplog.text)


@pytest.mark.parametrize("template", [ESCAPED, UNICODE])
async def test_an_echoed_secret_in_a_body_that_is_not_a_completion_is_masked(template: str):
    def handler(request: httpx.Request) -> httpx.Response:
        return echo(200, template)

    with anyio.fail_after(5), pytest.raises(errors.APIResponseError) as caught:
        await client(handler).complete(
            model="m", messages=USER, extra_headers={"x-tenant": USER_SECRET}
        )
    assert_hidden(shown(caught.value) + caught.value.body_start)


async def test_an_echoed_secret_in_a_stream_error_event_is_masked():
    def handler(request: httpx.Request) -> httpx.Response:
        data = ESCAPED.format(*(s.replace("/", "\\/") for s in SECRETS))
        data = data.replace("{{", "{").replace("}}", "}")
        sse = f"event: error\ndata: {data}\n\n"
        return httpx.Response(200, text=sse, headers={"content-type": "text/event-stream"})

    stream = client(handler).stream(
        model="m", messages=USER, extra_headers={"x-tenant": USER_SECRET}
    )
    with anyio.fail_after(5), pytest.raises(errors.APIStreamError) as caught:
        await stream.get_final_completion()
    assert_hidden(shown(caught.value))


async def test_an_httpx_error_quoting_a_header_never_reaches_the_error_or_its_causes(
    caplog: pytest.LogCaptureFixture,
):
    caplog.set_level(logging.DEBUG)

    def handler(request: httpx.Request) -> httpx.Response:
        try:  # as h11 words it, chained the way httpcore and httpx chain it
            raise ValueError(f"Illegal header value b'{AZURE}\\r'")
        except ValueError as inner:
            raise httpx.LocalProtocolError(f"Illegal header value b'{AZURE}\\r'") from inner

    with anyio.fail_after(5), pytest.raises(errors.APIConnectionError) as caught:
        await client(handler, max_retries=3).complete(model="m", messages=USER)
    assert_hidden(shown(caught.value))
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert_hidden(caplog.text)


async def test_a_connection_error_without_secrets_keeps_its_cause():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    with anyio.fail_after(5), pytest.raises(errors.APIConnectionError) as caught:
        await client(handler, max_retries=0).complete(model="m", messages=USER)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)


async def test_a_secret_is_masked_as_a_whole_token_only():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": {"message": "Unknown k, not k2: k"}})

    http = httpx.AsyncClient(transport=mock_transport(handler))
    chat = ChatClient(base_url="http://t/v1", api_key="k", http_client=http, max_retries=0)
    with pytest.raises(errors.BadRequestError) as caught:
        await chat.complete(model="m", messages=USER)
    assert caught.value.message == "Unknown ***, not k2: ***"


@pytest.mark.parametrize("where", ["error", "models"])
async def test_json_nested_absurdly_deep_is_a_typed_error(where: str):
    deep = "[" * 100_000 + "]" * 100_000

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400 if where == "error" else 200, content=deep)

    with anyio.fail_after(10):
        if where == "error":
            with pytest.raises(errors.BadRequestError) as caught:
                await client(handler).complete(model="m", messages=USER)
            assert caught.value.body == deep  # kept as text, not decoded
        else:
            with pytest.raises(errors.APIResponseError, match="not a model list"):
                await client(handler).list_models()
    # not too deep for a real body: decoded as usual
    nested: Any = {"error": {"message": "m", "detail": [[[[{"a": 1}]]]]}}

    def fine(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json=nested)

    with pytest.raises(errors.BadRequestError) as decoded:
        await client(fine).complete(model="m", messages=USER)
    assert decoded.value.body == nested
