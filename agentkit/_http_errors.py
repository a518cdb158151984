"""Failed exchanges as typed errors: what the server said, how long it asked to wait.

Servers word these differently (``Retry-After`` in seconds or as a date, ``retry-after-ms``,
error bodies as objects, strings or Google's one-element lists); this module reads them all,
and builds every error from them (or from httpx's) with no secret in it or in its causes.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import math
import re
import time
from typing import Any

import httpx

from agentkit._redact import Secret, redact, redact_json
from agentkit.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
    UnsupportedParameterError,
)

__all__ = [
    "MAX_DEPTH",
    "error_details",
    "in_common_words",
    "kept_error",
    "loads",
    "retry_after",
    "status_error",
    "transport_error",
    "unsupported_error",
]

MAX_DEPTH = 128
"""JSON nested deeper than this is refused: no real error body or model list comes close."""

_CHAIN = 16  # causes followed when checking an httpx error for secrets
_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


# Google (Gemini) rejects a parameter with 'Unknown name "store": Cannot find field.', a
# wording `unsupported_parameter` does not know; it reads it as "unknown field: store".
_GOOGLE_UNKNOWN_NAME = re.compile(r'Unknown name "([^"]+)"')
_STATUS_HINTS = {
    401: "authentication failed; pass api_key= or set AGENTKIT_API_KEY (or OPENAI_API_KEY)",
    404: "not found; check base_url and the model name",
}


def _number(value: str) -> float | None:
    """``value`` as a finite float: "nan" and "inf" parse, but are no wait to sleep."""
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def retry_after(headers: httpx.Headers) -> float | None:
    """The wait a ``retry-after-ms`` or ``Retry-After`` header asks for, if any."""
    milliseconds = _number(headers.get("retry-after-ms") or "")
    if milliseconds is not None and milliseconds >= 0:  # a negative one is no wait to keep
        return milliseconds / 1000
    value = headers.get("retry-after")
    if not value:
        return None
    seconds = _number(value)
    if seconds is not None:
        return seconds if seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" parses naive; HTTP dates are always UTC, not local time
        when = when.replace(tzinfo=datetime.UTC)
    return when.timestamp() - time.time()


def _depth(value: Any) -> int:
    """How deeply ``value`` nests lists and dicts, counted without recursion."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        children = item.values() if isinstance(item, dict) else item
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                break
            todo.extend((child, depth + 1) for child in children)
    return deepest


def loads(text: str | bytes) -> Any:
    """``text`` decoded as JSON, at most `MAX_DEPTH` deep.

    Raises:
        ValueError: Not JSON, or nested deeper than `MAX_DEPTH` (where ``json.loads`` would
            otherwise raise a bare RecursionError, or later code overflow the stack).
    """
    try:
        value = json.loads(text)
    except RecursionError:
        value = None
    else:
        if _depth(value) <= MAX_DEPTH:
            return value
    raise ValueError(f"JSON nested more than {MAX_DEPTH} levels deep")


def error_details(response: httpx.Response, secret: Secret) -> dict[str, Any]:
    r"""Pull message/type/code/param out of an error body, in the shapes servers use.

    Every string is masked twice: in the raw text, and after decoding (a server may spell
    ``/`` as ``\/`` or any character as ``\uXXXX``).
    """
    text = redact(response.text, secret)  # some servers echo the key they rejected
    try:
        body: Any = redact_json(loads(text), secret)
    except ValueError:
        body = text
    # Google's OpenAI-compatible endpoint (Gemini) sends a list of one error.
    payload = body[0] if isinstance(body, list) and len(body) == 1 else body
    message = type_ = code = param = None
    if isinstance(payload, dict):
        error = payload.get("error", payload)
        if isinstance(error, dict):
            message = error.get("message") or error.get("detail")
            status = error.get("status")  # Google's kind of error, e.g. "INVALID_ARGUMENT"
            type_ = error.get("type") or (status if isinstance(status, str) else None)
            code, param = error.get("code"), error.get("param")
        elif error is not None:
            message = error
    if message is None:
        message = _STATUS_HINTS.get(response.status_code) or text[:200] or response.reason_phrase
    return {
        "message": message if isinstance(message, str) else json.dumps(message)[:500],
        "body": body,
        "type": None if type_ is None else str(type_),
        "code": None if code is None else str(code),
        "param": None if param is None else str(param),
        "request_id": response.headers.get("x-request-id"),
    }


def in_common_words(error: APIStatusError) -> APIStatusError:
    """``error`` with Google's wording of an unknown parameter put the way other servers say it."""
    message = _GOOGLE_UNKNOWN_NAME.sub(r"unknown field: \1", error.message)
    if message == error.message:
        return error
    return APIStatusError(
        message,
        status_code=error.status_code,
        body=error.body,
        type=error.type,
        code=error.code,
        param=error.param,
    )


def unsupported_error(error: APIStatusError, name: str) -> UnsupportedParameterError:
    response = error.response
    new = UnsupportedParameterError(
        error.message,
        status_code=error.status_code,
        body=error.body,
        type=error.type,
        code=error.code,
        param=error.param,
        request_id=error.request_id,
        response=response,
    )
    new.parameter = name
    return new


def kept_error(error: APIStatusError, named: str) -> BadRequestError:
    """The error for a rejected parameter the fallback must not drop: it names the parameter."""
    return BadRequestError(
        f"{error.message} [{named!r} is part of what the request asks for, so agentkit does "
        "not leave it out on its own; change the request, or use a model that supports it]",
        status_code=error.status_code,
        body=error.body,
        type=error.type,
        code=error.code,
        param=named,
        request_id=error.request_id,
        response=error.response,
    )


def status_error(response: httpx.Response, secrets: Secret) -> APIStatusError:
    """The typed error for an error status, its body read, every secret masked."""
    status = response.status_code
    details = error_details(response, secrets)
    wait = retry_after(response.headers)
    cls = _STATUS_ERRORS.get(status) or (InternalServerError if status >= 500 else APIStatusError)
    return cls(
        details.pop("message"),
        status_code=status,
        response=response,
        retry_after=None if wait is None else max(wait, 0.0),  # a date already past: 0
        **details,
    )


def transport_error(
    method: str,
    url: httpx.URL,
    request: httpx.Request,
    exc: httpx.TransportError,
    secrets: Secret,
) -> APIConnectionError:
    """The error for a failed exchange, with no header value in it or in its causes."""
    kind = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
    what = "timed out" if kind is APITimeoutError else "failed"
    error = kind(redact(f"{method} {url} {what}: {exc!r}", secrets), request=request)
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and len(chain) < _CHAIN:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__
    text = " ".join(f"{c!r} {c}" for c in chain)
    # h11 and httpx quote the header value they could not send: keep such a cause out.
    error.__cause__ = exc if redact(text, secrets) == text else None
    error.__suppress_context__ = True
    return error
