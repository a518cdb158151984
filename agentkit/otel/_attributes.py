"""GenAI semantic-convention attributes from the JSON a model request and a tool call exchange.

Pure functions of JSON data (the request keywords, the completion, the tool call), so what is
recorded is exactly what went over the wire. Only named, whitelisted request fields become
attributes: headers (``extra_headers`` may carry credentials) never do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "completion_attributes",
    "cut",
    "error_type",
    "input_messages",
    "output_messages",
    "provider_for",
    "request_attributes",
    "server_attributes",
    "system_instructions",
    "usage_counts",
]

AttributeValue = str | bool | int | float | Sequence[str]

# Request keywords -> attribute names: numbers and strings recorded as sent.
_REQUEST_FIELDS = {
    "model": "gen_ai.request.model",
    "temperature": "gen_ai.request.temperature",
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "top_p": "gen_ai.request.top_p",
    "frequency_penalty": "gen_ai.request.frequency_penalty",
    "presence_penalty": "gen_ai.request.presence_penalty",
    "seed": "gen_ai.request.seed",
}

# Hosts of well-known providers -> gen_ai.provider.name (the conventions' values). Anything
# else speaks the OpenAI protocol, which is what "openai" names for a compatible server.
_PROVIDERS = {
    "api.openai.com": "openai",
    "api.deepseek.com": "deepseek",
    "api.groq.com": "groq",
    "api.mistral.ai": "mistral_ai",
    "api.x.ai": "x_ai",
    "api.perplexity.ai": "perplexity",
    "generativelanguage.googleapis.com": "gcp.gemini",
    "api.anthropic.com": "anthropic",
    "api.cohere.ai": "cohere",
    "api.cohere.com": "cohere",
}
_PROVIDER_SUFFIXES = {
    ".openai.azure.com": "azure.ai.openai",
    ".services.ai.azure.com": "azure.ai.inference",
    ".amazonaws.com": "aws.bedrock",
}


def server_attributes(base_url: str) -> dict[str, AttributeValue]:
    """``server.address`` and ``server.port`` of a client's base URL (the port made explicit).

    Args:
        base_url: The client's API root, e.g. ``https://api.openai.com/v1``.

    Returns:
        The two attributes (only the address when the URL has no usable port).
    """
    parts = urlsplit(base_url)
    attributes: dict[str, AttributeValue] = {}
    if parts.hostname:
        attributes["server.address"] = parts.hostname
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:  # a malformed port: the address alone is still worth having
        port = None
    if port is not None:
        attributes["server.port"] = port
    return attributes


def provider_for(host: str | None) -> str:
    """The ``gen_ai.provider.name`` of a server, from its host name.

    Args:
        host: The server's host name, if known.

    Returns:
        A well-known provider's name, or ``"openai"`` (the protocol) for any other server.
    """
    if host:
        host = host.lower()
        if host in _PROVIDERS:
            return _PROVIDERS[host]
        for suffix, name in _PROVIDER_SUFFIXES.items():
            if host.endswith(suffix):
                return name
    return "openai"


def request_attributes(params: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """The request attributes of a model request: model and settings, never headers.

    Args:
        params: The `ChatClient.complete` keywords of the request.

    Returns:
        ``gen_ai.request.*`` attributes (and ``gen_ai.output.type`` for a JSON answer).
    """
    attributes: dict[str, AttributeValue] = {}
    for key, name in _REQUEST_FIELDS.items():
        value = params.get(key)
        # bool is an int, but no numeric setting is a bool: a bool here is not ours to record
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            attributes[name] = value
    stop = params.get("stop")
    if isinstance(stop, str):
        attributes["gen_ai.request.stop_sequences"] = [stop]
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        attributes["gen_ai.request.stop_sequences"] = stop
    n = params.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n != 1:
        attributes["gen_ai.request.choice.count"] = n
    response_format = params.get("response_format")
    if isinstance(response_format, Mapping):
        kind = response_format.get("type")
        attributes["gen_ai.output.type"] = (
            "json" if kind in ("json_schema", "json_object") else "text"
        )
    return attributes


def usage_counts(completion: Mapping[str, Any]) -> dict[str, int]:
    """The token counts of a completion, by attribute name (only the counts it reports).

    Args:
        completion: The completion as JSON data.

    Returns:
        ``gen_ai.usage.input_tokens``, ``...output_tokens``, ``...reasoning.output_tokens`` and
        ``...cache_read.input_tokens``, where the server reported them.
    """
    usage = completion.get("usage")
    if not isinstance(usage, Mapping):
        return {}
    counts: dict[str, int] = {}
    _count(counts, "gen_ai.usage.input_tokens", usage.get("prompt_tokens"))
    _count(counts, "gen_ai.usage.output_tokens", usage.get("completion_tokens"))
    details = usage.get("completion_tokens_details")
    if isinstance(details, Mapping):
        _count(counts, "gen_ai.usage.reasoning.output_tokens", details.get("reasoning_tokens"))
    details = usage.get("prompt_tokens_details")
    if isinstance(details, Mapping):
        _count(counts, "gen_ai.usage.cache_read.input_tokens", details.get("cached_tokens"))
    return counts


def _count(counts: dict[str, int], name: str, value: object) -> None:
    if isinstance(value, int) and not isinstance(value, bool):
        counts[name] = value


def completion_attributes(completion: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """The response attributes of a completion: id, model, finish reasons and token counts.

    Args:
        completion: The completion as JSON data.

    Returns:
        ``gen_ai.response.*`` and ``gen_ai.usage.*`` attributes.
    """
    attributes: dict[str, AttributeValue] = {}
    for key in ("id", "model"):
        value = completion.get(key)
        if isinstance(value, str) and value:
            attributes[f"gen_ai.response.{key}"] = value
    choices = completion.get("choices")
    if isinstance(choices, list):
        reasons = [
            str(choice.get("finish_reason"))
            for choice in choices
            if isinstance(choice, Mapping) and choice.get("finish_reason") is not None
        ]
        if reasons:
            attributes["gen_ai.response.finish_reasons"] = reasons
    attributes.update(usage_counts(completion))
    return attributes


def error_type(exc: BaseException) -> str:
    """``error.type`` of an exception: its class, qualified unless it is a builtin.

    Args:
        exc: The exception that ended the operation.

    Returns:
        E.g. ``"agentkit.errors.RateLimitError"`` or ``"TimeoutError"``.
    """
    cls = type(exc)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


# --- content (recorded only when capture is switched on) ------------------------------------


def cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying how many were left out.

    Args:
        text: Any recorded content.
        limit: Most characters kept.

    Returns:
        The text, or its start and a note of the rest's length.
    """
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…[{len(text) - limit} more characters]"


def _text(content: object, limit: int) -> str | None:
    """A message's content as text: a string, or the text of its parts joined."""
    if isinstance(content, str):
        return cut(content, limit)
    if isinstance(content, list):
        texts = [
            part["text"]
            for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str)
        ]
        return cut("".join(texts), limit) if texts else None
    return None


def _parts(message: Mapping[str, Any], limit: int) -> list[dict[str, Any]]:
    """The conventions' parts of one OpenAI message (text, reasoning, tool calls and replies)."""
    parts: list[dict[str, Any]] = []
    reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        parts.append({"type": "reasoning", "content": cut(reasoning, limit)})
    text = _text(message.get("content"), limit)
    if message.get("role") == "tool":
        parts.append(
            {"type": "tool_call_response", "id": message.get("tool_call_id"), "response": text}
        )
        return parts
    if text:
        parts.append({"type": "text", "content": text})
    for call in message.get("tool_calls") or ():
        if not isinstance(call, Mapping):
            continue
        function = call.get("function")
        function = function if isinstance(function, Mapping) else {}
        arguments = function.get("arguments")
        parts.append(
            {
                "type": "tool_call",
                "id": call.get("id"),
                "name": function.get("name"),
                "arguments": cut(arguments, limit) if isinstance(arguments, str) else arguments,
            }
        )
    return parts


def system_instructions(messages: Sequence[Mapping[str, Any]], limit: int) -> str | None:
    """``gen_ai.system_instructions``: the system messages' text as JSON parts, or None.

    Args:
        messages: The request's messages.
        limit: Most characters kept of each text.

    Returns:
        A JSON array of text parts, or None when there is no system message.
    """
    parts = [
        {"type": "text", "content": text}
        for m in messages
        if m.get("role") in ("system", "developer")
        and (text := _text(m.get("content"), limit)) is not None
    ]
    return json.dumps(parts, ensure_ascii=False) if parts else None


def input_messages(messages: Sequence[Mapping[str, Any]], limit: int) -> str:
    """``gen_ai.input.messages``: the conversation sent, system messages aside, as JSON.

    Args:
        messages: The request's messages.
        limit: Most characters kept of each text, argument and tool reply.

    Returns:
        A JSON array of ``{"role", "parts"}`` objects, as the conventions define them.
    """
    converted = [
        {"role": m.get("role"), "parts": _parts(m, limit)}
        for m in messages
        if m.get("role") not in ("system", "developer")
    ]
    return json.dumps(converted, ensure_ascii=False, default=str)


def output_messages(completion: Mapping[str, Any], limit: int) -> str:
    """``gen_ai.output.messages``: each choice's message with its finish reason, as JSON.

    Args:
        completion: The completion as JSON data.
        limit: Most characters kept of each text and argument.

    Returns:
        A JSON array of ``{"role", "parts", "finish_reason"}`` objects.
    """
    converted = []
    for choice in completion.get("choices") or ():
        if not isinstance(choice, Mapping):
            continue
        message = choice.get("message")
        message = message if isinstance(message, Mapping) else {}
        converted.append(
            {
                "role": message.get("role") or "assistant",
                "parts": _parts(message, limit),
                "finish_reason": choice.get("finish_reason"),
            }
        )
    return json.dumps(converted, ensure_ascii=False, default=str)
