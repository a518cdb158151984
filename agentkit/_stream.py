"""Reading answers: a whole JSON completion, or a ChatStream of SSE chunks with its failure policy.

A stream that breaks before any chunk arrived is reopened (the caller's retry budget); once
chunks have been yielded it is never silently restarted: `StreamInterruptedError` carries the
partial completion. An end without ``[DONE]`` and without a ``finish_reason`` is such a break;
after a ``finish_reason`` the answer is whole, so an end or a drop then just ends the stream.
An error inside the stream (an error event, a malformed or oversized event) is raised only after
every chunk that arrived before it was yielded, so what the caller sees never depends on where
the network split the bytes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from types import TracebackType
from typing import Any, NoReturn

import anyio
import httpx
from pydantic import ValidationError

from agentkit._accumulate import StreamAccumulator, plain_chunk
from agentkit._http_errors import loads
from agentkit._redact import Secret, redact, redact_json
from agentkit._sse import DEFAULT_MAX_EVENT_BYTES, ServerSentEvent, SSEParser
from agentkit.errors import (
    APIConnectionError,
    APIError,
    APIResponseError,
    APIStreamError,
    APITimeoutError,
    StreamInterruptedError,
)
from agentkit.types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChoiceDelta,
    ChunkChoice,
    DeltaFunctionCall,
    DeltaToolCall,
    _reasoning_of,
)

__all__ = ["ChatStream", "parse_completion", "redact", "undecodable"]

_DRAIN_SECONDS = 1.0  # how long to wait for a body to end after [DONE]
Send = Callable[[int], Awaitable[tuple[httpx.Response, int]]]
"""Opens the request, retrying from retry number n; returns a 2xx response and the retry count."""
Wait = Callable[[int, Exception, httpx.Response | None], Awaitable[None]]
"""Sleeps before retry number n + 1 (backoff, logged)."""


def undecodable(
    exc: httpx.DecodingError, request: httpx.Request | None, secret: Secret
) -> APIResponseError:
    """The error for a body httpx could not decode: its Content-Encoding does not match it."""
    return APIResponseError(
        redact(
            f"the server's answer could not be decoded ({exc}); its Content-Encoding does "
            "not match its body",
            secret,
        ),
        request=request,
    )


def parse_completion(response: httpx.Response, secret: Secret = None) -> ChatCompletion:
    """The completion in a read 2xx response.

    Args:
        response: A response whose body has been read.
        secret: The API key, masked in the error.

    Returns:
        The parsed completion (it has at least one choice).

    Raises:
        APIResponseError: The body is not JSON, not a chat completion, or an error object.
    """
    content = response.content
    try:
        completion = ChatCompletion.model_validate_json(content)
    except ValidationError:
        completion = None
    if completion is None or not completion.choices:
        start = redact(content.decode("utf-8", "replace"), secret)[:200]
        extra = completion.model_extra if completion is not None else None
        error = extra.get("error") if extra else None
        what = f"an error: {error}" if error else "a body that is not a chat completion"
        raise APIResponseError(
            redact(f"the server answered {response.status_code} with {what}: {start!r}", secret),
            body_start=start,
            request=response.request,
        )
    return completion


def _as_chunk(completion: ChatCompletion) -> ChatCompletionChunk:
    """A whole completion as the single chunk a stream of it would add up to."""
    choices = []
    for choice in completion.choices:
        message = choice.message
        calls = [
            DeltaToolCall(
                index=i,
                id=call.id,
                type=call.type,
                function=DeltaFunctionCall(
                    name=call.function.name, arguments=call.function.arguments
                ),
            )
            for i, call in enumerate(message.tool_calls or ())
        ]
        delta = ChoiceDelta(
            role=message.role,
            content=message.content,
            reasoning_content=message.reasoning_content,
            reasoning=message.reasoning,
            refusal=message.refusal,
            tool_calls=calls or None,
            **(message.model_extra or {}),
        )
        choices.append(
            ChunkChoice(
                index=choice.index,
                delta=delta,
                finish_reason=choice.finish_reason,
                logprobs=choice.logprobs,
            )
        )
    return ChatCompletionChunk(
        id=completion.id,
        created=completion.created,
        model=completion.model,
        choices=choices,
        usage=completion.usage,
        system_fingerprint=completion.system_fingerprint,
        service_tier=completion.service_tier,
    )


class ChatStream:
    """A streamed completion: an async iterator of chunks and an async context manager.

    Nothing is sent until the first chunk is asked for. If the connection fails before any
    chunk arrived the request is retried; after that, the failure raises
    `StreamInterruptedError` carrying the partial completion.

    Example:
        ```python
        async with client.stream(model=m, messages=msgs) as stream:
            async for chunk in stream:
                print(chunk.choices[0].delta.content or "", end="")
            completion = await stream.get_final_completion()
        ```
    """

    def __init__(
        self,
        send: Send,
        wait: Wait,
        max_retries: int,
        *,
        secret: Secret = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        """Prepare a stream; nothing is sent until the first chunk is asked for.

        Args:
            send: Opens the request (``ChatClient`` binds the body, headers and timeout).
            wait: Sleeps before a retry.
            max_retries: Retries allowed in all, including reopening a stream that broke early.
            secret: The API key, masked in every error message.
            max_event_bytes: The most bytes one SSE line or event may hold.
        """
        self._send = send
        self._wait = wait
        self._max_retries = max_retries
        self._secret = secret
        self._max_event_bytes = max_event_bytes
        self._request: httpx.Request | None = None
        self._response: httpx.Response | None = None
        self._bytes: AsyncIterator[bytes] | None = None  # the response's body
        self._parser = SSEParser(max_event_bytes)
        self._accumulator = StreamAccumulator()
        # Typed chunks; or, once `text_deltas` is reading, (reasoning, text) pairs.
        self._pending: deque[Any] = deque()
        self._lean = False
        self._received = 0
        self._attempt = 0
        self._ended = False
        self._final: ChatCompletion | None = None  # set when the server answered with JSON
        self._error: APIError | None = None  # raised once the chunks before it are yielded

    def __aiter__(self) -> ChatStream:
        return self

    def text_deltas(self) -> AsyncIterator[tuple[str | None, str | None]]:
        """Read the stream as ``(reasoning, text)`` pieces of its first choice, not as chunks.

        What `Agent.stream` reads: the same stream and the same final completion, without
        building a typed chunk for each plain event (a chunk of only the standard fields,
        merged as data; any other goes through `ChatCompletionChunk` as always). Use it
        instead of iterating the stream, from the start; pieces without text are skipped.

        Returns:
            An async iterator of ``(reasoning, text)``: either may be None, not both.

        Raises:
            RuntimeError: Chunks were already read from the stream.
        """
        if self._received or self._pending:
            raise RuntimeError("text_deltas() reads a stream from its start")
        self._lean = True
        return _TextDeltas(self)

    async def __anext__(self) -> ChatCompletionChunk:
        if self._lean:
            raise RuntimeError("this stream is read with text_deltas(), not as chunks")
        chunk: ChatCompletionChunk = await self._next()
        return chunk

    async def _next(self) -> Any:
        """The next queued item (a chunk, or a text pair when lean), reading as needed."""
        pending = self._pending
        while not pending:
            error, self._error = self._error, None
            if error is not None:
                raise error
            if self._ended:
                raise StopAsyncIteration
            await self._read()
        return pending.popleft()

    async def __aenter__(self) -> ChatStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop reading and release the connection; safe to call more than once."""
        self._ended = True
        await self._close_response()

    async def get_final_completion(self) -> ChatCompletion:
        """Read the rest of the stream and return the assembled completion.

        Returns:
            The completion, equal to what ``complete()`` returns for the same answer.

        Raises:
            StreamInterruptedError: The stream broke or ended before a ``finish_reason``.
            APIStreamError: The server sent an error event.
        """
        async for _ in _TextDeltas(self) if self._lean else self:
            pass
        if self._final is not None:
            return self._final
        if not (self._parser.done or self._accumulator.finished):
            raise StreamInterruptedError(
                "the stream was closed before it finished",
                partial=self._accumulator.completion(),
                request=self._request,
            )
        return self._accumulator.completion()

    async def _close_response(self) -> None:
        chunks, self._bytes = self._bytes, None
        if isinstance(chunks, AsyncGenerator):
            # Close the generator explicitly: trio warns about async generators left to GC.
            await chunks.aclose()
        response, self._response = self._response, None
        if response is not None:
            await response.aclose()

    async def _read(self) -> None:
        if self._response is None:
            self._response, self._attempt = await self._send(self._attempt)
            self._request = self._response.request
            if self._response.headers.get("content-type", "").startswith("application/json"):
                await self._whole_answer(self._response)
                return
            response = self._response
            # An unencoded body still on the wire is read raw: aiter_bytes would pass each
            # read through an identity decoder and a re-chunker for nothing (a few us per
            # read, ~10 reads a request). An encoded one (gzip, br...), or one already read
            # (a response hook, bytes content), goes through aiter_bytes as always.
            coding = response.headers.get("content-encoding", "").strip().lower()
            raw = coding in ("", "identity") and not response.is_stream_consumed
            self._bytes = response.aiter_raw() if raw else response.aiter_bytes()
        parser = self._parser
        assert self._bytes is not None
        try:
            data = await self._bytes.__anext__()
        except StopAsyncIteration:
            await self._handle_or_close(parser.flush(), at_eof=True)
            if self._error is not None:
                return
            if parser.done or self._accumulator.finished:
                await self.aclose()
            else:
                await self._broken("the stream ended before [DONE] and before any finish_reason")
            return
        except httpx.TransportError as exc:
            if self._accumulator.finished:  # the answer is whole: only its goodbye was lost
                await self.aclose()
            else:
                await self._broken(f"the stream broke: {exc!r}", exc)
            return
        except httpx.DecodingError as exc:
            await self._undecodable(exc)
        await self._handle_or_close(parser.feed(data))
        if parser.error is not None and self._error is None:
            self._error = parser.error
            await self._drain()
            await self.aclose()
        elif parser.done:
            await self._drain()
            await self.aclose()

    async def _whole_answer(self, response: httpx.Response) -> None:
        """Some servers ignore ``stream: true`` and answer with JSON: one chunk says it all."""
        try:
            await response.aread()
        except httpx.TransportError as exc:
            await self._broken(f"the answer broke: {exc!r}", exc)  # retried: nothing yielded
            return
        except httpx.DecodingError as exc:
            await self._undecodable(exc)
        await self.aclose()
        completion = parse_completion(response, self._secret)
        self._final = completion
        chunk = _as_chunk(completion)
        self._accumulator.add(chunk)
        self._queue(chunk)

    async def _drain(self) -> None:
        """Read the body's end after ``[DONE]``, so httpx's generators finish cleanly.

        Closing them early leaves inner async generators to the garbage collector, which trio
        reports as a ResourceWarning; servers end the body right after ``[DONE]`` anyway.
        """
        if self._bytes is None:
            return
        with anyio.move_on_after(_DRAIN_SECONDS):
            try:
                async for _ in self._bytes:
                    pass
            except httpx.TransportError:
                pass  # the answer is complete; a messy close does not matter

    async def _handle_or_close(
        self, events: list[ServerSentEvent], *, at_eof: bool = False
    ) -> None:
        error = self._handle(events, at_eof=at_eof)
        if error is not None:
            # An error event or a bad chunk ends the stream, once the chunks before it are
            # yielded. Servers end the body right after an error event, so drain it (see
            # _drain) before freeing the connection.
            self._error = error
            await self._drain()
            await self.aclose()

    def _handle(self, events: list[ServerSentEvent], *, at_eof: bool = False) -> APIError | None:
        """Queue the chunks of ``events``; returns the error that ends the stream, if any."""
        add = self._accumulator.add
        for event in events:
            if event.event == "error":
                return self._stream_error(event.data)
            if self._lean:
                data = plain_chunk(event.data)
                if data is not None:
                    self._accumulator.add_plain(data)
                    self._received += 1
                    choices = data.get("choices")
                    delta = choices[0].get("delta") if choices else None
                    if delta:
                        self._queue_text(
                            delta.get("reasoning_content"),
                            delta.get("reasoning"),
                            delta.get("content"),
                        )
                    continue
            try:
                chunk = ChatCompletionChunk.model_validate_json(event.data)
            except ValidationError:
                if at_eof:
                    return None  # a cut-off last line: the stream is incomplete, not malformed
                start = redact(event.data.decode("utf-8", "replace"), self._secret)[:200]
                return APIResponseError(
                    f"the stream sent an event that is not a chat completion chunk: {start!r}",
                    body_start=start,
                    request=self._request,
                )
            extra = chunk.__pydantic_extra__
            if extra and "error" in extra:
                return self._stream_error(event.data)
            add(chunk)
            self._queue(chunk)
        return None

    def _queue(self, chunk: ChatCompletionChunk) -> None:
        self._received += 1
        if not self._lean:
            self._pending.append(chunk)
        elif chunk.choices:
            delta = chunk.choices[0].delta
            self._queue_text(delta.reasoning_content, delta.reasoning, delta.content)

    def _queue_text(
        self, reasoning_content: str | None, reasoning: str | None, content: str | None
    ) -> None:
        """Queue a lean read's (reasoning, text) pair of the first choice, if it has text."""
        thought = _reasoning_of(reasoning_content, reasoning)
        if thought or content:
            self._pending.append((thought, content))

    def _stream_error(self, data: bytes) -> APIStreamError:
        text = redact(data.decode("utf-8", "replace"), self._secret)
        try:
            # Depth-bounded (json.loads alone hits RecursionError); masked again, decoded.
            body: Any = redact_json(loads(text), self._secret)
        except ValueError:
            body = text
        error = body.get("error", body) if isinstance(body, dict) else body
        if isinstance(error, dict):
            code = error.get("code")
            message = error.get("message")
            return APIStreamError(
                str(message if message else error)[:2000],
                body=error,
                type=error.get("type") if isinstance(error.get("type"), str) else None,
                code=None if code is None else str(code)[:200],
                request=self._request,
            )
        return APIStreamError(str(error)[:2000], body=error, request=self._request)

    async def _undecodable(self, exc: httpx.DecodingError) -> NoReturn:
        self._ended = True  # the same bytes would come back: never retried
        await self._close_response()
        raise undecodable(exc, self._request, self._secret) from exc

    async def _broken(self, message: str, cause: BaseException | None = None) -> None:
        message = redact(message, self._secret)  # it may quote httpx's error
        await self._close_response()
        if self._received:
            # Raised once the chunks still queued (a last event completed by the end of the
            # body) are yielded, like any error after data.
            self._ended = True
            interrupted = StreamInterruptedError(
                f"{message} after {self._received} chunk{'' if self._received == 1 else 's'}",
                partial=self._accumulator.completion(),
                request=self._request,
            )
            interrupted.__cause__ = cause
            self._error = interrupted
            return
        timed_out = isinstance(cause, httpx.TimeoutException)
        kind = APITimeoutError if timed_out else APIConnectionError
        error = kind(message, request=self._request)
        if self._attempt >= self._max_retries:
            self._ended = True
            raise error from cause
        await self._wait(self._attempt, error, None)
        self._attempt += 1
        self._parser = SSEParser(self._max_event_bytes)


class _TextDeltas:
    """`ChatStream.text_deltas`: an iterator, not an async generator (no closing to forget)."""

    __slots__ = ("_stream",)

    def __init__(self, stream: ChatStream) -> None:
        self._stream = stream

    def __aiter__(self) -> _TextDeltas:
        return self

    async def __anext__(self) -> tuple[str | None, str | None]:
        item: tuple[str | None, str | None] = await self._stream._next()
        return item
