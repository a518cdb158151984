"""Exceptions raised by agentkit.

* AgentKitError (.messages: the conversation so far when raised inside a run; .run_id)
  x InvalidRequestError (also ValueError): bad input caught before anything is sent
  x ToolDefinitionError (also TypeError): a function that cannot become a tool
  x EventLoopError (also RuntimeError): a given http_client used from a loop it cannot serve
  x APIError: talking to the server failed
    + APIConnectionError -> APITimeoutError
    + APIStatusError (.status_code .message .type .code .param .request_id .body .retry_after)
      -> BadRequestError 400 -> UnsupportedParameterError (.parameter)
      -> AuthenticationError 401, PermissionDeniedError 403, NotFoundError 404,
         ConflictError 409, UnprocessableEntityError 422, RateLimitError 429,
         InternalServerError 5xx
    + APIResponseError (.body_start): a body that is not JSON or not a chat completion
    + APIStreamError: an `error` object sent inside an SSE stream
    + StreamInterruptedError (.partial): a stream that broke after data was yielded
  x AgentRunError (.messages .usage): a run stopped without a final answer
    + MaxStepsExceeded (.max_steps)
    + UsageLimitExceeded (.limit)
    + OutputValidationError (.errors)
    + RunTimeoutError (.timeout; also TimeoutError): the run's own deadline passed
  x RunClaimedError: another run holds this checkpointed run id
  x ModelRetry: raised by a tool to send a message back to the model
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

    from agentkit.types import ChatCompletion

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIResponseError",
    "APIStatusError",
    "APIStreamError",
    "APITimeoutError",
    "AgentKitError",
    "AgentRunError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "EventLoopError",
    "InternalServerError",
    "InvalidRequestError",
    "MaxStepsExceeded",
    "ModelRetry",
    "NotFoundError",
    "OutputValidationError",
    "PermissionDeniedError",
    "RateLimitError",
    "RunClaimedError",
    "RunTimeoutError",
    "StreamInterruptedError",
    "ToolDefinitionError",
    "UnprocessableEntityError",
    "UnsupportedParameterError",
    "UsageLimitExceeded",
]


class AgentKitError(Exception):
    """Base class of every exception agentkit raises on purpose.

    When the error escapes an agent run, ``messages`` holds every message exchanged so far
    (JSON-serialisable dicts), so nothing is lost: save them or pass them back as ``history=``.
    """

    messages: list[dict[str, Any]]
    """The conversation up to the failure (empty when raised outside a run)."""
    usage: Any
    """The run's `RunUsage` up to the failure (None when raised outside a run)."""
    run_id: str | None
    """The checkpoint key of the run it stopped, when that run had a ``checkpoint=`` store:
    its state is kept under this id, so ``agent.run(checkpoint=store, run_id=exc.run_id)``
    resumes it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.messages = []
        self.usage = None
        self.run_id = None

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take other constructor arguments than the message, so pickle (which
        # durable engines use to store a failed run's error for another process) rebuilds the
        # error from its class, message and attributes instead of calling the constructor.
        # The httpx request and response stay behind: their headers hold the API key.
        state = {
            name: None if name in ("request", "response") else value
            for name, value in self.__dict__.items()
        }
        return (_rebuild, (type(self), super().__str__()), state)


class InvalidRequestError(AgentKitError, ValueError):
    """A request parameter or message is malformed; raised before anything is sent."""


class ToolDefinitionError(AgentKitError, TypeError):
    """A function, parameter or type that cannot be turned into a tool schema."""


class EventLoopError(AgentKitError, RuntimeError):
    """An ``http_client`` passed to `ChatClient` was used from an event loop it cannot serve.

    An ``httpx.AsyncClient``'s connections belong to the loop that opened them. Give each loop
    its own, or let `ChatClient` make its own pool (it keeps one per event loop).
    """


class APIError(AgentKitError):
    """Talking to the chat completions server failed."""

    request: httpx.Request | None
    """The request that failed, when there was one."""

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.request = request


class APIConnectionError(APIError):
    """The server could not be reached, or the connection dropped."""


class APITimeoutError(APIConnectionError):
    """The request did not complete within the configured timeout."""


class APIStatusError(APIError):
    """The server answered with an error status (4xx or 5xx)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        request_id: str | None = None,
        response: httpx.Response | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, request=response.request if response is not None else None)
        self.status_code = status_code
        """HTTP status code of the response."""
        self.message = message
        """The server's own error message (or a summary of the body)."""
        self.body = body
        """The decoded JSON body (or text) of the error response."""
        self.type = type
        """The `error.type` the server sent, if any."""
        self.code = code
        """The `error.code` the server sent, if any."""
        self.param = param
        """The `error.param` the server sent, if any."""
        self.request_id = request_id
        """The `x-request-id` header of the response, for support tickets."""
        self.response = response
        """The raw httpx response."""
        self.retry_after = retry_after
        """Seconds the server asked to wait before trying again (``Retry-After``), if any.

        Set when a wait longer than the client's ``max_retry_wait`` was not slept through:
        reschedule the call after this long.
        """

    def __str__(self) -> str:
        parts = [f"HTTP {self.status_code}: {self.message}"]
        if self.type or self.code:
            parts.append(f"(type={self.type!r}, code={self.code!r})")
        if self.request_id:
            parts.append(f"[request id {self.request_id}]")
        return " ".join(parts)


class BadRequestError(APIStatusError):
    """400: the server rejected the request as malformed."""


class UnsupportedParameterError(BadRequestError):
    """400 naming a request parameter the server does not support."""

    parameter: str | None = None
    """The parameter the server named (e.g. ``"stream_options"``)."""


class AuthenticationError(APIStatusError):
    """401: the API key is missing or wrong."""


class PermissionDeniedError(APIStatusError):
    """403: the key is valid but not allowed to do this."""


class NotFoundError(APIStatusError):
    """404: unknown model or endpoint (check ``base_url`` and ``model``)."""


class ConflictError(APIStatusError):
    """409: a conflicting request is in progress; retried automatically."""


class UnprocessableEntityError(APIStatusError):
    """422: the request was well-formed but semantically invalid."""


class RateLimitError(APIStatusError):
    """429: too many requests or tokens; retried automatically with backoff."""


class InternalServerError(APIStatusError):
    """5xx: the server failed; retried automatically with backoff."""


class APIResponseError(APIError):
    """The server answered 2xx with a body that is not a valid chat completion."""

    def __init__(
        self, message: str, *, body_start: str = "", request: httpx.Request | None = None
    ) -> None:
        super().__init__(message, request=request)
        self.body_start = body_start
        """The first characters of the offending body."""


class APIStreamError(APIError):
    """The server sent an ``error`` object inside an SSE stream."""

    def __init__(
        self,
        message: str,
        *,
        body: Any = None,
        type: str | None = None,
        code: str | None = None,
        request: httpx.Request | None = None,
    ) -> None:
        super().__init__(message, request=request)
        self.body = body
        """The error object as sent."""
        self.type = type
        """The error's ``type``, if any."""
        self.code = code
        """The error's ``code``, if any."""


class StreamInterruptedError(APIError):
    """A stream broke (or ended early) after data had been yielded; it is not retried.

    ``partial`` holds what had arrived, assembled into a completion, so the caller can show it
    or decide to retry the whole step. It never looks like a complete answer: its choices have
    ``finish_reason`` None unless the server sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        partial: ChatCompletion | None = None,
        request: httpx.Request | None = None,
    ) -> None:
        super().__init__(message, request=request)
        self.partial = partial
        """The completion assembled from the chunks received before the break."""


class AgentRunError(AgentKitError):
    """An agent run stopped before a final answer; ``messages`` holds the run so far."""

    def __init__(
        self, message: str, *, messages: list[dict[str, Any]] | None = None, usage: Any = None
    ) -> None:
        super().__init__(message)
        self.messages = list(messages or [])
        self.usage = usage


class MaxStepsExceeded(AgentRunError):
    """The model made ``max_steps`` requests without giving a final answer."""

    def __init__(
        self, max_steps: int, *, messages: list[dict[str, Any]] | None = None, usage: Any = None
    ) -> None:
        super().__init__(
            f"no final answer after {max_steps} model request{'s' * (max_steps != 1)}; raise "
            "max_steps, or pass "
            "on_max_steps='final_answer' to ask for an answer without tools",
            messages=messages,
            usage=usage,
        )
        self.max_steps = max_steps
        """The limit that was reached."""


class UsageLimitExceeded(AgentRunError):
    """A usage limit (requests or tokens) was reached."""

    def __init__(
        self,
        message: str,
        *,
        limit: str,
        messages: list[dict[str, Any]] | None = None,
        usage: Any = None,
    ) -> None:
        super().__init__(message, messages=messages, usage=usage)
        self.limit = limit
        """Which limit was hit, e.g. ``"max_requests"`` or ``"max_total_tokens"``."""


class OutputValidationError(AgentRunError):
    """The final answer did not match ``output_type`` after every allowed retry."""

    def __init__(
        self,
        message: str,
        *,
        errors: str = "",
        messages: list[dict[str, Any]] | None = None,
        usage: Any = None,
    ) -> None:
        super().__init__(message, messages=messages, usage=usage)
        self.errors = errors
        """The last validation error, as sent back to the model."""


class RunTimeoutError(AgentRunError, TimeoutError):
    """The run's ``timeout`` passed before its final answer; its requests and tools were cancelled.

    Also a `TimeoutError`, so ``except TimeoutError`` catches it as it catches
    `anyio.fail_after`'s.
    """

    def __init__(
        self,
        timeout: float,
        *,
        messages: list[dict[str, Any]] | None = None,
        usage: Any = None,
    ) -> None:
        super().__init__(
            f"no final answer within the run's timeout of {timeout:g}s",
            messages=messages,
            usage=usage,
        )
        self.timeout = timeout
        """The limit, in seconds."""


class RunClaimedError(AgentKitError):
    """Another run (in this process or another) holds the claim on this checkpointed run id.

    Two runs of one ``run_id`` at once would both run its pending tool calls, so the second is
    refused before it loads anything; retry once the first has finished.
    """

    def __init__(self, run_id: str, *, holder: str = "") -> None:
        super().__init__(
            f"run {run_id!r} is already running (claimed{f' by {holder}' if holder else ''}); "
            "wait for it to finish, or resume it once its process has stopped"
        )
        self.run_id = run_id
        self.holder = holder
        """Who holds the claim, as the store describes it (e.g. ``"pid 123 on host-a"``)."""


class ModelRetry(AgentKitError):
    """Raise inside a tool to send ``message`` back to the model so it can try again."""


def _rebuild(cls: type[AgentKitError], message: str) -> AgentKitError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    return error
