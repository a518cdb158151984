"""A real OpenAI-compatible server on 127.0.0.1 for testing agents: scripted replies and faults.

`FakeServer` listens on an ephemeral port in a background thread, so asyncio, trio and sync code
can all talk to it over real HTTP. Queue replies with `enqueue` (or answer dynamically with a
``responder``); each chat request takes the next one, as JSON or, when the request says
``"stream": true``, as server-sent events. Every request is recorded for assertions.

```python
from agentkit.testing import FakeServer, rate_limit, text, tool_calls

with FakeServer() as server:
    server.enqueue(rate_limit(retry_after=0), tool_calls(("add", {"a": 1, "b": 2})))
    server.enqueue("3")  # a string is a text reply, like text("3")
    ...  # point your agent at server.url, run it
    assert server.requests[-1]["messages"][-1] == {
        "role": "tool", "tool_call_id": "call_1", "content": "3"}
```
"""

from __future__ import annotations

import json
import logging
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import anyio.to_thread

from agentkit._replies import (
    ChatCall,
    Delay,
    Disconnect,
    Fault,
    HTTPError,
    Malformed,
    RawSSE,
    Reply,
    StreamError,
    Truncated,
)
from agentkit._server import Exchange, Server
from agentkit.types import ChatCompletion, ReasoningField

__all__ = [
    "Delay",
    "Disconnect",
    "FakeServer",
    "Fault",
    "HTTPError",
    "Malformed",
    "RawSSE",
    "RecordedRequest",
    "Reply",
    "StreamError",
    "ToolCallSpec",
    "Truncated",
    "completion",
    "delay",
    "disconnect",
    "http_error",
    "malformed",
    "rate_limit",
    "stream_error",
    "text",
    "tool_calls",
    "truncated",
]

logger = logging.getLogger("agentkit")

ToolCallSpec: TypeAlias = (
    "tuple[str, Mapping[str, Any] | str] | tuple[str, Mapping[str, Any] | str, str]"
)
"""``(name, arguments)`` or ``(name, arguments, id)``; arguments as a dict or raw JSON text."""


# --- builders -------------------------------------------------------------------------------


def completion(
    content: str | None = None,
    *,
    reasoning: str | None = None,
    reasoning_field: ReasoningField = "reasoning_content",
    tool_calls: Sequence[ToolCallSpec] = (),
    refusal: str | None = None,
    finish_reason: str | None = None,
    usage: Mapping[str, Any] | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """Build a one-choice chat completion dict; the server fills in id, created and model.

    Args:
        content: The assistant's text.
        reasoning: Reasoning text (before the content when streamed).
        reasoning_field: The field it is sent in: ``"reasoning_content"`` (DeepSeek-style) or
            ``"reasoning"`` (Groq, OpenRouter, Ollama, vLLM).
        tool_calls: Calls as ``(name, arguments)`` or ``(name, arguments, id)``; a dict of
            arguments is JSON-encoded, a string is sent as-is (so it may be invalid JSON).
            Ids default to ``call_1``, ``call_2``... in order.
        refusal: A refusal message.
        finish_reason: Defaults to ``"tool_calls"`` when there are calls, else ``"stop"``.
        usage: Token counts to report (``total_tokens`` is summed if missing). Without it the
            server reports an estimate (about four characters a token).
        model: The model name to report; defaults to the model the request asked for.

    Returns:
        A plain dict, usable as a `Reply` and free to edit.
    """
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning is not None:
        if reasoning_field not in ("reasoning_content", "reasoning"):
            raise ValueError(
                "reasoning_field must be 'reasoning_content' or 'reasoning', "
                f"not {reasoning_field!r}"
            )
        message[reasoning_field] = reasoning
    if refusal is not None:
        message["refusal"] = refusal
    if tool_calls:
        message["tool_calls"] = [_tool_call(spec, n) for n, spec in enumerate(tool_calls, 1)]
    choice = {
        "index": 0,
        "message": message,
        "finish_reason": finish_reason or ("tool_calls" if tool_calls else "stop"),
        "logprobs": None,
    }
    body: dict[str, Any] = {"object": "chat.completion", "choices": [choice]}
    if model is not None:
        body["model"] = model
    if usage is not None:
        usage = dict(usage)
        usage.setdefault(
            "total_tokens", usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
        )
        body["usage"] = usage
    return body


def text(
    content: str,
    *,
    reasoning: str | None = None,
    reasoning_field: ReasoningField = "reasoning_content",
    usage: Mapping[str, Any] | None = None,
    finish_reason: str = "stop",
) -> dict[str, Any]:
    """Build a text reply (a plain string reply is the same as ``text(string)``).

    Args:
        content: The assistant's text.
        reasoning: Reasoning text.
        reasoning_field: ``"reasoning_content"`` (the default) or ``"reasoning"``.
        usage: Token counts to report instead of the server's estimate.
        finish_reason: E.g. ``"length"`` to fake a cut-off answer.

    Returns:
        A chat completion dict.
    """
    return completion(
        content,
        reasoning=reasoning,
        reasoning_field=reasoning_field,
        usage=usage,
        finish_reason=finish_reason,
    )


def tool_calls(
    *calls: ToolCallSpec,
    content: str | None = None,
    reasoning: str | None = None,
    reasoning_field: ReasoningField = "reasoning_content",
) -> dict[str, Any]:
    """Build a reply that calls tools, e.g. ``tool_calls(("add", {"a": 1, "b": 2}))``.

    Args:
        *calls: ``(name, arguments)`` or ``(name, arguments, id)``; ids default to
            ``call_1``, ``call_2``... in order.
        content: Text sent alongside the calls.
        reasoning: Reasoning text.
        reasoning_field: ``"reasoning_content"`` (the default) or ``"reasoning"``.

    Returns:
        A chat completion dict with ``finish_reason`` ``"tool_calls"``.
    """
    return completion(
        content, reasoning=reasoning, reasoning_field=reasoning_field, tool_calls=calls
    )


def _tool_call(spec: ToolCallSpec, n: int) -> dict[str, Any]:
    name, arguments = spec[0], spec[1]
    call_id = spec[2] if len(spec) == 3 else f"call_{n}"
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments, ensure_ascii=False)
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


# --- faults ---------------------------------------------------------------------------------


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def http_error(
    status: int,
    message: str | None = None,
    *,
    type: str | None = None,
    code: str | None = None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
) -> HTTPError:
    """Answer with an error status and an OpenAI-style error body.

    Args:
        status: Any 4xx or 5xx status.
        message: ``error.message``; defaults to a sentence naming the status.
        type: ``error.type``; defaults by status (``"server_error"`` for 5xx).
        code: ``error.code``.
        param: ``error.param``, e.g. the unsupported parameter's name.
        headers: Extra headers, e.g. ``{"x-request-id": "req_123"}``.
        body: Send this instead (a JSON-able value, or text such as a proxy's HTML page).

    Returns:
        The fault, to pass to `FakeServer.enqueue`.
    """
    if body is None:
        body = {
            "error": {
                "message": message or f"fake server error {status}",
                "type": type or _ERROR_TYPES.get(status, "server_error"),
                "code": code,
                "param": param,
            }
        }
    return HTTPError(status, body, dict(headers or {}))


def rate_limit(
    *,
    retry_after: float | str | None = None,
    retry_after_ms: float | None = None,
    message: str = "Rate limit reached for requests",
    headers: Mapping[str, str] | None = None,
) -> HTTPError:
    """Answer 429 with ``Retry-After`` (seconds, or an HTTP date) and/or ``retry-after-ms``.

    Args:
        retry_after: The ``Retry-After`` header value.
        retry_after_ms: The ``retry-after-ms`` header value (OpenAI's finer-grained hint).
        message: ``error.message``.
        headers: Extra headers.

    Returns:
        The fault, to pass to `FakeServer.enqueue`.
    """
    extra = dict(headers or {})
    if retry_after is not None:
        extra["retry-after"] = (
            _number(retry_after) if not isinstance(retry_after, str) else retry_after
        )
    if retry_after_ms is not None:
        extra["retry-after-ms"] = _number(retry_after_ms)
    return http_error(429, message, type="requests", code="rate_limit_exceeded", headers=extra)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def disconnect() -> Disconnect:
    """Close the connection without any response (the client sees a dropped connection).

    Returns:
        The fault, to pass to `FakeServer.enqueue`.
    """
    return Disconnect()


def truncated(reply: Reply = "This answer is cut short", *, after: int = 2) -> Truncated:
    """Send the start of ``reply``, then close the connection mid-body.

    Streamed: the first ``after`` chunks (never a ``finish_reason``, never ``[DONE]``), then the
    socket closes without ending the chunked body. Not streamed: half the JSON body.

    Args:
        reply: The reply to cut.
        after: How many stream chunks get through (the first is the role chunk).

    Returns:
        The fault, to pass to `FakeServer.enqueue`.
    """
    return Truncated(reply, after)


def stream_error(
    message: str = "The server had an error while processing your request.",
    *,
    type: str = "server_error",
    code: str | None = None,
    after: int = 0,
    reply: Reply = "partial answer",
) -> StreamError:
    """Send an ``error`` object inside an SSE stream (HTTP status 200), as gateways do.

    Streamed: ``after`` chunks of ``reply``, then ``data: {"error": {...}}``, then the body ends
    (no ``[DONE]``). Not streamed: a 200 JSON body ``{"error": {...}}``.

    Args:
        message: ``error.message``.
        type: ``error.type``.
        code: ``error.code``.
        after: How many chunks of ``reply`` precede the error.
        reply: The reply whose start is streamed first.

    Returns:
        The fault, to pass to `FakeServer.enqueue`.
    """
    error = {"message": message, "type": type, "code": code, "param": None}
    return StreamError(error, after, reply)


def malformed(body: str = '{"id": "chatcmpl-broken", "choices": [') -> Malformed:
    """Answer 200 with a body that is not JSON (streamed: one ``data:`` event of it).

    Args:
        body: The text to send.

    Returns:
        The fault, to pass to `FakeServer.enqueue`.
    """
    return Malformed(body)


def delay(seconds: float, then: Reply = "") -> Delay:
    """Wait ``seconds`` before answering with ``then`` (for timeouts and cancellation).

    The wait ends early, and the connection is dropped, on `FakeServer.reset` or `FakeServer.stop`.

    Args:
        seconds: How long to wait.
        then: The reply sent after the wait.

    Returns:
        The fault, to pass to `FakeServer.enqueue`.
    """
    return Delay(seconds, then)


# --- the server -----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RecordedRequest:
    """One request the server received, whatever its path."""

    method: str
    """The request method, e.g. ``"POST"``."""
    path: str
    """The request target, e.g. ``"/v1/chat/completions"``."""
    headers: dict[str, str]
    """Request headers with lower-case names, e.g. ``headers["authorization"]``."""
    body: dict[str, Any] | None
    """The JSON body when it is an object, else None."""
    raw: bytes
    """The body as sent."""


def _error(message: str, type: str, code: str | None = None) -> bytes:
    error = {"message": message, "type": type, "code": code, "param": None}
    return json.dumps({"error": error}).encode()


class FakeServer:
    """An OpenAI-compatible chat completions server on 127.0.0.1, for tests.

    Each ``POST /v1/chat/completions`` takes the next reply queued with `enqueue`; when the
    queue is empty it asks ``responder``, and without one it answers 500 saying the script is
    empty. ``GET /v1/models`` lists ``models``. Use it as a (sync or async) context manager, or
    call `start` and `stop`.

    Args:
        responder: Called with each chat request's JSON body when no reply is queued; returns
            a `Reply`. Runs in a server thread. May be replaced at any time.
        models: The model ids ``GET /v1/models`` lists.
    """

    def __init__(
        self,
        responder: Callable[[dict[str, Any]], Reply] | None = None,
        *,
        models: Sequence[str] = ("fake-model",),
    ) -> None:
        self.responder = responder
        """Answers chat requests when no reply is queued."""
        self.models = list(models)
        """The model ids ``GET /v1/models`` lists."""
        self.requests: list[dict[str, Any]] = []
        """The JSON body of every chat request, in arrival order."""
        self.recorded: list[RecordedRequest] = []
        """Every request (any path), in arrival order."""
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._server = Server(self._handle)

    @property
    def url(self) -> str:
        """The base URL to give a client, e.g. ``"http://127.0.0.1:54321/v1"``."""
        return f"http://127.0.0.1:{self._server.port}/v1"

    @property
    def pending(self) -> int:
        """How many queued replies have not been used yet."""
        with self._lock:
            return len(self._script)

    def start(self) -> FakeServer:
        """Start serving on an ephemeral port (no-op if running).

        Returns:
            The server itself, so ``server = FakeServer().start()`` works.
        """
        with self._lock:
            self._cancelled = threading.Event()
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving: drop every connection and join every server thread."""
        self._cancelled.set()
        self._server.stop()

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> FakeServer:
        return self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await anyio.to_thread.run_sync(self.stop)

    def enqueue(self, *replies: Reply) -> None:
        """Queue replies; each chat request takes the next one, first in first out.

        Args:
            *replies: Strings (text replies), completion dicts or models, or faults.

        Raises:
            TypeError: A reply is none of those.
        """
        for reply in replies:
            if not _is_reply(reply):
                raise TypeError(f"not a reply: {reply!r}")
        with self._lock:
            self._script.extend(replies)

    def reset(self) -> None:
        """Forget queued replies and recorded requests, and cut short any pending `delay`."""
        with self._lock:
            self._script.clear()
            self.requests.clear()
            self.recorded.clear()
            self._cancelled.set()
            self._cancelled = threading.Event()

    def _handle(self, exchange: Exchange) -> None:
        incoming = exchange.request
        try:
            parsed = json.loads(incoming.raw) if incoming.raw else None
        except (ValueError, RecursionError):  # deeply nested JSON is just a bad body
            parsed = None
        body = parsed if isinstance(parsed, dict) else None
        path = incoming.path.partition("?")[0].rstrip("/")
        chat = incoming.method == "POST" and path == "/v1/chat/completions"
        with self._lock:
            self.recorded.append(
                RecordedRequest(
                    method=incoming.method,
                    path=incoming.path,
                    headers=incoming.headers,
                    body=body,
                    raw=incoming.raw,
                )
            )
            if chat and body is not None:
                self.requests.append(body)
            number, cancelled = len(self.requests), self._cancelled
            reply = self._script.popleft() if chat and body is not None and self._script else None
        if chat:
            if body is None:
                message = "The request body is not a JSON object."
                exchange.send(400, _error(message, "invalid_request_error"))
                return
            call = ChatCall(exchange=exchange, body=body, number=number, cancelled=cancelled)
            self._answer(call, reply)
        elif incoming.method == "GET" and path == "/v1/models":
            listing = {"object": "list", "data": [_model(name) for name in self.models]}
            exchange.send(200, json.dumps(listing).encode())
        elif (
            incoming.method == "GET" and path.startswith("/v1/models/") and path[11:] in self.models
        ):
            exchange.send(200, json.dumps(_model(path[11:])).encode())
        else:
            message = f"Unknown request URL: {incoming.method} {incoming.path}."
            exchange.send(404, _error(message, "invalid_request_error", "unknown_url"))

    def _answer(self, call: ChatCall, reply: Reply | None) -> None:
        responder = self.responder
        if reply is None and responder is not None:
            try:
                reply = responder(call.body)
                if not _is_reply(reply):
                    raise TypeError(f"the responder returned {reply!r}, which is not a reply")
            except Exception as exc:
                logger.exception("agentkit.testing: the responder failed")
                message = f"agentkit.testing responder raised {type(exc).__name__}: {exc}"
                call.exchange.send(500, _error(message, "fake_server_error", "responder_error"))
                return
        if reply is None:
            message = (
                f"agentkit.testing.FakeServer: the script is empty, no reply for chat "
                f"request #{call.number}; call server.enqueue(...) or pass a responder"
            )
            call.exchange.send(500, _error(message, "fake_server_error", "script_empty"))
            return
        call.answer(reply)


def _is_reply(reply: object) -> bool:
    return isinstance(reply, str | Mapping | ChatCompletion | Fault)


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 1700000000, "owned_by": "agentkit"}
