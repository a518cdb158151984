"""Which request parameter a 400 rejects, and whether leaving it out keeps the request's meaning.

A gateway that does not know ``seed`` or ``stream_options`` answers the same question without
them, so agentkit leaves such a parameter out and asks again. A parameter that asks for
something (``messages``, ``tools``, ``response_format``, ``web_search_options``...) is never
dropped: without it the answer would be to another question.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from agentkit._http_errors import in_common_words, kept_error, unsupported_error
from agentkit.errors import APIStatusError

__all__ = [
    "DROPPABLE",
    "TOOL_STRICT",
    "drop",
    "drop_unsupported",
    "unsupported_parameter",
    "without_strict",
]

_log = logging.getLogger("agentkit")

TOOL_STRICT = "tools[].function.strict"
"""The name under which a server's rejection of the tools' ``strict`` flag is remembered."""

DROPPABLE = frozenset(
    {
        TOOL_STRICT,  # the model still sees the same schemas; only enforcement is lost
        # Transport and bookkeeping: the answer is the same without them.
        "stream_options",
        "parallel_tool_calls",
        "service_tier",
        "user",
        "safety_identifier",
        "metadata",
        "store",
        "prompt_cache_key",
        "prompt_cache_retention",
        "prompt_cache_options",
        # Hints and sampling knobs: a reasoning model refuses them, and the question and the
        # kind of answer stay the same without them.
        "seed",
        "reasoning_effort",
        "verbosity",
        "temperature",
        "top_p",
        "top_k",
        "min_p",
        "presence_penalty",
        "frequency_penalty",
        "repetition_penalty",
        "logit_bias",
    }
)
"""Parameters the unsupported-parameter fallback may leave out (documented in docs/client.md)."""

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
_MAX_DUMP = 100_000  # characters of an error body searched for the wording


def has_strict(body: Mapping[str, Any]) -> bool:
    """Whether a tool definition in ``body`` carries ``function.strict``."""
    tools = body.get("tools")
    return isinstance(tools, Sequence) and any(
        isinstance(tool, Mapping)
        and isinstance(function := tool.get("function"), Mapping)
        and "strict" in function
        for tool in tools
    )


def without_strict(tools: Sequence[Any]) -> list[Any]:
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
    """Leave ``parameter`` (one of `DROPPABLE`) out of ``body`` because a server rejected it.

    Args:
        parameter: A top-level body key named by the server, or `TOOL_STRICT`.
        body: The body that was rejected; changed in place (but not the tools in it).

    Returns:
        False when there is nothing to leave out: the parameter is not in the body, or it is
        not in `DROPPABLE`.
    """
    if parameter not in DROPPABLE:
        return False
    if parameter == TOOL_STRICT:
        if not has_strict(body):
            return False
        body["tools"] = without_strict(body["tools"])
        return True
    if parameter not in body:
        return False
    del body[parameter]
    return True


def _path(loc: Sequence[Any]) -> str:
    """A pydantic error location as a path: ``["tools", 0, "function"]`` -> tools[0].function."""
    path = str(loc[0])
    for part in loc[1:]:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _says_unsupported(error: APIStatusError) -> bool:
    if _UNSUPPORTED.search(f"{error.message} {error.code or ''} {error.type or ''}"):
        return True
    if not isinstance(error.body, dict):
        return False
    try:
        return bool(_UNSUPPORTED.search(json.dumps(error.body)[:_MAX_DUMP]))
    except (ValueError, RecursionError):  # a body too deep to search says nothing usable
        return False


def unsupported_parameter(
    error: APIStatusError, body: Mapping[str, Any], dropped: set[str]
) -> tuple[str, str] | None:
    """The request parameter a 400/422 says the server does not support, if any.

    Args:
        error: The server's error.
        body: The request body that was rejected.
        dropped: Parameters already left out (named again: dropping them did not help).

    Returns:
        The top-level parameter (`TOOL_STRICT` for the tools' ``strict`` flag) and the path
        the server named (``messages[0].role``), or None when the error is about something
        else.
    """
    if not _says_unsupported(error):
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
            if has_strict(body) or TOOL_STRICT in dropped:
                return TOOL_STRICT, candidate
        match = _ROOT.match(candidate)
        root = match.group() if match else candidate
        if root in body or root in dropped or root in ("model", "messages"):
            return root, candidate
    return None


def drop_unsupported(
    error: APIStatusError, body: dict[str, Any], dropped: set[str], server: str
) -> bool:
    """Drop the parameter a 400 rejects from ``body``; False when there is none to drop.

    Only a parameter of `DROPPABLE` is left out (a rejected ``strict`` flag of the tools
    is left out of copies of the tool definitions): without any other, the request would
    ask for something else.

    Raises:
        BadRequestError: The server names a parameter whose removal would change the
            request (``messages``, ``tools``, ``web_search_options``...); ``param`` is
            what it named.
        UnsupportedParameterError: The server names a parameter already dropped:
            leaving it out did not help.
    """
    model = body["model"]
    found = unsupported_parameter(in_common_words(error), body, dropped)
    if found is None:
        return False
    name, named = found
    if name not in DROPPABLE:
        raise kept_error(error, named)
    if not drop(name, body):
        raise unsupported_error(error, name)
    if name not in dropped:
        dropped.add(name)
        _log.warning(
            "%s does not support the request parameter %r for model %r; it is left out "
            "of this and later requests for that model",
            server,
            name,
            model,
        )
    return True
