"""ChatClient: talks to an OpenAI-compatible ``/v1/chat/completions`` server.

It owns everything about the wire: configuration from the environment, request checks, one
pooled ``httpx.AsyncClient``, retries with backoff, status codes mapped to `agentkit.errors`,
parameters a gateway rejects dropped and remembered, and streams assembled into completions.
"""

from __future__ import annotations

import json
import logging
import os
import random
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Unpack

import anyio
import httpx
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError, to_json

from agentkit import _config
from agentkit._fallback import DROPPABLE, drop, unsupported_parameter
from agentkit._http_errors import (
    error_details,
    in_common_words,
    kept_error,
    retry_after,
    unsupported_error,
)
from agentkit._params import build_body
from agentkit._stream import ChatStream, parse_completion, redact, undecodable
from agentkit.errors import (
    APIConnectionError,
    APIError,
    APIResponseError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from agentkit.types import (
    ChatCompletion,
    MessageParam,
    Model,
    ModelSettings,
    ToolChoice,
    ToolDefinition,
)

__all__ = ["DEFAULT_BASE_URL", "OPENAI_BASE_URL", "ChatClient", "ChatStream"]

DEFAULT_BASE_URL = "https://api.getinfinityblue.com/v1"
"""The gateway used when no base URL is configured, unless the key is ``OPENAI_API_KEY``."""
OPENAI_BASE_URL = "https://api.openai.com/v1"
"""Where a key from ``OPENAI_API_KEY`` goes when no base URL is configured."""

_log = logging.getLogger("agentkit")

# httpx keeps only 20 idle connections by default: with more concurrent runs than that, every
# response closes a connection and the next request opens one (measured: 1000 concurrent agent
# runs took 5-9x longer). These are the openai SDK's limits.
_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)

_MAX_BACKOFF = 8.0  # seconds; exponential backoff stops growing here
_MAX_RETRY_AFTER = 60.0  # seconds; a server asking for longer gets this much
_RETRY_STATUSES = frozenset({408, 409, 429})
_STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


class ChatClient:
    """An async client for one OpenAI-compatible chat completions server.

    Example:
        ```python
        async with ChatClient() as client:  # AGENTKIT_BASE_URL / AGENTKIT_API_KEY
            completion = await client.complete(model="gpt-5.4", messages=messages)
        ```
    """

    base_url: str
    """The server's API root, ending in the version (e.g. ``https://host/v1``)."""
    max_retries: int
    """Retries after the first attempt, for 408/409/429/5xx and connection errors."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float | httpx.Timeout = 60.0,
        max_retries: int = 2,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        retry_backoff: float = 0.5,
    ) -> None:
        """Configure the client; nothing is sent until the first request.

        Args:
            base_url: The API root. Defaults to ``AGENTKIT_BASE_URL``, then
                ``OPENAI_BASE_URL``, then `DEFAULT_BASE_URL` (the gateway), except that a key
                taken from ``OPENAI_API_KEY`` goes to `OPENAI_BASE_URL` (OpenAI's API), never
                to the gateway. ``/v1`` is added when the path does not end in a version
                segment; a query is kept.
            api_key: Sent as ``Authorization: Bearer``. Defaults to ``AGENTKIT_API_KEY``, then
                ``OPENAI_API_KEY``; without one no Authorization header is sent. Surrounding
                whitespace is dropped.
            timeout: Seconds (or an ``httpx.Timeout``) for each request; ``timeout=`` on a call
                overrides it.
            max_retries: Retries of a failed request before its error is raised.
            default_headers: Headers added to every request.
            http_client: An ``httpx.AsyncClient`` to share; it is not closed by `aclose`.
            retry_backoff: First retry delay in seconds; it doubles per retry up to 8 s, with
                jitter. A server's ``Retry-After`` takes precedence.

        Raises:
            InvalidRequestError: The API key holds a character an HTTP header cannot carry, or
                the base URL does not start with http:// or https://.
        """
        env = os.environ
        key_source, key = _config.setting("api_key", api_key, env)
        source, url = _config.setting("base_url", base_url, env)
        if url is None:
            # A key is only sent where it was meant for: OPENAI_API_KEY goes to OpenAI.
            url = OPENAI_BASE_URL if key_source == "OPENAI_API_KEY" else DEFAULT_BASE_URL
        base = _config.base_url(source, url)
        self.base_url = str(base)
        self._api_key = _config.api_key(key_source, key)
        self.max_retries = max_retries
        self._backoff = retry_backoff
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        headers.update(_config.headers(default_headers or {}))
        self._headers = headers
        self._stream_headers = {**headers, "Accept": "text/event-stream"}
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=self._timeout, limits=_LIMITS)
        # Endpoints extend the path: appending to the string would land after a query.
        self._completions_url = base.copy_with(path=base.path + "/chat/completions")
        self._models_url = base.copy_with(path=base.path + "/models")
        # Per model, the parameters the server rejected for it: one gateway serves models
        # that differ (a reasoning model rejects temperature, its neighbour needs it).
        self._unsupported: dict[str, set[str]] = {}

    def __repr__(self) -> str:
        return f"ChatClient(base_url={self.base_url!r}, max_retries={self.max_retries})"

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool, unless it was passed in as ``http_client``."""
        if self._owns_http:
            await self._http.aclose()

    async def complete(
        self,
        *,
        model: str,
        messages: Sequence[MessageParam | Mapping[str, Any]],
        tools: Sequence[ToolDefinition] | None = None,
        tool_choice: ToolChoice | None = None,
        extra_headers: Mapping[str, str] | None = None,
        # An HTTP timeout handed to httpx (connect/read/write/pool), not a cancel scope.
        timeout: float | httpx.Timeout | None = None,  # noqa: ASYNC109
        **settings: Unpack[ModelSettings],
    ) -> ChatCompletion:
        """Ask for one chat completion.

        Args:
            model: The model id, e.g. ``"gpt-5.4"``.
            messages: The conversation so far.
            tools: Tools the model may call.
            tool_choice: ``"auto"``, ``"none"``, ``"required"`` or a function to force.
            extra_headers: Headers for this request only.
            timeout: Overrides the client's timeout for this request.
            **settings: Any `ModelSettings` key (temperature, max_tokens, extra_body, ...).

        Returns:
            The server's completion.

        Raises:
            InvalidRequestError: A parameter or message is malformed (nothing was sent).
            APIStatusError: The server answered with an error status (a subclass per status).
            APIConnectionError: The server could not be reached after every retry.
            APIResponseError: The server's answer is not a chat completion.
        """
        dropped = self._unsupported.get(model, ())  # rejected before for this model
        body = build_body(model, messages, tools, tool_choice, settings, stream=False, omit=dropped)
        headers = {**self._headers, **extra_headers} if extra_headers else self._headers
        response, _ = await self._send("POST", self._completions_url, body, headers, timeout)
        return parse_completion(response, self._api_key)

    def stream(
        self,
        *,
        model: str,
        messages: Sequence[MessageParam | Mapping[str, Any]],
        tools: Sequence[ToolDefinition] | None = None,
        tool_choice: ToolChoice | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        **settings: Unpack[ModelSettings],
    ) -> ChatStream:
        """Ask for a streamed chat completion; iterate the result or call its final completion.

        The request is checked now and sent on first use. ``stream_options.include_usage`` is
        set so the last chunk carries usage.

        Args:
            model: The model id.
            messages: The conversation so far.
            tools: Tools the model may call.
            tool_choice: ``"auto"``, ``"none"``, ``"required"`` or a function to force.
            extra_headers: Headers for this request only.
            timeout: Overrides the client's timeout (each read waits at most this long).
            **settings: Any `ModelSettings` key.

        Returns:
            A `ChatStream`: ``async with client.stream(...) as s: async for chunk in s: ...``.

        Raises:
            InvalidRequestError: A parameter or message is malformed.
        """
        dropped = self._unsupported.get(model, ())  # rejected before for this model
        body = build_body(model, messages, tools, tool_choice, settings, stream=True, omit=dropped)
        headers = (
            {**self._stream_headers, **extra_headers} if extra_headers else self._stream_headers
        )
        url = self._completions_url

        async def send(attempt: int) -> tuple[httpx.Response, int]:
            return await self._send(
                "POST", url, body, headers, timeout, stream=True, attempt=attempt
            )

        return ChatStream(send, self._wait, self.max_retries, secret=self._api_key)

    async def list_models(self) -> list[Model]:
        """The models the server offers (``GET /models``).

        Returns:
            One `Model` per entry of the server's list.

        Raises:
            APIError: As for `complete`.
        """
        response, _ = await self._send("GET", self._models_url, None, self._headers, None)
        try:
            data = json.loads(response.content)
            entries = data["data"] if isinstance(data, dict) else data
            return [Model.model_validate(entry) for entry in entries]
        except (ValueError, TypeError, KeyError, ValidationError):
            start = redact(response.content.decode("utf-8", "replace"), self._api_key)[:200]
            raise APIResponseError(
                f"GET /models answered with a body that is not a model list: {start!r}",
                body_start=start,
                request=response.request,
            ) from None

    # --- the wire ---------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        url: httpx.URL,
        body: dict[str, Any] | None,
        headers: Mapping[str, str],
        timeout: float | httpx.Timeout | None,  # noqa: ASYNC109 (httpx's, per request)
        *,
        stream: bool = False,
        attempt: int = 0,
    ) -> tuple[httpx.Response, int]:
        """Send with retries from retry number ``attempt``.

        Returns:
            A 2xx response (unread when ``stream``) and the number of retries used so far.
        """
        content = None if body is None else self._serialise(body)
        while True:
            request = self._http.build_request(
                method,
                url,
                content=content,
                headers=headers,
                timeout=self._timeout if timeout is None else timeout,
            )
            response = None
            try:
                response = await self._http.send(request, stream=stream)
                if stream and not response.is_success:
                    try:  # the error body, for the message: it can break like any body
                        await response.aread()
                    finally:
                        await response.aclose()
            except httpx.TimeoutException as exc:
                message = redact(f"{method} {url} timed out: {exc!r}", self._api_key)
                error: APIError = APITimeoutError(message, request=request)
                error.__cause__ = exc
            except httpx.TransportError as exc:
                message = redact(f"{method} {url} failed: {exc!r}", self._api_key)
                error = APIConnectionError(message, request=request)
                if isinstance(exc, httpx.LocalProtocolError | httpx.UnsupportedProtocol):
                    # Our own request is malformed (a bad header, a URL httpx cannot send):
                    # sending it again cannot help.
                    raise error from exc
                error.__cause__ = exc
            except httpx.DecodingError as exc:  # the same answer would come back: not retried
                raise undecodable(exc, request, self._api_key) from exc
            else:
                if response.is_success:
                    return response, attempt
                error = self._status_error(response)
                if body is not None and response.status_code in (400, 422):
                    if self._drop_unsupported(error, body):
                        content = self._serialise(body)
                        continue
                status = response.status_code
                if status < 500 and status not in _RETRY_STATUSES:
                    raise error
            if attempt >= self.max_retries:
                raise error
            await self._wait(attempt, error, response)
            attempt += 1

    async def _wait(self, attempt: int, error: Exception, response: httpx.Response | None) -> None:
        """Sleep before retry number ``attempt + 1``, as the server asks or with backoff."""
        delay = retry_after(response.headers) if response is not None else None
        if delay is None:
            delay = min(self._backoff * 2**attempt, _MAX_BACKOFF) * (1 - 0.25 * random.random())
        delay = min(max(delay, 0.0), _MAX_RETRY_AFTER)
        _log.info(
            "retrying in %.3f s (retry %d of %d) after: %s",
            delay,
            attempt + 1,
            self.max_retries,
            error,
        )
        await anyio.sleep(delay)

    def _serialise(self, body: dict[str, Any]) -> bytes:
        try:
            # pydantic-core's encoder is ~3x faster than json.dumps; Mappings become objects.
            return to_json(body, fallback=_to_jsonable)
        except (PydanticSerializationError, TypeError, ValueError) as exc:
            raise InvalidRequestError(
                f"the request is not JSON-serialisable ({exc}); messages and tool results "
                "must be plain str/int/float/bool/None/list/dict values"
            ) from None

    def _status_error(self, response: httpx.Response) -> APIStatusError:
        status = response.status_code
        details = error_details(response, self._api_key)
        cls = _STATUS_ERRORS.get(status) or (
            InternalServerError if status >= 500 else APIStatusError
        )
        return cls(details.pop("message"), status_code=status, response=response, **details)

    def _drop_unsupported(self, error: APIStatusError, body: dict[str, Any]) -> bool:
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
        dropped = self._unsupported.setdefault(model, set())
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
                self.base_url,
                name,
                model,
            )
        return True


def _to_jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")
