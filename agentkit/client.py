"""ChatClient: talks to an OpenAI-compatible ``/v1/chat/completions`` server.

It owns everything about the wire: configuration from the environment, request checks, one
pooled ``httpx.AsyncClient``, retries with backoff, status codes mapped to `agentkit.errors`,
parameters a gateway rejects dropped and remembered, and streams assembled into completions.
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Unpack

import anyio
import httpx
from pydantic import ValidationError

from agentkit import _config
from agentkit._deadline import DeadlineStream, expired
from agentkit._fallback import drop_unsupported
from agentkit._http_errors import loads, retry_after, status_error, transport_error
from agentkit._params import build_body, serialise
from agentkit._pool import LoopPools, UserPool
from agentkit._redact import Secrets, redact
from agentkit._retry_listeners import notify_retry, on_retry
from agentkit._sse import DEFAULT_MAX_EVENT_BYTES
from agentkit._stream import ChatStream, parse_completion, undecodable
from agentkit.errors import (
    APIError,
    APIResponseError,
    APITimeoutError,
    EventLoopError,
    InvalidRequestError,
)
from agentkit.types import (
    ChatCompletion,
    MessageParam,
    Model,
    ModelSettings,
    ToolChoice,
    ToolDefinition,
)

__all__ = ["DEFAULT_BASE_URL", "OPENAI_BASE_URL", "ChatClient", "ChatStream", "on_retry"]

DEFAULT_BASE_URL = _config.DEFAULT_BASE_URL
"""The gateway used when no base URL is configured, unless the key is ``OPENAI_API_KEY``."""
OPENAI_BASE_URL = _config.OPENAI_BASE_URL
"""Where a key from ``OPENAI_API_KEY`` goes when ``OPENAI_BASE_URL`` is unset."""

_log = logging.getLogger("agentkit")

_MAX_BACKOFF = 8.0  # seconds; exponential backoff stops growing here
_RETRY_STATUSES = frozenset({408, 409, 429})


@dataclass(frozen=True, slots=True)
class _Call:
    """What one call sends with and is bounded by."""

    headers: Mapping[str, str]
    secrets: Secrets
    timeout: float | httpx.Timeout
    deadline: float | None  # on anyio.current_time()'s clock
    seconds: float | None  # the request_timeout the deadline came from


class ChatClient:
    """An async client for one OpenAI-compatible chat completions server.

    One client serves any number of concurrent calls, from any number of event loops and
    threads: a client that makes its own connection pool keeps one per event loop.

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
        request_timeout: float | None = None,
        max_retries: int = 2,
        max_retry_wait: float = 60.0,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        retry_backoff: float = 0.5,
        max_sse_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        """Configure the client; nothing is sent until the first request.

        Args:
            base_url: The API root. Without it, a key from the environment goes only to its
                own family's URL: ``AGENTKIT_API_KEY`` to ``AGENTKIT_BASE_URL``, else
                `DEFAULT_BASE_URL` (the gateway); ``OPENAI_API_KEY`` to ``OPENAI_BASE_URL``,
                else `OPENAI_BASE_URL` (OpenAI's API). With ``api_key`` given, or no key, it is
                ``AGENTKIT_BASE_URL``, then ``OPENAI_BASE_URL``, then the gateway. ``/v1`` is
                added when the path does not end in a version segment; a query is kept.
            api_key: Sent as ``Authorization: Bearer``. Defaults to ``AGENTKIT_API_KEY``, then
                ``OPENAI_API_KEY``; without one no Authorization header is sent. Surrounding
                whitespace is dropped.
            timeout: httpx's timeouts, per operation: seconds (or an ``httpx.Timeout``) to
                connect, to send, to wait for a free connection, and to wait for each read of
                the answer. A server that keeps sending (a trickle of bytes, SSE keep-alives)
                never trips it: bound the whole call with ``request_timeout``.
            request_timeout: Seconds one call may take in all, retries and their waits
                included, until the last byte of its answer (a stream's too); past it the
                call raises `APITimeoutError`. None (the default) sets no total bound.
            max_retries: Retries of a failed request before its error is raised.
            max_retry_wait: The longest wait a server's ``Retry-After`` is slept through.
                When it asks for longer, the call raises its error (a `RateLimitError` for a
                429) at once, with the asked-for wait in ``.retry_after``.
            default_headers: Headers added to every request. Their values are secrets to
                agentkit: never shown in an error or a log line.
            http_client: An ``httpx.AsyncClient`` to use; it is not closed by `aclose`. It
                serves one event loop at a time (see `EventLoopError`).
            retry_backoff: First retry delay in seconds; it doubles per retry up to 8 s, with
                jitter. A server's ``Retry-After`` takes precedence.
            max_sse_event_bytes: The most bytes one line, or one event's data, of a stream
                may hold; past it the stream ends with an `APIResponseError` (after the chunks
                that came before). Bounds the memory a misbehaving server can make a stream use.

        Raises:
            InvalidRequestError: The API key or a header holds a character an HTTP header
                cannot carry, the base URL does not start with http:// or https://, a time is
                negative (``request_timeout`` must be more than 0), or ``max_sse_event_bytes``
                is below 1.
        """
        if (request_timeout is not None and not request_timeout > 0) or not max_retry_wait >= 0:
            raise InvalidRequestError(
                "request_timeout must be a number of seconds > 0 (or None for no bound) and "
                f"max_retry_wait >= 0, got {request_timeout!r} and {max_retry_wait!r}"
            )
        env = os.environ
        # A key is only sent where it was meant for: each env key to its family's URL.
        source, url, key_source, key = _config.endpoint(base_url, api_key, env)
        base = _config.base_url(source, url)
        self.base_url = str(base)
        self._api_key = _config.api_key(key_source, key)
        self.max_retries = max_retries
        self._max_retry_wait = max_retry_wait
        self._backoff = retry_backoff
        if max_sse_event_bytes < 1:
            raise InvalidRequestError(
                f"max_sse_event_bytes must be at least 1, not {max_sse_event_bytes}"
            )
        self._max_sse_event_bytes = max_sse_event_bytes
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._request_timeout = request_timeout
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        given = _config.headers(default_headers or {})
        headers.update(given)
        # Normalised once: httpx re-normalises a plain dict's names and values on every send.
        self._headers = httpx.Headers(headers)
        self._stream_headers = httpx.Headers(headers)
        self._stream_headers["Accept"] = "text/event-stream"
        self._secrets = Secrets([self._api_key, *given.values()])
        self._pool: LoopPools | UserPool = (
            UserPool(http_client) if http_client is not None else LoopPools.own(self._timeout)
        )
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
        """Close this event loop's connection pool, unless it was passed in as ``http_client``.

        Pools of other event loops are left to them (each closes when its loop ends), and the
        client stays usable: a later call opens a new pool.
        """
        if isinstance(self._pool, LoopPools):
            await self._pool.aclose()

    async def complete(
        self,
        *,
        model: str,
        messages: Sequence[MessageParam | Mapping[str, Any]],
        tools: Sequence[ToolDefinition] | None = None,
        tool_choice: ToolChoice | None = None,
        extra_headers: Mapping[str, str] | None = None,
        # httpx's per-operation timeouts and a total bound, not cancel scopes of the caller.
        timeout: float | httpx.Timeout | None = None,  # noqa: ASYNC109
        request_timeout: float | None = None,
        **settings: Unpack[ModelSettings],
    ) -> ChatCompletion:
        """Ask for one chat completion.

        Args:
            model: The model id, e.g. ``"gpt-5.4"``.
            messages: The conversation so far.
            tools: Tools the model may call.
            tool_choice: ``"auto"``, ``"none"``, ``"required"``, a function to force, or a
                value of the server's own (Mistral's ``"any"``).
            extra_headers: Headers for this request only (secrets, like ``default_headers``).
            timeout: Overrides the client's per-operation ``timeout`` for this request.
            request_timeout: Overrides the client's total ``request_timeout`` for this call.
            **settings: Any `ModelSettings` key (temperature, max_tokens, extra_body, ...).

        Returns:
            The server's completion.

        Raises:
            InvalidRequestError: A parameter or message is malformed (nothing was sent).
            APIStatusError: The server answered with an error status (a subclass per status).
            APIConnectionError: The server could not be reached after every retry.
            APITimeoutError: A timeout, or ``request_timeout``, passed.
            APIResponseError: The server's answer is not a chat completion.
            EventLoopError: The ``http_client`` given belongs to another event loop.
        """
        dropped = self._unsupported.get(model, ())  # rejected before for this model
        body = build_body(model, messages, tools, tool_choice, settings, stream=False, omit=dropped)
        call = self._call(self._headers, extra_headers, timeout, request_timeout)
        response, _ = await self._send("POST", self._completions_url, body, call)
        return parse_completion(response, call.secrets)

    def stream(
        self,
        *,
        model: str,
        messages: Sequence[MessageParam | Mapping[str, Any]],
        tools: Sequence[ToolDefinition] | None = None,
        tool_choice: ToolChoice | None = None,
        extra_headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        request_timeout: float | None = None,
        **settings: Unpack[ModelSettings],
    ) -> ChatStream:
        """Ask for a streamed chat completion; iterate the result or call its final completion.

        The request is checked now and sent on first use. ``stream_options.include_usage`` is
        set so the last chunk carries usage.

        Args:
            model: The model id.
            messages: The conversation so far.
            tools: Tools the model may call.
            tool_choice: As for `complete`.
            extra_headers: Headers for this request only.
            timeout: Overrides the client's per-operation ``timeout`` (each read waits at most
                this long).
            request_timeout: Overrides the client's ``request_timeout``: the most seconds from
                the first use to the stream's last byte.
            **settings: Any `ModelSettings` key.

        Returns:
            A `ChatStream`: ``async with client.stream(...) as s: async for chunk in s: ...``.

        Raises:
            InvalidRequestError: A parameter or message is malformed.
        """
        dropped = self._unsupported.get(model, ())  # rejected before for this model
        body = build_body(model, messages, tools, tool_choice, settings, stream=True, omit=dropped)
        call = self._call(self._stream_headers, extra_headers, timeout, request_timeout)
        url = self._completions_url
        started: list[_Call] = []  # the deadline runs from the first use, not from now

        async def send(attempt: int) -> tuple[httpx.Response, int]:
            if not started:
                started.append(self._started(call))
            return await self._send("POST", url, body, started[0], stream=True, attempt=attempt)

        async def wait(attempt: int, error: Exception, response: httpx.Response | None) -> None:
            await self._wait(attempt, error, response, started[0] if started else call)

        return ChatStream(
            send,
            wait,
            self.max_retries,
            secret=call.secrets,
            max_event_bytes=self._max_sse_event_bytes,
        )

    async def list_models(self) -> list[Model]:
        """The models the server offers (``GET /models``).

        Returns:
            One `Model` per entry of the server's list.

        Raises:
            APIError: As for `complete`; `APIResponseError` when the body is not a model list
                (not JSON, the wrong shape, or nested absurdly deep).
        """
        call = self._call(self._headers, None, None, None)
        response, _ = await self._send("GET", self._models_url, None, call)
        try:
            data = loads(response.content)
            entries = data["data"] if isinstance(data, dict) else data
            return [Model.model_validate(entry) for entry in entries]
        except (ValueError, TypeError, KeyError, ValidationError):
            start = redact(response.content.decode("utf-8", "replace"), call.secrets)[:200]
            raise APIResponseError(
                f"GET /models answered with a body that is not a model list: {start!r}",
                body_start=start,
                request=response.request,
            ) from None

    # --- the wire ---------------------------------------------------------------------------

    def _call(
        self,
        headers: httpx.Headers,
        extra: Mapping[str, str] | None,
        timeout: float | httpx.Timeout | None,
        request_timeout: float | None,
    ) -> _Call:
        """One call's headers (extra ones checked, their values secret) and bounds."""
        secrets = self._secrets
        if extra:
            extra = _config.headers(extra, "extra_headers")
            headers = httpx.Headers(headers)
            headers.update(extra)  # a name given again in any case replaces the default
            secrets = secrets.with_values(extra.values())
        seconds = self._request_timeout if request_timeout is None else request_timeout
        return self._started(
            _Call(headers, secrets, self._timeout if timeout is None else timeout, None, seconds)
        )

    @staticmethod
    def _started(call: _Call) -> _Call:
        """``call`` with its deadline counted from now (outside a loop: from first use)."""
        if call.seconds is None:
            return call
        try:
            now = anyio.current_time()
        except anyio.NoEventLoopError:
            return call
        return _Call(call.headers, call.secrets, call.timeout, now + call.seconds, call.seconds)

    async def _send(
        self,
        method: str,
        url: httpx.URL,
        body: dict[str, Any] | None,
        call: _Call,
        *,
        stream: bool = False,
        attempt: int = 0,
    ) -> tuple[httpx.Response, int]:
        """Send with retries from retry number ``attempt``, within ``call``'s deadline.

        Returns:
            A 2xx response (unread when ``stream``, its reads bound by the deadline) and the
            number of retries used so far.
        """
        if call.deadline is None:  # no total bound: no cancel scope to pay for
            return await self._attempts(method, url, body, call, stream, attempt)
        with anyio.CancelScope(deadline=call.deadline) as scope:
            response, attempt = await self._attempts(method, url, body, call, stream, attempt)
            if stream and call.deadline is not None and call.seconds is not None:
                assert isinstance(response.stream, httpx.AsyncByteStream)  # an AsyncClient's
                response.stream = DeadlineStream(response.stream, call.deadline, call.seconds)
            return response, attempt
        assert call.seconds is not None and scope.cancelled_caught  # only the deadline cancels
        raise APITimeoutError(f"{method} {url} failed: {expired(call.seconds)}")

    async def _attempts(
        self,
        method: str,
        url: httpx.URL,
        body: dict[str, Any] | None,
        call: _Call,
        stream: bool,
        attempt: int,
    ) -> tuple[httpx.Response, int]:
        content = None if body is None else serialise(body)
        http = await self._pool.get() if isinstance(self._pool, LoopPools) else self._pool.get()
        while True:
            request = http.build_request(
                method, url, content=content, headers=call.headers, timeout=call.timeout
            )
            response: httpx.Response | None = None
            error: APIError | EventLoopError | None = None
            fatal = False
            try:
                response = await http.send(request, stream=stream)
                if stream and not response.is_success:
                    try:  # the error body, for the message: it can break like any body
                        await response.aread()
                    finally:
                        await response.aclose()
            except httpx.DecodingError as exc:  # the same answer would come back: not retried
                raise undecodable(exc, request, call.secrets) from exc
            except httpx.TransportError as exc:
                error = transport_error(method, url, request, exc, call.secrets)
                # Our own request is malformed (a URL or header httpx cannot send): sending it
                # again cannot help.
                fatal = isinstance(exc, httpx.LocalProtocolError | httpx.UnsupportedProtocol)
            except RuntimeError as exc:
                if not (isinstance(self._pool, UserPool) and "loop" in str(exc)):
                    raise
                error, fatal = self._pool.wrong_loop(f" ({exc})"), True
            if fatal and error is not None:
                raise error  # outside the except clause: no implicit __context__ either
            if response is not None and error is None:
                if response.is_success:
                    return response, attempt
                error = status_error(response, call.secrets)
                if body is not None and response.status_code in (400, 422):
                    dropped = self._unsupported.setdefault(body["model"], set())
                    if drop_unsupported(error, body, dropped, self.base_url):
                        content = serialise(body)
                        continue
                status = response.status_code
                if status < 500 and status not in _RETRY_STATUSES:
                    raise error
            assert error is not None
            if attempt >= self.max_retries:
                raise error
            await self._wait(attempt, error, response, call)
            attempt += 1

    async def _wait(
        self, attempt: int, error: Exception, response: httpx.Response | None, call: _Call
    ) -> None:
        """Sleep before retry number ``attempt + 1``, as the server asks or with backoff.

        Raises:
            Exception: ``error`` itself, at once, when the server asks for a wait longer than
                ``max_retry_wait`` (it is on the error as ``retry_after``), or when the wait
                would outlast the call's ``request_timeout``.
        """
        asked = retry_after(response.headers) if response is not None else None
        if asked is not None and asked > self._max_retry_wait:
            _log.info(
                "no retry: the server asks to wait %.3f s, more than max_retry_wait=%g s",
                asked,
                self._max_retry_wait,
            )
            raise error
        delay = asked
        if delay is None:
            delay = min(self._backoff * 2**attempt, _MAX_BACKOFF) * (1 - 0.25 * random.random())
        delay = max(delay, 0.0)
        if call.deadline is not None and anyio.current_time() + delay > call.deadline:
            raise error  # the retry could not finish in time: the failure is the answer
        notify_retry(attempt + 1, delay, error)
        _log.info(
            "retrying in %.3f s (retry %d of %d) after: %s",
            delay,
            attempt + 1,
            self.max_retries,
            error,
        )
        await anyio.sleep(delay)
