"""Answer one chat request with a reply: a completion as JSON or as SSE chunks, or a fault.

The reply engine of `agentkit.testing`. A completion dict is filled in the way a real server
fills it (ids, model, usage) and, for streaming requests, cut into the chunks a real server
sends. A `Fault` acts on the connection itself. Users meet these classes through
`agentkit.testing`, which re-exports them, and its factory functions.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from agentkit._server import Exchange
from agentkit.types import ChatCompletion

__all__ = [
    "ChatCall",
    "Delay",
    "Disconnect",
    "Fault",
    "HTTPError",
    "Malformed",
    "RawSSE",
    "Reply",
    "StreamError",
    "Truncated",
    "completion_body",
    "stream_chunks",
]

Reply: TypeAlias = "str | Mapping[str, Any] | ChatCompletion | Fault"
"""What answers one chat request: a text, a ChatCompletion-shaped dict or model, or a `Fault`."""


class Fault:
    """A reply that is not a plain completion: an error, a broken connection, a raw stream.

    Make one with `http_error`, `rate_limit`, `disconnect`, `truncated`, `stream_error`,
    `malformed`, `delay` or `RawSSE`.
    """

    def _respond(self, call: ChatCall) -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot answer a request")


@dataclass(frozen=True)
class HTTPError(Fault):
    """An error status with an OpenAI-style ``{"error": {...}}`` body; see `http_error`."""

    status: int
    """The HTTP status code."""
    body: Any
    """The JSON body (or text) sent."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """Extra response headers."""

    def _respond(self, call: ChatCall) -> None:
        headers = {k: v for k, v in self.headers.items() if k.lower() != "content-type"}
        content_type = next(
            (v for k, v in self.headers.items() if k.lower() == "content-type"), None
        )
        if isinstance(self.body, str):
            data = self.body.encode()
            content_type = content_type or "text/plain; charset=utf-8"
        else:
            data = json.dumps(self.body).encode()
        call.exchange.send(
            self.status, data, content_type=content_type or "application/json", headers=headers
        )


@dataclass(frozen=True)
class Disconnect(Fault):
    """Close the connection without sending a response; see `disconnect`."""

    def _respond(self, call: ChatCall) -> None:
        call.exchange.drop()


@dataclass(frozen=True)
class Truncated(Fault):
    """Send part of a reply, then close the connection; see `truncated`."""

    reply: Reply
    """The reply whose start is sent."""
    after: int
    """How many stream chunks are sent (non-streaming: half the body is sent)."""

    def _respond(self, call: ChatCall) -> None:
        body = call.completion(self.reply)
        if call.stream:
            call.exchange.start_stream()
            for chunk in _partial(stream_chunks(body, include_usage=False), self.after):
                call.exchange.write(_event(chunk))
            call.exchange.drop()
        else:
            data = json.dumps(body).encode()
            call.exchange.send_cut(200, data, len(data) // 2)


@dataclass(frozen=True)
class StreamError(Fault):
    """An ``error`` object sent inside a 200 response; see `stream_error`."""

    error: Mapping[str, Any]
    """The error object: message, type, code, param."""
    after: int = 0
    """How many chunks of ``reply`` are streamed before the error."""
    reply: Reply = ""
    """The reply whose start is streamed before the error."""

    def _respond(self, call: ChatCall) -> None:
        if not call.stream:
            call.exchange.send(200, json.dumps({"error": dict(self.error)}).encode())
            return
        call.exchange.start_stream()
        chunks = stream_chunks(call.completion(self.reply), include_usage=False)
        for chunk in _partial(chunks, self.after):
            call.exchange.write(_event(chunk))
        call.exchange.write(_event({"error": dict(self.error)}))
        call.exchange.end_stream()


@dataclass(frozen=True)
class Malformed(Fault):
    """A 200 response whose body (or SSE data) is not valid JSON; see `malformed`."""

    body: str
    """The text sent instead of a completion."""

    def _respond(self, call: ChatCall) -> None:
        if not call.stream:
            call.exchange.send(200, self.body.encode())
            return
        call.exchange.start_stream()
        call.exchange.write(f"data: {self.body}\n\n".encode())
        call.exchange.write(b"data: [DONE]\n\n")
        call.exchange.end_stream()


@dataclass(frozen=True)
class Delay(Fault):
    """Wait, then answer with another reply; see `delay`."""

    seconds: float
    """How long to wait before replying."""
    then: Reply = ""
    """The reply sent after the wait."""

    def _respond(self, call: ChatCall) -> None:
        if call.cancelled.wait(self.seconds):  # reset() or stop() while waiting: hang up
            call.exchange.drop()
        else:
            call.answer(self.then)


@dataclass(frozen=True)
class RawSSE(Fault):
    r"""A 200 ``text/event-stream`` body sent verbatim, for gateway quirks.

    Example: ``RawSSE('data: {"choices": []}\n\n')`` (no ``[DONE]``, then a clean end).
    """

    text: str
    """The exact body; each event (up to a blank line) goes out as one HTTP chunk."""
    chunk_size: int | None = None
    """Instead, split the UTF-8 bytes every ``chunk_size`` bytes (even inside a character)."""

    def _respond(self, call: ChatCall) -> None:
        data = self.text.encode()
        if self.chunk_size:
            pieces = [data[i : i + self.chunk_size] for i in range(0, len(data), self.chunk_size)]
        else:
            pieces = [event + b"\n\n" for event in data.split(b"\n\n")]
            pieces[-1] = pieces[-1][:-2]
        call.exchange.start_stream()
        for piece in pieces:
            call.exchange.write(piece)
        call.exchange.end_stream()


@dataclass(kw_only=True)
class ChatCall:
    """One chat request being answered."""

    exchange: Exchange
    """Where the answer goes."""
    body: dict[str, Any]
    """The request's JSON body."""
    number: int
    """The request's position among the chat requests since the last reset, from 1."""
    cancelled: threading.Event
    """Set when the server resets or stops; waits end early."""

    @property
    def stream(self) -> bool:
        """Whether the request asked for server-sent events."""
        return self.body.get("stream") is True

    def completion(self, reply: Reply) -> dict[str, Any]:
        """The full chat completion a non-fault reply stands for."""
        if isinstance(reply, str):
            reply = {"choices": [{"message": {"content": reply}}]}
        elif isinstance(reply, ChatCompletion):
            reply = reply.model_dump(mode="json", exclude_unset=True)
        elif isinstance(reply, Fault):
            raise TypeError(f"a {type(reply).__name__} cannot be nested here")
        return completion_body(copy.deepcopy(dict(reply)), self.body, self.number)

    def answer(self, reply: Reply) -> None:
        """Send ``reply``: a fault acts itself; a completion goes as JSON or SSE chunks."""
        if isinstance(reply, Fault):
            reply._respond(self)
            return
        body = self.completion(reply)
        if not self.stream:
            self.exchange.send(200, json.dumps(body, ensure_ascii=False).encode())
            return
        options = self.body.get("stream_options") or {}
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        self.exchange.start_stream()
        for chunk in stream_chunks(body, include_usage=include_usage):
            self.exchange.write(_event(chunk))
        self.exchange.write(b"data: [DONE]\n\n")
        self.exchange.end_stream()


def _partial(chunks: list[dict[str, Any]], after: int) -> list[dict[str, Any]]:
    """The first ``after`` chunks that neither finish a choice nor carry only usage."""
    unfinished = [
        c
        for c in chunks
        if c["choices"] and all(ch["finish_reason"] is None for ch in c["choices"])
    ]
    return unfinished[:after]


def _event(data: Any) -> bytes:
    return b"data: %s\n\n" % json.dumps(data, ensure_ascii=False).encode()


# --- OpenAI wire encoding -------------------------------------------------------------------


def completion_body(reply: dict[str, Any], request: dict[str, Any], number: int) -> dict[str, Any]:
    """Complete a reply dict into the chat completion a real server would send.

    Fills the envelope (id, object, created, model: the requested one), each choice's index,
    role, ``content``/``refusal`` (null), ``finish_reason`` and ``logprobs``, and, when the
    reply has no ``usage`` key, an estimate of about four characters a token (``"usage": None``
    leaves usage out).
    """
    choices = []
    for index, choice in enumerate(reply.get("choices") or []):
        message = {
            "role": "assistant",
            "content": None,
            "refusal": None,
            **(choice.get("message") or {}),
        }
        if message.get("tool_calls"):
            message["tool_calls"] = [{"type": "function", **call} for call in message["tool_calls"]]
        finish = "tool_calls" if message.get("tool_calls") else "stop"
        choices.append(
            {
                "index": index,
                "finish_reason": finish,
                "logprobs": None,
                **choice,
                "message": message,
            }
        )
    body = {**reply, "choices": choices}
    defaults = {
        "id": f"chatcmpl-fake-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model") or "fake-model",
    }
    for key, value in defaults.items():
        if not body.get(key):
            body[key] = value
    if "usage" not in body:
        body["usage"] = _estimate_usage(request, choices)
    elif body["usage"] is None:  # a server that reports no usage
        del body["usage"]
    return {key: body.pop(key) for key in ("id", "object", "created", "model")} | body


def _tokens(text: str) -> int:
    return (len(text) + 3) // 4


def _estimate_usage(request: dict[str, Any], choices: list[dict[str, Any]]) -> dict[str, Any]:
    prompt = _tokens(json.dumps([request.get("messages"), request.get("tools")]))
    reasoning = sum(
        _tokens(c["message"].get(key) or "")
        for c in choices
        for key in ("reasoning_content", "reasoning")
    )
    output = reasoning + sum(
        _tokens(c["message"].get("content") or "")
        + sum(
            _tokens(json.dumps(call.get("function")))
            for call in c["message"].get("tool_calls") or []
        )
        for c in choices
    )
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": output,
        "total_tokens": prompt + output,
    }
    if reasoning:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return usage


def _pieces(text: str, size: int = 5) -> list[str]:
    """Split text the way tokens fall: word by word, long words in ``size``-character slices."""
    return [
        word[i : i + size]
        for word in re.findall(r"\s*\S+|\s+", text)
        for i in range(0, len(word), size)
    ]


# Message keys streamed piece by piece; any other key (annotations, audio...) goes whole.
_PIECEWISE = frozenset(
    {"role", "reasoning_content", "reasoning", "content", "refusal", "tool_calls"}
)


def _text_deltas(value: Any) -> list[Any]:
    if isinstance(value, list):  # content parts: sent as they are, in one delta
        return [value]
    return _pieces(value or "")


def stream_chunks(completion: dict[str, Any], *, include_usage: bool) -> list[dict[str, Any]]:
    """Turn a chat completion into the ``data:`` chunks a real server streams (no ``[DONE]``).

    Per choice: a role chunk, reasoning deltas (``reasoning_content`` or ``reasoning``, as in
    the message), content deltas (a list of content
    parts goes whole, in one delta), refusal deltas, one delta with the message's other
    non-null keys (``annotations``...), then each tool call (id, type and name first, then
    argument fragments), then a chunk with only ``finish_reason``. The choice's ``logprobs``
    ride whole on the first content or refusal delta, else on the last chunk. With
    ``include_usage``, every chunk carries ``"usage": null`` and a last chunk with
    ``"choices": []`` carries the usage (unless the completion's is null).
    """
    head = {
        "id": completion["id"],
        "object": "chat.completion.chunk",
        "created": completion["created"],
        "model": completion["model"],
    }
    for key in ("system_fingerprint", "service_tier"):
        if completion.get(key) is not None:
            head[key] = completion[key]
    tail = {"usage": None} if include_usage else {}
    chunks = []

    def add(
        index: int, delta: dict[str, Any], finish: str | None = None, logprobs: Any = None
    ) -> None:
        choice = {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        chunks.append({**head, "choices": [choice], **tail})

    for choice in completion["choices"]:
        index, message = choice["index"], choice["message"]
        logprobs = choice.get("logprobs")  # sent once, whole: the client concatenates them
        role = message.get("role") or "assistant"
        add(index, {"role": role, "content": None if message.get("content") is None else ""})
        for key in ("reasoning_content", "reasoning", "content", "refusal"):
            for piece in _text_deltas(message.get(key)):
                if key in ("reasoning_content", "reasoning"):  # logprobs are the answer's
                    add(index, {key: piece})
                else:
                    add(index, {key: piece}, logprobs=logprobs)
                    logprobs = None
        others = {k: v for k, v in message.items() if k not in _PIECEWISE and v is not None}
        if others:
            add(index, others)
        for n, call in enumerate(message.get("tool_calls") or []):
            function = call.get("function") or {}
            name, arguments = function.get("name", ""), function.get("arguments") or ""
            add(
                index,
                {
                    "tool_calls": [
                        {
                            "index": n,
                            "id": call.get("id"),
                            "type": "function",
                            "function": {"name": name, "arguments": ""},
                        }
                    ]
                },
            )
            for i in range(0, len(arguments), 5):
                fragment = {"index": n, "function": {"arguments": arguments[i : i + 5]}}
                add(index, {"tool_calls": [fragment]})
        add(index, {}, choice.get("finish_reason"), logprobs)
    if include_usage and completion.get("usage") is not None:
        chunks.append({**head, "choices": [], "usage": completion["usage"]})
    return chunks
