"""Builds the chat completions request body, refusing only what no server could accept.

Gateways extend OpenAI's parameters with their own values (Mistral's ``tool_choice: "any"``,
Groq's ``reasoning_effort: "default"``, OpenRouter's ``openrouter:web_search`` tools), so the
checks are about JSON types and impossible values (a negative token count, a message without a
role), never about one provider's list of names. Each refusal names ``extra_body``, which sends
a value exactly as given. The checks run on every request: only the keys given are looked at.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from pydantic_core import PydanticSerializationError, to_json

from agentkit._fallback import TOOL_STRICT, without_strict
from agentkit.errors import InvalidRequestError

__all__ = ["build_body", "serialise"]

_INT64 = 2**63  # seed is a signed 64-bit integer
# Never left out by the unsupported-parameter fallback, and never settable through settings.
_RESERVED = frozenset({"model", "messages", "tools", "tool_choice", "stream"})
_USAGE = {"include_usage": True}  # shared, never mutated: the body is only serialised


class _Refused(Exception):
    """A check's complaint; `build_body` adds where it was and the ``extra_body`` escape."""


def _is_number(value: object) -> bool:
    # bool is an int subclass; True as a temperature is a mistake, not 1.0.
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _range(
    low: float, high: float | None, hint: str, *, integer: bool = False
) -> Callable[[Any], None]:
    valid, what = (_is_int, "an integer") if integer else (_is_number, "a number")
    bounds = f">= {low:g}" if high is None else f"from {low:g} to {high:g}"

    def check(value: Any) -> None:
        if not (valid(value) and low <= value and (high is None or value <= high)):
            raise _Refused(f"must be {what} {bounds}, got {value!r}; {hint}")

    return check


def _of_type(kind: type | tuple[type, ...], what: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if not isinstance(value, kind):
            raise _Refused(f"must be {what}, got {type(value).__name__}")

    return check


def _list_of(kind: type, what: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if not (isinstance(value, list) and all(isinstance(item, kind) for item in value)):
            raise _Refused(f"must be a list of {what}, got {value!r:.100}")

    return check


def _check_seed(value: Any) -> None:
    if not (_is_int(value) and -_INT64 <= value < _INT64):
        raise _Refused(f"must be a 64-bit integer such as 42, got {value!r}")


def _check_stop(value: Any) -> None:
    if not isinstance(value, str) and not (
        isinstance(value, list) and all(isinstance(s, str) for s in value)
    ):
        raise _Refused(f"must be a string or a list of strings, got {value!r:.100}")


def _check_logit_bias(value: Any) -> None:
    if not isinstance(value, Mapping):
        raise _Refused(f'must map token ids to biases, e.g. {{"50256": -100}}, got {value!r:.100}')
    for token, bias in value.items():
        if not _is_number(bias):
            raise _Refused(f"[{token!r}] must be a number (-100 bans the token), got {bias!r}")


def _check_functions(value: Any) -> None:
    if not isinstance(value, list):
        raise _Refused(f"must be a list of function definitions, got {type(value).__name__}")
    for i, function in enumerate(value):
        if not (isinstance(function, Mapping) and isinstance(function.get("name"), str)):
            raise _Refused(f'[{i}] must look like {{"name": ..., "parameters": {{...}}}}')


_OBJECT = _of_type(Mapping, "an object (a dict)")
_STRING = _of_type(str, "a string")
_BOOL = _of_type(bool, "True or False")
_TOKENS = _range(1, None, "it caps the tokens generated", integer=True)
_PENALTY = _range(-2, 2, "positive values discourage repetition, negative ones encourage it")
_CHECKS: dict[str, Callable[[Any], None]] = {
    "temperature": _range(0, None, "use 0 for deterministic output, 1 is the usual default"),
    "top_p": _range(0, 1, "it is a probability mass, e.g. 0.9"),
    "n": _range(1, None, "it is the number of choices to generate", integer=True),
    "stop": _check_stop,
    "max_tokens": _TOKENS,
    "max_completion_tokens": _TOKENS,
    "presence_penalty": _PENALTY,
    "frequency_penalty": _PENALTY,
    "logit_bias": _check_logit_bias,
    "logprobs": _BOOL,
    "top_logprobs": _range(0, None, "it also needs logprobs=True", integer=True),
    "user": _STRING,
    "seed": _check_seed,
    "response_format": _OBJECT,
    "reasoning_effort": _STRING,
    "verbosity": _STRING,
    "modalities": _list_of(str, 'strings such as "text"'),
    "audio": _OBJECT,
    "parallel_tool_calls": _BOOL,
    "stream_options": _OBJECT,
    "metadata": _OBJECT,
    "store": _BOOL,
    "service_tier": _STRING,
    "prediction": _OBJECT,
    "web_search_options": _OBJECT,
    "prompt_cache_key": _STRING,
    "prompt_cache_retention": _STRING,
    "prompt_cache_options": _OBJECT,
    "safety_identifier": _STRING,
    "moderation": _OBJECT,
    "functions": _check_functions,
    "function_call": _of_type((str, Mapping), 'a string such as "auto", or {"name": ...}'),
}


def _check_messages(messages: Sequence[Any]) -> None:
    # `type(x) is list/dict` first: an ABC isinstance check costs a Python call each time,
    # and this runs for every message of every request.
    if type(messages) is not list and (
        isinstance(messages, str | bytes) or not isinstance(messages, Sequence)
    ):
        raise _Refused(
            f'must be a list of dicts such as {{"role": "user", "content": "Hi"}}, '
            f"got {type(messages).__name__}"
        )
    if not messages:
        raise _Refused('must not be empty; start with {"role": "user", "content": ...}')
    for i, message in enumerate(messages):
        if type(message) is not dict and not isinstance(message, Mapping):
            hint = " (call .to_param() on it)" if hasattr(message, "to_param") else ""
            raise _Refused(
                f"[{i}] must be a dict with a 'role', got {type(message).__name__}{hint}"
            )
        role = message.get("role")
        if not isinstance(role, str) or not role:
            raise _Refused(
                f"[{i}] has role {role!r}; a message needs a role such as system, "
                "developer, user, assistant or tool"
            )
        call_id = message.get("tool_call_id")
        if call_id is not None and not isinstance(call_id, str):
            raise _Refused(
                f"[{i}].tool_call_id must be a string (the id of the assistant tool "
                f"call it answers), got {type(call_id).__name__}"
            )


def _check_tools(tools: Sequence[Any]) -> set[str]:
    """The function names ``tools`` define; tools of other types pass as they are."""
    if type(tools) is not list and (
        isinstance(tools, str | bytes | Mapping) or not isinstance(tools, Sequence)
    ):
        raise _Refused(f"must be a list of tool definitions, got {type(tools).__name__}")
    names: set[str] = set()
    for i, tool in enumerate(tools):
        if type(tool) is not dict and not isinstance(tool, Mapping):
            raise _Refused(f"[{i}] must be a dict, got {type(tool).__name__}")
        if tool.get("type", "function") != "function":  # a provider's own tool type
            continue
        function = tool.get("function")
        if not (
            (type(function) is dict or isinstance(function, Mapping))
            and isinstance(function.get("name"), str)
        ):
            raise _Refused(
                f'[{i}] must look like {{"type": "function", "function": {{"name": ..., '
                f'"parameters": {{...}}}}}}, got {tool!r:.200}'
            )
        names.add(function["name"])
    return names


def _check_tool_choice(tool_choice: Any, names: set[str]) -> None:
    if isinstance(tool_choice, str):  # "auto", "none", "required", Mistral's "any", ...
        if tool_choice == "required" and not names:
            raise _Refused("'required' needs at least one function in tools")
        return
    if not isinstance(tool_choice, Mapping):
        raise _Refused(
            'must be a string such as "auto", or {"type": "function", "function": {"name": '
            f"...}}}}, got {type(tool_choice).__name__}"
        )
    if tool_choice.get("type") == "function":
        function = tool_choice.get("function")
        name = function.get("name") if isinstance(function, Mapping) else None
        if not isinstance(name, str):
            raise _Refused(
                'must name the function: {"type": "function", "function": {"name": ...}}, '
                f"got {tool_choice!r:.200}"
            )
        if name not in names:
            raise _Refused(
                f"names function {name!r}, which is not in tools "
                f"({', '.join(sorted(names)) or 'none given'})"
            )


def _checked(key: str, check: Callable[..., Any], *args: Any) -> Any:
    try:
        return check(*args)
    except _Refused as refused:
        where = key if str(refused).startswith("[") else f"{key} "
        raise InvalidRequestError(
            f"{where}{refused}; if your server takes it anyway, send it unchecked with "
            f"extra_body={{{key!r}: ...}}"
        ) from None


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
        settings: `ModelSettings` keys; None values are skipped. ``extra_body`` is merged last,
            unchecked; a None value in it leaves that key out.
        stream: Ask for a stream (adds ``stream_options.include_usage``).
        omit: Parameters the server rejected before; they are left out.

    Returns:
        The request body, sharing ``messages`` and ``tools`` (nothing is copied).

    Raises:
        InvalidRequestError: A parameter or message is malformed; the message says how to fix it.
    """
    if not isinstance(model, str) or not model:
        raise InvalidRequestError(
            f"model must be a non-empty string, got {model!r}; if your server takes it "
            "anyway, send it unchecked with extra_body={'model': ...}"
        )
    _checked("messages", _check_messages, messages)
    body: dict[str, Any] = {"model": model, "messages": messages}
    names: set[str] = set()
    if tools:
        body["tools"] = tools
        names = _checked("tools", _check_tools, tools)
    if tool_choice is not None:
        _checked("tool_choice", _check_tool_choice, tool_choice, names)
        body["tool_choice"] = tool_choice
    extra = None
    for key, value in settings.items():
        if value is None:
            continue
        check = _CHECKS.get(key)
        if check is not None:
            _checked(key, check, value)
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
        for key, value in extra.items():
            if value is None:  # how to leave out what agentkit adds (stream_options)
                body.pop(key, None)
            else:
                body[key] = value
    if omit:
        for key in omit:
            if key not in _RESERVED:
                body.pop(key, None)
        if TOOL_STRICT in omit and tools:
            body["tools"] = without_strict(body["tools"])
    return body


def serialise(body: dict[str, Any]) -> bytes:
    """``body`` as JSON bytes; Mappings, tuples and sets as JSON objects and arrays."""
    try:
        # pydantic-core's encoder is ~3x faster than json.dumps; Mappings become objects.
        return to_json(body, fallback=_to_jsonable)
    except (PydanticSerializationError, TypeError, ValueError, RecursionError) as exc:
        raise InvalidRequestError(
            f"the request is not JSON-serialisable ({exc}); messages and tool results "
            "must be plain str/int/float/bool/None/list/dict values"
        ) from None


def _to_jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")
