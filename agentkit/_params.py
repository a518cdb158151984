"""Builds the chat completions request body, checking every parameter before it is sent.

The checks run on every request, so each one is a couple of comparisons: only the keys
actually given are looked at, and the body is one plain dict serialised once by the caller.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from agentkit.errors import APIStatusError, InvalidRequestError

__all__ = ["TOOL_STRICT", "build_body", "drop", "unsupported_parameter"]

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_TOOL_CHOICE_MODES = frozenset({"none", "auto", "required"})
_REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
_MODALITIES = frozenset({"text", "audio"})
_INT64 = 2**63  # seed is a signed 64-bit integer
# OpenAI's metadata limits, from the request schema's description of Metadata.
_METADATA_PAIRS, _METADATA_KEY, _METADATA_VALUE = 16, 64, 512
# Never dropped by the unsupported-parameter fallback, and never settable through settings.
_RESERVED = frozenset({"model", "messages", "tools", "tool_choice", "stream"})
_USAGE = {"include_usage": True}  # shared, never mutated: the body is only serialised

TOOL_STRICT = "tools[].function.strict"
"""The name under which a server's rejection of the tools' ``strict`` flag is remembered."""


def _is_number(value: object) -> bool:
    # bool is an int subclass; True as a temperature is a mistake, not 1.0.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _range(
    name: str, low: float, high: float, hint: str, *, integer: bool = False
) -> Callable[[Any], None]:
    valid, what = (_is_int, "an integer") if integer else (_is_number, "a number")

    def check(value: Any) -> None:
        if not (valid(value) and low <= value <= high):
            raise InvalidRequestError(
                f"{name} must be {what} from {low:g} to {high:g}, got {value!r}; {hint}"
            )

    return check


def _positive_int(name: str, hint: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if not (_is_int(value) and value >= 1):
            raise InvalidRequestError(f"{name} must be an integer >= 1, got {value!r}; {hint}")

    return check


def _one_of(name: str, choices: tuple[str, ...]) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if value not in choices:
            raise InvalidRequestError(f"{name} must be one of {', '.join(choices)}, got {value!r}")

    return check


def _check_seed(value: Any) -> None:
    if not (_is_int(value) and -_INT64 <= value < _INT64):
        raise InvalidRequestError(f"seed must be a 64-bit integer such as 42, got {value!r}")


def _check_safety_identifier(value: Any) -> None:
    if not isinstance(value, str) or len(value) > 64:
        got = f"{len(value)} characters" if isinstance(value, str) else type(value).__name__
        raise InvalidRequestError(
            f"safety_identifier must be a string of at most 64 characters, got {got}; send a "
            "hash of your user's id, e.g. hashlib.sha256(user_id.encode()).hexdigest()"
        )


def _of_type(name: str, kind: type | tuple[type, ...], what: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if not isinstance(value, kind):
            raise InvalidRequestError(f"{name} must be {what}, got {type(value).__name__}")

    return check


def _check_stop(value: Any) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise InvalidRequestError(f"stop must be a string or a list of strings, got {value!r}")
    if not value:
        raise InvalidRequestError(
            "stop must not be an empty list; leave it out, or give 1 to 4 strings"
        )
    if len(value) > 4:
        raise InvalidRequestError(
            f"stop has {len(value)} sequences; servers accept at most 4, so keep the 4 that "
            "matter most"
        )


def _check_logit_bias(value: Any) -> None:
    if not isinstance(value, Mapping):
        raise InvalidRequestError(
            f'logit_bias must map token ids to biases, e.g. {{"50256": -100}}, got {value!r}'
        )
    for token, bias in value.items():
        if not (_is_int(bias) and -100 <= bias <= 100):
            raise InvalidRequestError(
                f"logit_bias[{token!r}] must be an integer from -100 to 100, got {bias!r}; "
                "-100 bans the token, 100 forces it"
            )


def _check_modalities(value: Any) -> None:
    if not isinstance(value, list) or not value or not _MODALITIES.issuperset(value):
        raise InvalidRequestError(
            f'modalities must be a non-empty list of "text" and "audio", got {value!r}'
        )


def _check_metadata(value: Any) -> None:
    if not isinstance(value, Mapping) or len(value) > _METADATA_PAIRS:
        raise InvalidRequestError(
            f"metadata must be an object of at most {_METADATA_PAIRS} string keys and values, "
            f"got {value!r}"
        )
    for key, item in value.items():
        if not (isinstance(key, str) and len(key) <= _METADATA_KEY):
            raise InvalidRequestError(
                f"metadata key {key!r} must be a string of at most {_METADATA_KEY} characters"
            )
        if not (isinstance(item, str) and len(item) <= _METADATA_VALUE):
            raise InvalidRequestError(
                f"metadata[{key!r}] must be a string of at most {_METADATA_VALUE} characters, "
                f"got {item!r:.80}; convert numbers with str() and shorten long texts"
            )


def _check_prompt_cache_options(value: Any) -> None:
    if not (
        isinstance(value, Mapping)
        and value.get("ttl") in (None, "30m")
        and value.get("mode") in (None, "implicit", "explicit")
    ):
        raise InvalidRequestError(
            'prompt_cache_options must be an object such as {"ttl": "30m", "mode": "explicit"} '
            f'(ttl "30m"; mode "implicit" or "explicit"), got {value!r}'
        )


def _check_moderation(value: Any) -> None:
    if not (isinstance(value, Mapping) and isinstance(value.get("model"), str)):
        raise InvalidRequestError(
            'moderation must be an object naming its model, e.g. {"model": '
            f'"omni-moderation-latest"}}, got {value!r}'
        )


def _check_functions(value: Any) -> None:
    if not isinstance(value, list) or not 1 <= len(value) <= 128:
        raise InvalidRequestError(
            f"functions must be a list of 1 to 128 function definitions, got {value!r}; "
            "better, pass them as tools"
        )
    for i, function in enumerate(value):
        if not (isinstance(function, Mapping) and isinstance(function.get("name"), str)):
            raise InvalidRequestError(
                f'functions[{i}] must look like {{"name": ..., "parameters": {{...}}}}, '
                f"got {function!r}"
            )


def _check_function_call(value: Any) -> None:
    if value in ("none", "auto"):
        return
    if not (isinstance(value, Mapping) and isinstance(value.get("name"), str)):
        raise InvalidRequestError(
            f"function_call must be 'none', 'auto' or {{\"name\": ...}}, got {value!r}; "
            "better, use tools and tool_choice"
        )


_PENALTY_HINT = "positive values discourage repetition, negative ones encourage it"
_TOKENS_HINT = "it caps the tokens generated"
_CHECKS: dict[str, Callable[[Any], None]] = {
    "temperature": _range("temperature", 0, 2, "use 0 for deterministic output, 1 is the default"),
    "top_p": _range("top_p", 0, 1, "it is a probability mass, e.g. 0.9"),
    "n": _range("n", 1, 128, "it is the number of choices to generate", integer=True),
    "stop": _check_stop,
    "max_tokens": _positive_int("max_tokens", _TOKENS_HINT),
    "max_completion_tokens": _positive_int("max_completion_tokens", _TOKENS_HINT),
    "presence_penalty": _range("presence_penalty", -2, 2, _PENALTY_HINT),
    "frequency_penalty": _range("frequency_penalty", -2, 2, _PENALTY_HINT),
    "logit_bias": _check_logit_bias,
    "logprobs": _of_type("logprobs", bool, "True or False"),
    "top_logprobs": _range("top_logprobs", 0, 20, "it also needs logprobs=True", integer=True),
    "user": _of_type("user", str, "a string"),
    "seed": _check_seed,
    "response_format": _of_type(
        "response_format", Mapping, 'an object such as {"type": "json_object"}'
    ),
    "reasoning_effort": _one_of("reasoning_effort", _REASONING_EFFORTS),
    "verbosity": _one_of("verbosity", ("low", "medium", "high")),
    "modalities": _check_modalities,
    "audio": _of_type("audio", Mapping, 'an object such as {"voice": "alloy", "format": "wav"}'),
    "parallel_tool_calls": _of_type("parallel_tool_calls", bool, "True or False"),
    "stream_options": _of_type("stream_options", Mapping, 'an object: {"include_usage": True}'),
    "metadata": _check_metadata,
    "store": _of_type("store", bool, "True or False"),
    "service_tier": _of_type("service_tier", str, 'a string such as "auto"'),
    "prediction": _of_type("prediction", Mapping, "an object"),
    "web_search_options": _of_type("web_search_options", Mapping, "an object"),
    "prompt_cache_key": _of_type("prompt_cache_key", str, "a string"),
    "prompt_cache_retention": _one_of("prompt_cache_retention", ("in_memory", "24h")),
    "prompt_cache_options": _check_prompt_cache_options,
    "safety_identifier": _check_safety_identifier,
    "moderation": _check_moderation,
    "functions": _check_functions,
    "function_call": _check_function_call,
}


def _check_messages(messages: Sequence[Any]) -> None:
    if isinstance(messages, str | bytes) or not isinstance(messages, Sequence):
        raise InvalidRequestError(
            f'messages must be a list of dicts such as {{"role": "user", "content": "Hi"}}, '
            f"got {type(messages).__name__}"
        )
    if not messages:
        raise InvalidRequestError(
            'messages must not be empty; start with {"role": "user", "content": ...}'
        )
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping):
            hint = " (call .to_param() on it)" if hasattr(message, "to_param") else ""
            raise InvalidRequestError(
                f"messages[{i}] must be a dict with a 'role', got {type(message).__name__}{hint}"
            )
        role = message.get("role")
        if role not in _ROLES:
            raise InvalidRequestError(
                f"messages[{i}] has role {role!r}; use one of system, developer, user, "
                "assistant, tool"
            )
        if role == "tool" and not isinstance(message.get("tool_call_id"), str):
            raise InvalidRequestError(
                f"messages[{i}] is a tool message without a 'tool_call_id'; set it to the id "
                "of the assistant tool call it answers"
            )


def _check_tools(tools: Sequence[Any]) -> set[str]:
    names: set[str] = set()
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if isinstance(function, Mapping) and isinstance(function.get("name"), str):
            names.add(function["name"])
        elif not (isinstance(tool, Mapping) and tool.get("type") == "custom"):
            raise InvalidRequestError(
                f'tools[{i}] must look like {{"type": "function", "function": {{"name": ..., '
                f'"parameters": {{...}}}}}}, got {tool!r}'
            )
    return names


def _check_tool_choice(tool_choice: Any, names: set[str]) -> None:
    if isinstance(tool_choice, str):
        if tool_choice not in _TOOL_CHOICE_MODES:
            raise InvalidRequestError(
                f"tool_choice must be 'none', 'auto', 'required' or "
                f'{{"type": "function", "function": {{"name": ...}}}}, got {tool_choice!r}'
            )
        if tool_choice == "required" and not names:
            raise InvalidRequestError("tool_choice='required' needs at least one tool in tools")
        return
    kind = tool_choice.get("type") if isinstance(tool_choice, Mapping) else None
    if kind == "function":
        function = tool_choice.get("function")
        name = function.get("name") if isinstance(function, Mapping) else None
        if not isinstance(name, str):
            raise InvalidRequestError(
                f'tool_choice must name the function: {{"type": "function", "function": '
                f'{{"name": ...}}}}, got {tool_choice!r}'
            )
        if name not in names:
            raise InvalidRequestError(
                f"tool_choice names function {name!r}, which is not in tools "
                f"({', '.join(sorted(names)) or 'none given'})"
            )
    elif kind not in ("allowed_tools", "custom"):
        raise InvalidRequestError(
            f"tool_choice must be 'none', 'auto', 'required' or "
            f'{{"type": "function", "function": {{"name": ...}}}}, got {tool_choice!r}'
        )


def build_body(
    model: str,
    messages: Sequence[Any],
    tools: Sequence[Any] | None,
    tool_choice: Any,
    settings: Mapping[str, Any],
    *,
    stream: bool,
    omit: Collection[str] = (),
) -> dict[str, Any]:
    """Check a request's parameters and return its JSON body as one dict.

    Args:
        model: The model id.
        messages: The conversation, as dicts.
        tools: Tool definitions, or None.
        tool_choice: The tool choice, or None.
        settings: `ModelSettings` keys; None values are skipped. ``extra_body`` is merged last.
        stream: Ask for a stream (adds ``stream_options.include_usage``).
        omit: Parameters the server rejected before; they are left out.

    Returns:
        The request body, sharing ``messages`` and ``tools`` (nothing is copied).

    Raises:
        InvalidRequestError: A parameter or message is malformed; the message says how to fix it.
    """
    if not isinstance(model, str) or not model:
        raise InvalidRequestError(f"model must be a non-empty string, got {model!r}")
    _check_messages(messages)
    body: dict[str, Any] = {"model": model, "messages": messages}
    if tools:
        body["tools"] = tools
        names = _check_tools(tools)
    else:
        names = set()
    if tool_choice is not None:
        _check_tool_choice(tool_choice, names)
        body["tool_choice"] = tool_choice
    extra = None
    for key, value in settings.items():
        if value is None:
            continue
        check = _CHECKS.get(key)
        if check is not None:
            check(value)
            body[key] = value
        elif key == "extra_body":
            if not isinstance(value, Mapping):
                raise InvalidRequestError(f"extra_body must be a dict, got {value!r}")
            extra = value
        else:
            raise InvalidRequestError(
                f"unknown setting {key!r}; check the spelling, or pass provider-specific "
                f"parameters as extra_body={{{key!r}: ...}}"
            )
    if stream:
        body["stream"] = True
        options = body.get("stream_options")
        # Usage only arrives in streams that ask for it; the caller may still override it.
        body["stream_options"] = {"include_usage": True, **options} if options else _USAGE
    else:
        # Only meaningful for streams, and OpenAI rejects it otherwise; shared settings
        # dicts pass it to both paths.
        body.pop("stream_options", None)
    if extra:
        body.update(extra)
    if omit:
        for key in omit:
            if key not in _RESERVED:
                body.pop(key, None)
        if TOOL_STRICT in omit and tools:
            body["tools"] = _without_strict(body["tools"])
    return body


def _has_strict(body: Mapping[str, Any]) -> bool:
    tools = body.get("tools")
    return isinstance(tools, Sequence) and any(
        isinstance(tool, Mapping)
        and isinstance(function := tool.get("function"), Mapping)
        and "strict" in function
        for tool in tools
    )


def _without_strict(tools: Sequence[Any]) -> list[Any]:
    """The tools without ``function.strict``, copied where changed.

    The definitions are shared (a `Tool` caches its own), so they are never edited in place.
    """
    stripped = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if isinstance(function, Mapping) and "strict" in function:
            rest = {key: value for key, value in function.items() if key != "strict"}
            tool = {**tool, "function": rest}
        stripped.append(tool)
    return stripped


def drop(parameter: str, body: dict[str, Any]) -> bool:
    """Leave ``parameter`` out of ``body`` because a server rejected it.

    Args:
        parameter: A top-level body key named by the server, or `TOOL_STRICT`.
        body: The body that was rejected; changed in place (but not the tools in it).

    Returns:
        False when there is nothing to leave out: the parameter is not in the body, or it is
        essential (model, messages, tools...).
    """
    if parameter == TOOL_STRICT:
        if not _has_strict(body):
            return False
        body["tools"] = _without_strict(body["tools"])
        return True
    if parameter not in body or parameter in _RESERVED:
        return False
    del body[parameter]
    return True


# How servers say "I don't know this parameter"; the group is the parameter's name.
_UNSUPPORTED = re.compile(
    r"unsupported|not supported|unrecognized|unknown (?:parameter|field|argument)|"
    r"extra inputs are not permitted|extra_forbidden|unexpected keyword",
    re.IGNORECASE,
)
_PARAMETER_NAMES = [
    re.compile(p, re.IGNORECASE)
    for p in (
        r"unrecognized request arguments? supplied:?\s*['\"]?([\w.\[\]]+)",
        r"unsupported (?:parameter|value):?\s*['\"]?([\w.\[\]]+)",
        r"unknown (?:parameter|field|argument):?\s*['\"]?([\w.\[\]]+)",
        r"['\"]?([\w.\[\]]+)['\"]? (?:is|are) not supported",
        r"loc['\"]?\s*[:=]\s*[\[(]\s*['\"]body['\"]\s*,\s*['\"](\w+)",
        r"unexpected keyword argument:?\s*['\"]?(\w+)",
    )
]
_ROOT = re.compile(r"[\w-]+")
# "tools[0].function.strict" or "tools.function.strict": the flag of a tool definition
_TOOL_STRICT_PATH = re.compile(r"tools(?:\[\d*\])?\.function\.strict")


def _path(loc: Sequence[Any]) -> str:
    """A pydantic error location as a path: ``["tools", 0, "function"]`` -> tools[0].function."""
    path = str(loc[0])
    for part in loc[1:]:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def unsupported_parameter(
    error: APIStatusError, body: Mapping[str, Any], dropped: set[str]
) -> str | None:
    """The top-level body key a 400/422 says the server does not support, if any.

    Args:
        error: The server's error.
        body: The request body that was rejected.
        dropped: Parameters already left out (named again: dropping them did not help).

    Returns:
        The parameter's name (`TOOL_STRICT` for the tools' ``strict`` flag), or None when the
        error is about something else.
    """
    text = f"{error.message} {error.code or ''} {error.type or ''}"
    if not _UNSUPPORTED.search(text) and not (
        isinstance(error.body, dict) and _UNSUPPORTED.search(json.dumps(error.body))
    ):
        return None
    candidates: list[str] = []
    if error.param:
        candidates.append(error.param)
    detail = error.body.get("detail") if isinstance(error.body, dict) else None
    if isinstance(detail, list):  # FastAPI/pydantic: [{"type": "extra_forbidden", "loc": [...]}]
        for item in detail:
            loc = item.get("loc") if isinstance(item, dict) else None
            if isinstance(loc, list) and len(loc) >= 2 and loc[0] == "body":
                candidates.append(_path(loc[1:]))
    for pattern in _PARAMETER_NAMES:
        candidates.extend(pattern.findall(error.message))
    for candidate in candidates:
        if _TOOL_STRICT_PATH.fullmatch(candidate) or (
            candidate == "strict" and "strict" not in body
        ):
            # Named again after it was left out: return it, so dropping it fails loudly.
            if _has_strict(body) or TOOL_STRICT in dropped:
                return TOOL_STRICT
        match = _ROOT.match(candidate)
        root = match.group() if match else candidate
        if root in body or root in dropped or root in ("model", "messages"):
            return root
    return None
