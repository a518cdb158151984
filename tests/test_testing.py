"""agentkit.testing.FakeServer over raw httpx: replies, streaming, faults, recording, lifecycle."""

from __future__ import annotations

import json
import socket
import threading
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from anyio.streams.buffered import BufferedByteStream
from jsonschema import Draft202012Validator

from agentkit.client import ChatClient
from agentkit.testing import (
    FakeServer,
    RawSSE,
    completion,
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
from agentkit.types import ChatCompletion, Choice, Message
from tests.conftest import request_errors

DATA = Path(__file__).parent / "data"
MESSAGES = [{"role": "user", "content": "hi"}]
BODY: dict[str, Any] = {"model": "m", "messages": MESSAGES}
STREAM: dict[str, Any] = {**BODY, "stream": True, "stream_options": {"include_usage": True}}


def spec(root: str) -> Draft202012Validator:
    """A response schema, relaxed where the spec is stricter than real servers (see README)."""
    schema = json.loads((DATA / f"{root}.schema.json").read_text())
    if "ChatCompletionResponseMessage" in schema["$defs"]:
        schema["$defs"]["ChatCompletionResponseMessage"]["required"] = ["role"]
    return Draft202012Validator(schema)


RESPONSE = spec("CreateChatCompletionResponse")
CHUNK = spec("CreateChatCompletionStreamResponse")


def assert_valid(validator: Draft202012Validator, instance: Any) -> None:
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(instance)]
    assert not errors, errors


@pytest.fixture
async def http(server: FakeServer):
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as http:
        yield http


async def post(http: httpx.AsyncClient, body: dict[str, Any] = BODY) -> httpx.Response:
    with anyio.fail_after(5):
        return await http.post("/chat/completions", json=body)


async def events(http: httpx.AsyncClient, body: dict[str, Any] = STREAM) -> list[str]:
    """The ``data:`` payloads of a streamed reply."""
    with anyio.fail_after(5):
        async with http.stream("POST", "/chat/completions", json=body) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["transfer-encoding"] == "chunked"
            lines = [line async for line in response.aiter_lines()]
    return [line.removeprefix("data: ") for line in lines if line.startswith("data: ")]


async def chunks(http: httpx.AsyncClient, body: dict[str, Any] = STREAM) -> list[dict[str, Any]]:
    data = await events(http, body)
    assert data[-1] == "[DONE]"
    return [json.loads(d) for d in data[:-1]]


def assemble(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge stream chunks of choice 0 into one message, as a client would."""
    message: dict[str, Any] = {"content": "", "reasoning_content": "", "tool_calls": {}}
    finish = None
    for chunk in chunks:
        for choice in chunk["choices"]:
            delta = choice["delta"]
            for key in ("content", "reasoning_content"):
                message[key] += delta.get(key) or ""
            for call in delta.get("tool_calls") or []:
                slot = message["tool_calls"].setdefault(call["index"], {"arguments": ""})
                if "id" in call:
                    slot["id"], slot["name"] = call["id"], call["function"]["name"]
                slot["arguments"] += call["function"]["arguments"]
            finish = choice["finish_reason"] or finish
    message["tool_calls"] = list(message["tool_calls"].values())
    return {**message, "finish_reason": finish}


# --- replies --------------------------------------------------------------------------------


async def test_text_reply_is_a_valid_completion(server: FakeServer, http: httpx.AsyncClient):
    server.enqueue("Hello there", text("Thinking done", reasoning="Let me see"))
    first, second = (await post(http)).json(), (await post(http)).json()
    for body in (first, second):
        assert_valid(RESPONSE, body)
    assert first["choices"][0]["message"] == {
        "role": "assistant",
        "content": "Hello there",
        "refusal": None,
    }
    assert first["choices"][0]["finish_reason"] == "stop"
    assert first["model"] == "m" and first["object"] == "chat.completion"
    assert first["id"] != second["id"]
    assert first["usage"]["total_tokens"] > 0
    assert second["choices"][0]["message"]["reasoning_content"] == "Let me see"
    assert second["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0


async def test_tool_calls_reply(server: FakeServer, http: httpx.AsyncClient):
    server.enqueue(tool_calls(("add", {"a": 1}), ("echo", '{"bad json', "my_id"), content="ok"))
    body = (await post(http)).json()
    assert_valid(RESPONSE, body)
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "ok"
    assert choice["message"]["tool_calls"] == [
        {"id": "call_1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}},
        {
            "id": "my_id",
            "type": "function",
            "function": {"name": "echo", "arguments": '{"bad json'},
        },
    ]


async def test_completion_dict_and_model_replies_keep_what_is_given(
    server: FakeServer, http: httpx.AsyncClient
):
    usage = {"prompt_tokens": 7, "completion_tokens": 3}
    model = ChatCompletion(id="x1", choices=[Choice(message=Message(content="from model"))])
    server.enqueue(
        completion("cut", finish_reason="length", usage=usage, model="other"),
        {"choices": [{"message": {"content": "bare dict"}}], "usage": None, "extra_field": 1},
        model,
    )
    first, second, third = [(await post(http)).json() for _ in range(3)]
    assert first["model"] == "other" and first["choices"][0]["finish_reason"] == "length"
    assert first["usage"] == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    assert "usage" not in second and second["extra_field"] == 1
    assert second["choices"][0]["message"]["content"] == "bare dict"
    assert third["id"] == "x1" and third["choices"][0]["message"]["content"] == "from model"
    for body in (first, second, third):
        assert_valid(RESPONSE, body)


async def test_enqueue_rejects_non_replies(server: FakeServer):
    with pytest.raises(TypeError, match="not a reply"):
        server.enqueue(42)  # type: ignore[arg-type]


async def test_empty_script_answers_500_and_records(server: FakeServer, http: httpx.AsyncClient):
    response = await post(http)
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "script_empty" and "script is empty" in error["message"]
    assert server.requests == [BODY]


async def test_responder_answers_when_script_is_empty(server: FakeServer, http: httpx.AsyncClient):
    server.responder = lambda body: f"echo: {body['messages'][-1]['content']}"
    server.enqueue("scripted first")
    replies = [(await post(http)).json()["choices"][0]["message"]["content"] for _ in range(2)]
    assert replies == ["scripted first", "echo: hi"]


async def test_responder_failure_is_a_500(server: FakeServer, http: httpx.AsyncClient):
    def responder(body: dict[str, Any]) -> str:
        raise LookupError("no such case")

    server.responder = responder
    response = await post(http)
    assert response.status_code == 500
    assert response.json()["error"]["message"].endswith("LookupError: no such case")


async def test_responder_must_return_a_reply(server: FakeServer, http: httpx.AsyncClient):
    def responder(body: dict[str, Any]) -> Any:
        return None

    server.responder = responder
    response = await post(http)
    assert response.status_code == 500
    assert "returned None, which is not a reply" in response.json()["error"]["message"]


async def test_models_and_unknown_paths(server: FakeServer, http: httpx.AsyncClient):
    with anyio.fail_after(5):
        listing = (await http.get("/models")).json()
        one = await http.get("/models/fake-model")
        missing = await http.get("/nowhere")
    assert listing == {
        "object": "list",
        "data": [
            {"id": "fake-model", "object": "model", "created": 1700000000, "owned_by": "agentkit"}
        ],
    }
    assert one.json()["id"] == "fake-model"
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "unknown_url"


@pytest.mark.invalid_requests
async def test_body_that_is_not_a_json_object_is_400(server: FakeServer, http: httpx.AsyncClient):
    server.enqueue("unused")
    with anyio.fail_after(5):
        response = await http.post("/chat/completions", content=b"[1, 2")
    assert response.status_code == 400
    assert server.requests == [] and server.pending == 1
    assert server.recorded[0].body is None and server.recorded[0].raw == b"[1, 2"


# --- streaming ------------------------------------------------------------------------------


async def test_stream_of_text_with_reasoning(server: FakeServer, http: httpx.AsyncClient):
    server.enqueue(text("The answer is forty-two, obviously.", reasoning="Think hard"))
    received = await chunks(http)
    for chunk in received:
        assert_valid(CHUNK, chunk)
    assert received[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    kinds = [next(iter(c["choices"][0]["delta"]), None) for c in received[1:-1]]
    assert kinds.index("content") > kinds.index("reasoning_content")
    assert kinds.count("content") > 3  # split into several deltas
    assert received[-1] == {**received[-1], "choices": [], "usage": received[-1]["usage"]}
    assert received[-1]["usage"]["total_tokens"] > 0
    assert all(c["usage"] is None for c in received[:-1])
    assert assemble(received) == {
        "content": "The answer is forty-two, obviously.",
        "reasoning_content": "Think hard",
        "tool_calls": [],
        "finish_reason": "stop",
    }


async def test_stream_of_tool_calls(server: FakeServer, http: httpx.AsyncClient):
    server.enqueue(tool_calls(("add", {"a": 1, "b": 2}), ("get_weather", {"city": "Paris"})))
    received = await chunks(http, {**BODY, "stream": True})
    for chunk in received:
        assert_valid(CHUNK, chunk)
        assert "usage" not in chunk  # not asked for
    deltas = [c["choices"][0]["delta"] for c in received]
    firsts = [d["tool_calls"][0] for d in deltas if "id" in d.get("tool_calls", [{}])[0]]
    assert [(f["index"], f["id"], f["function"]) for f in firsts] == [
        (0, "call_1", {"name": "add", "arguments": ""}),
        (1, "call_2", {"name": "get_weather", "arguments": ""}),
    ]
    assert assemble(received) == {
        "content": "",
        "reasoning_content": "",
        "tool_calls": [
            {"id": "call_1", "name": "add", "arguments": '{"a": 1, "b": 2}'},
            {"id": "call_2", "name": "get_weather", "arguments": '{"city": "Paris"}'},
        ],
        "finish_reason": "tool_calls",
    }
    assert len(received) > 6  # arguments arrive in fragments


LOGPROBS = {"content": [{"token": "Hi", "logprob": -0.1, "bytes": [72, 105], "top_logprobs": []}]}
CITATION = {"type": "url_citation", "url_citation": {"url": "https://x", "title": "X"}}


@pytest.mark.parametrize("content", ["Hi", None])
async def test_stream_keeps_other_message_fields_and_logprobs(
    server: FakeServer, http: httpx.AsyncClient, content: str | None
):
    logprobs = {**LOGPROBS, "refusal": None}
    message = {"content": content, "annotations": [CITATION], "audio": None, "name": "bot"}
    server.enqueue({"choices": [{"message": message, "logprobs": logprobs}]})
    received = await chunks(http)
    for chunk in received:
        assert_valid(CHUNK, chunk)
    choices = [c["choices"][0] for c in received if c["choices"]]
    assert [c["delta"] for c in choices if "annotations" in c["delta"]] == [
        {"annotations": [CITATION], "name": "bot"}  # null fields are not streamed
    ]
    carriers = [c for c in choices if c["logprobs"] is not None]
    assert [c["logprobs"] for c in carriers] == [logprobs]  # once, whole
    # on the content chunk; with no content, on the last one
    assert carriers[0]["delta"] == ({"content": "Hi"} if content else {})


async def test_raw_sse_is_sent_verbatim(server: FakeServer, http: httpx.AsyncClient):
    raw = 'data: {"choices": []}\n\n: comment\n\ndata: {"x": "é"}\n\n'
    server.enqueue(RawSSE(raw), RawSSE(raw, chunk_size=3))
    for _ in range(2):
        with anyio.fail_after(5):
            async with http.stream("POST", "/chat/completions", json=STREAM) as response:
                assert (await response.aread()).decode() == raw


# --- faults ---------------------------------------------------------------------------------


async def test_rate_limit_headers(server: FakeServer, http: httpx.AsyncClient):
    server.enqueue(rate_limit(retry_after=2, retry_after_ms=1500), rate_limit(retry_after=0.5))
    first, second = await post(http), await post(http)
    assert first.status_code == 429
    assert (first.headers["retry-after"], first.headers["retry-after-ms"]) == ("2", "1500")
    assert first.json()["error"]["code"] == "rate_limit_exceeded"
    assert second.headers["retry-after"] == "0.5" and "retry-after-ms" not in second.headers


@pytest.mark.parametrize("stream", [False, True])
async def test_http_error_with_openai_body(server: FakeServer, http: httpx.AsyncClient, stream):
    server.enqueue(
        http_error(
            400,
            "Unsupported parameter: 'stream_options'",
            code="unsupported_parameter",
            param="stream_options",
            headers={"x-request-id": "req_123"},
        )
    )
    response = await post(http, STREAM if stream else BODY)
    assert response.status_code == 400
    assert response.headers["x-request-id"] == "req_123"
    assert response.json() == {
        "error": {
            "message": "Unsupported parameter: 'stream_options'",
            "type": "invalid_request_error",
            "code": "unsupported_parameter",
            "param": "stream_options",
        }
    }


async def test_http_error_with_raw_body(server: FakeServer, http: httpx.AsyncClient):
    page = "<html>502 Bad Gateway</html>"
    server.enqueue(
        http_error(502, body=page, headers={"Content-Type": "text/html"}), http_error(503)
    )
    first, second = await post(http), await post(http)
    assert (first.status_code, first.text, first.headers["content-type"]) == (
        502,
        page,
        "text/html",
    )
    assert second.json()["error"]["type"] == "server_error"


@pytest.mark.parametrize("stream", [False, True])
async def test_disconnect_drops_the_connection(server: FakeServer, http: httpx.AsyncClient, stream):
    server.enqueue(disconnect(), "after")
    with pytest.raises(httpx.RemoteProtocolError):
        await post(http, STREAM if stream else BODY)
    assert (await post(http)).json()["choices"][0]["message"]["content"] == "after"


async def test_truncated_stream_breaks_without_finish_or_done(
    server: FakeServer, http: httpx.AsyncClient
):
    server.enqueue(truncated("one two three four five", after=3))
    seen: list[str] = []
    with anyio.fail_after(5), pytest.raises(httpx.RemoteProtocolError):
        async with http.stream("POST", "/chat/completions", json=STREAM) as response:
            async for line in response.aiter_lines():
                seen.append(line)
    data = [json.loads(line[6:]) for line in seen if line.startswith("data: ")]
    assert len(data) == 3
    assert all(c["choices"][0]["finish_reason"] is None for c in data)


async def test_truncated_body_breaks_mid_json(server: FakeServer, http: httpx.AsyncClient):
    server.enqueue(truncated())
    with pytest.raises(httpx.RemoteProtocolError):
        await post(http)


async def test_stream_error_inside_stream(server: FakeServer, http: httpx.AsyncClient):
    server.enqueue(stream_error("overloaded", code="overload", after=2, reply="partial words"))
    data = await events(http)
    assert [json.loads(d).get("error") for d in data] == [
        None,
        None,
        {"message": "overloaded", "type": "server_error", "code": "overload", "param": None},
    ]


async def test_stream_error_without_stream_is_a_200_error_body(
    server: FakeServer, http: httpx.AsyncClient
):
    server.enqueue(stream_error())
    response = await post(http)
    assert response.status_code == 200 and response.json()["error"]["type"] == "server_error"


async def test_malformed_body(server: FakeServer, http: httpx.AsyncClient):
    server.enqueue(malformed(), malformed("{nope"))
    response = await post(http)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert await events(http) == ["{nope", "[DONE]"]


async def test_delay_then_reply(server: FakeServer, http: httpx.AsyncClient):
    server.enqueue(delay(0.2, then=text("late")), delay(5))
    with anyio.fail_after(5):
        response = await post(http)
    assert response.json()["choices"][0]["message"]["content"] == "late"
    with pytest.raises(httpx.ReadTimeout):
        await http.post("/chat/completions", json=BODY, timeout=0.2)


async def test_reset_cuts_a_pending_delay_short(server: FakeServer, http: httpx.AsyncClient):
    server.enqueue(delay(30))
    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(anyio.to_thread.run_sync, _reset_once_recorded, server)
            with pytest.raises(httpx.RemoteProtocolError):
                await http.post("/chat/completions", json=BODY)


def _reset_once_recorded(server: FakeServer) -> None:
    while not server.recorded:
        threading.Event().wait(0.01)
    server.reset()


# --- recording, connections, lifecycle ------------------------------------------------------


async def test_records_every_request_with_headers(server: FakeServer, http: httpx.AsyncClient):
    server.enqueue("ok")
    with anyio.fail_after(5):
        await http.post("/chat/completions", json=BODY, headers={"Authorization": "Bearer sk-test"})
        await http.get("/models")
    chat, models = server.recorded
    assert (chat.method, chat.path, chat.body) == ("POST", "/v1/chat/completions", BODY)
    assert chat.headers["authorization"] == "Bearer sk-test"
    assert json.loads(chat.raw) == BODY
    assert (models.method, models.path, models.body, models.raw) == ("GET", "/v1/models", None, b"")
    assert server.requests == [BODY]


async def test_chunked_request_body(server: FakeServer, http: httpx.AsyncClient):
    async def parts() -> AsyncIterator[bytes]:
        yield json.dumps(BODY)[:10].encode()
        yield json.dumps(BODY)[10:].encode()

    server.enqueue("ok")
    with anyio.fail_after(5):
        response = await http.post("/chat/completions", content=parts())
    assert response.status_code == 200
    assert server.requests == [BODY]


async def test_keep_alive_reuses_one_connection(server: FakeServer):
    ports: set[int] = set()

    async def remember(response: httpx.Response) -> None:
        stream = response.extensions["network_stream"]
        ports.add(stream.get_extra_info("client_addr")[1])

    server.enqueue("a", text("b"), "c")
    async with httpx.AsyncClient(base_url=server.url, event_hooks={"response": [remember]}) as http:
        await post(http)
        await chunks(http)
        await post(http)
    assert len(ports) == 1


async def test_fifty_concurrent_requests(server: FakeServer):
    server.responder = lambda body: body["messages"][0]["content"]
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=10) as http:
        replies: dict[int, str] = {}

        async def ask(n: int) -> None:
            body: dict[str, Any] = {"model": "m", "messages": [{"role": "user", "content": str(n)}]}
            if n % 2:
                body["stream"] = True
                replies[n] = assemble(await chunks(http, body))["content"]
            else:
                replies[n] = (await post(http, body)).json()["choices"][0]["message"]["content"]

        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:
                for n in range(50):
                    tg.start_soon(ask, n)
    assert replies == {n: str(n) for n in range(50)}
    assert len(server.requests) == 50


async def test_a_hundred_keep_alive_connections(server: FakeServer):
    server.responder = lambda body: "ok"
    payload = json.dumps(BODY).encode()
    request = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (
        len(payload),
        payload,
    )
    port = int(server.url.split(":")[2].split("/")[0])

    async def exchange(stream: BufferedByteStream) -> None:
        await stream.send(request)
        head = await stream.receive_until(b"\r\n\r\n", 65536)
        assert head.startswith(b"HTTP/1.1 200 OK")
        length = int(head.lower().partition(b"content-length: ")[2].split(b"\r\n")[0])
        assert json.loads(await stream.receive_exactly(length))["object"] == "chat.completion"

    with anyio.fail_after(10):
        streams = [
            BufferedByteStream(await anyio.connect_tcp("127.0.0.1", port)) for _ in range(100)
        ]
        try:
            for _ in range(2):  # the second round reuses every connection
                async with anyio.create_task_group() as tg:
                    for stream in streams:
                        tg.start_soon(exchange, stream)
        finally:
            for stream in streams:
                await stream.aclose()
    assert len(server.requests) == 200


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_async_context_manager_on_both_backends(anyio_backend: str):
    async with FakeServer(lambda body: "hi") as server, httpx.AsyncClient() as http:
        with anyio.fail_after(5):
            response = await http.post(f"{server.url}/chat/completions", json=BODY)
    assert response.json()["choices"][0]["message"]["content"] == "hi"


def test_stop_joins_threads_and_closes_idle_connections():
    before = set(threading.enumerate())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        server = FakeServer(lambda body: "hi").start()
        url = server.url
        port = int(url.split(":")[2].split("/")[0])
        # Idle keep-alive connections, one of them mid-delay, must not keep stop() waiting.
        idle = [httpx.Client(base_url=url, timeout=5) for _ in range(5)]
        for http in idle:
            assert http.post("/chat/completions", json=BODY).status_code == 200
        server.enqueue(delay(30))
        raw = socket.create_connection(("127.0.0.1", port))
        payload = json.dumps(BODY).encode()
        raw.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
            % (len(payload), payload)
        )
        while server.pending:
            threading.Event().wait(0.01)
        server.stop()
        assert raw.recv(100) == b""  # hung up, no response
        raw.close()
        for http in idle:
            http.close()
        server.stop()  # idempotent
    leftover = set(threading.enumerate()) - before
    assert not [t for t in leftover if t.name.startswith(f"agentkit-fake-server-{port}")]
    with pytest.raises(RuntimeError):
        _ = server.url


def test_restart_after_stop():
    server = FakeServer()
    with server:
        server.enqueue("one")
        assert httpx.post(f"{server.url}/chat/completions", json=BODY).status_code == 200
    with server:
        server.enqueue("two")
        reply = httpx.post(f"{server.url}/chat/completions", json=BODY).json()
    assert reply["choices"][0]["message"]["content"] == "two"
    assert len(server.requests) == 2


# --- the conftest fixtures ------------------------------------------------------------------


def test_request_schema_errors_are_readable(request_validator: Draft202012Validator):
    valid = {**BODY, "tools": [], "stream": True}
    invalid = {"model": "m", "messages": [], "temperature": "hot"}
    assert request_errors(request_validator, [valid]) == []
    errors = request_errors(request_validator, [valid, invalid])
    assert errors == [
        "request #2 at messages: [] should be non-empty",
        "request #2 at temperature: 'hot' is not of type 'number'",
    ]


@pytest.mark.parametrize("stream", [False, True])
async def test_client_fixture_talks_to_the_server(server: FakeServer, client: ChatClient, stream):
    server.enqueue(tool_calls(("add", {"a": 1, "b": 2})))
    with anyio.fail_after(5):
        if stream:
            async with client.stream(model="m", messages=MESSAGES) as chunks:
                result = await chunks.get_final_completion()
        else:
            result = await client.complete(model="m", messages=MESSAGES)
    calls = result.choices[0].message.tool_calls or []
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
        ("call_1", "add", '{"a": 1, "b": 2}')
    ]
    assert server.recorded[0].headers["authorization"] == "Bearer sk-test"


@pytest.mark.invalid_requests
async def test_deeply_nested_request_body_is_a_400_not_a_crash(
    server: FakeServer, http: httpx.AsyncClient
):
    deep = b'{"model": "m", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with anyio.fail_after(5):
        response = await http.post("/chat/completions", content=deep)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "The request body is not a JSON object."
    server.enqueue("still serving")
    assert (await post(http)).json()["choices"][0]["message"]["content"] == "still serving"
