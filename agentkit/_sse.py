"""Turns the bytes of a server-sent-events stream into events, stopping at ``data: [DONE]``.

The parser is pure and incremental: feed it whatever chunks the network delivers (boundaries
anywhere, even inside a CRLF) and it returns the events completed so far. It works on whole
buffered chunks with ``bytes.splitlines`` rather than per character, and keeps ``data`` as
bytes so pydantic can validate it without a decode.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SSEParser", "ServerSentEvent"]

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
    """Incremental SSE parser: ``feed(bytes) -> events``; ``done`` once ``[DONE]`` arrives."""

    __slots__ = ("_at_start", "_buffer", "_data", "_event", "_id", "_retry", "_skip_lf", "done")

    def __init__(self) -> None:
        self._at_start = True  # until the first bytes show whether the stream opens with a BOM
        self._buffer = b""
        self._skip_lf = False  # the last chunk ended in CR; a leading LF belongs to it
        self._data: list[bytes] = []
        self._event: str | None = None
        self._id: str | None = None
        self._retry: int | None = None
        self.done = False
        """True once ``data: [DONE]`` was seen; later input is ignored."""

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Add bytes from the network.

        Args:
            chunk: The next bytes of the stream, split anywhere.

        Returns:
            The events completed by this chunk (never the ``[DONE]`` marker itself).
        """
        if self.done or not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
        buffer = self._buffer + chunk if self._buffer else chunk
        if self._at_start:
            if len(buffer) < len(_BOM) and _BOM.startswith(buffer):
                self._buffer = buffer  # maybe a BOM split across chunks: wait for the rest
                return []
            self._at_start = False
            if buffer.startswith(_BOM):
                buffer = buffer[len(_BOM) :]
        end = max(buffer.rfind(b"\n"), buffer.rfind(b"\r"))
        if end < 0:
            self._buffer = buffer
            return []
        if end == len(buffer) - 1 and buffer[end] == 13:  # a CR that may be half a CRLF
            self._skip_lf = True
        self._buffer = buffer[end + 1 :]
        return self._lines(buffer[: end + 1].splitlines())

    def flush(self) -> list[ServerSentEvent]:
        """End of input: treat a trailing unterminated line and event as complete.

        The spec discards an unterminated event, but servers that close right after their
        last ``data:`` line without the blank line are common; the caller decides whether
        such a final event is trustworthy.

        Returns:
            The final events, if any.
        """
        if self.done:
            return []
        lines = [self._buffer] if self._buffer else []
        self._buffer = b""
        events = self._lines([*lines, b""])
        return events

    def _lines(self, lines: list[bytes]) -> list[ServerSentEvent]:
        events: list[ServerSentEvent] = []
        data = self._data
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
            if line[0] == 58:  # ":" starts a comment (keep-alives)
                continue
            name, colon, value = line.partition(b":")
            if colon and value[:1] == b" ":
                value = value[1:]
            if name == b"data":
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
