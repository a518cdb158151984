"""Turns the bytes of a server-sent-events stream into events, stopping at ``data: [DONE]``.

The parser is pure, incremental and linear in its input: feed it whatever chunks the network
delivers (boundaries anywhere, even inside a CRLF) and it returns the events completed so far.
Each chunk is scanned once for a line end; an unfinished line grows in a buffer and is copied
out once, when it ends, so a huge line arriving in many reads costs what its bytes cost. A
line, and an event's data, are bounded (``max_event_bytes``): past the bound the parser stops
with an error, after handing over the events completed before it. ``data`` stays bytes so
pydantic can validate it without a decode.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentkit.errors import APIResponseError

__all__ = ["DEFAULT_MAX_EVENT_BYTES", "SSEParser", "ServerSentEvent"]

DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024
"""The default bound on one line and on one event's data: far above any real chunk."""

_DONE = b"[DONE]"
_BOM = b"\xef\xbb\xbf"  # UTF-8 byte order mark: the spec strips one at the start of a stream


@dataclass(slots=True)
class ServerSentEvent:
    """One dispatched event."""

    data: bytes
    """The ``data:`` lines, joined with ``\\n``."""
    event: str | None = None
    """The ``event:`` field (None means the default, ``message``)."""
    id: str | None = None
    """The last ``id:`` seen, as the spec's "last event id"."""
    retry: int | None = None
    """The ``retry:`` reconnection time in milliseconds, if this event set one."""


class SSEParser:
    """Incremental SSE parser: ``feed(bytes) -> events``; ``done`` once ``[DONE]`` arrives.

    Past ``max_event_bytes`` in one line or one event, ``feed`` returns the events completed
    before it and sets `error`; the parser then takes no more input (``done`` stays False).
    """

    __slots__ = (
        "_at_start",
        "_data",
        "_event",
        "_id",
        "_limit",
        "_pending",
        "_retry",
        "_size",
        "_skip_lf",
        "done",
        "error",
    )

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        """Start a stream.

        Args:
            max_event_bytes: The most bytes one line, or the data of one event, may hold.
        """
        self._limit = max_event_bytes
        self._at_start = True  # until the first bytes show whether the stream opens with a BOM
        # The start of the line not ended yet. It grows as a bytearray (amortized linear time
        # and, unlike a list of pieces, no more memory than its bytes however small the reads);
        # the tail of a read that ended a line is kept as the bytes it is.
        self._pending: bytes | bytearray = b""
        self._skip_lf = False  # the last chunk ended in CR; a leading LF belongs to it
        self._data: list[bytes] = []
        self._size = 0  # bytes of data in the event so far
        self._event: str | None = None
        self._id: str | None = None
        self._retry: int | None = None
        self.done = False
        """True once ``data: [DONE]`` was seen; later input is ignored."""
        self.error: APIResponseError | None = None
        """Set when a line or an event passed ``max_event_bytes``; later input is ignored."""

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Add bytes from the network.

        Args:
            chunk: The next bytes of the stream, split anywhere.

        Returns:
            The events completed by this chunk (never the ``[DONE]`` marker itself). When the
            chunk passes the size bound, the events completed before it, and `error` is set.
        """
        if self.done or self.error is not None or not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
                if not chunk:
                    return []
        if self._at_start:
            if self._pending:  # at most two bytes: the start of a BOM
                chunk = bytes(self._pending) + chunk
                self._pending = b""
            if len(chunk) < len(_BOM) and _BOM.startswith(chunk):
                self._pending = chunk  # maybe a BOM split across chunks: wait for the rest
                return []
            self._at_start = False
            if chunk.startswith(_BOM):
                chunk = chunk[len(_BOM) :]
        # Only the new bytes are scanned: the pending ones hold no line end.
        end = max(chunk.rfind(b"\n"), chunk.rfind(b"\r"))
        if end < 0:
            pending = self._pending
            if isinstance(pending, bytes):
                pending = self._pending = bytearray(pending)
            pending += chunk
            if len(pending) > self._limit:
                self._fail("a line")
            return []
        if end == len(chunk) - 1 and chunk[end] == 13:  # a CR that may be half a CRLF
            self._skip_lf = True
        head = chunk[: end + 1]
        if self._pending:
            head = b"".join((self._pending, head))
        self._pending = chunk[end + 1 :]
        events = self._lines(head.splitlines(), len(head) > self._limit)
        if len(self._pending) > self._limit and self.error is None and not self.done:
            self._fail("a line")
        return events

    def flush(self) -> list[ServerSentEvent]:
        """End of input: treat a trailing unterminated line and event as complete.

        The spec discards an unterminated event, but servers that close right after their
        last ``data:`` line without the blank line are common; the caller decides whether
        such a final event is trustworthy.

        Returns:
            The final events, if any.
        """
        if self.done or self.error is not None:
            return []
        lines = [bytes(self._pending)] if self._pending else []
        self._pending = b""
        if self._at_start and lines and _BOM.startswith(lines[0]):
            lines = []  # a body cut inside the BOM: nothing to parse
        return self._lines([*lines, b""], False)  # the pending bytes are within the bound

    def _fail(self, what: str) -> None:
        self._pending = b""
        self._data.clear()
        self.error = APIResponseError(
            f"the stream sent {what} longer than {self._limit} bytes (max_sse_event_bytes); "
            "raise ChatClient(max_sse_event_bytes=...) if the server's events really are "
            "that large"
        )

    def _lines(self, lines: list[bytes], long: bool) -> list[ServerSentEvent]:
        """Dispatch complete lines; ``long``: some line may pass the bound (check each)."""
        events: list[ServerSentEvent] = []
        data = self._data
        limit = self._limit
        for line in lines:
            if not line:  # blank line: dispatch
                if data:
                    payload = data[0] if len(data) == 1 else b"\n".join(data)
                    data.clear()
                    if payload == _DONE or (len(payload) < 16 and payload.strip() == _DONE):
                        self.done = True
                        self._event = None
                        return events
                    events.append(ServerSentEvent(payload, self._event, self._id, self._retry))
                self._event = None
                self._retry = None
                continue
            if long and len(line) > limit:
                self._fail("a line")
                return events
            if line[0] == 58:  # ":" starts a comment (keep-alives)
                continue
            if line.startswith(b"data:"):  # the common case, with one copy of a long line
                name, value = b"data", line[6:] if line[5:6] == b" " else line[5:]
            else:
                name, colon, value = line.partition(b":")
                if colon and value[:1] == b" ":
                    value = value[1:]
            if name == b"data":
                if data:  # an event of several lines: bound their total
                    self._size += len(value) + 1
                    if self._size > limit:
                        self._fail("an event")
                        return events
                else:
                    self._size = len(value)
                data.append(value)
            elif name == b"event":
                self._event = value.decode("utf-8", "replace")
            elif name == b"id":
                if b"\0" not in value:  # the spec ignores ids containing NUL
                    self._id = value.decode("utf-8", "replace")
            elif name == b"retry" and value.isdigit():
                self._retry = int(value)
            # Unknown fields are ignored, as the spec requires.
        return events
