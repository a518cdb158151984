"""A threaded HTTP/1.1 server on 127.0.0.1 that hands each request to a callback.

The HTTP machinery behind `agentkit.testing.FakeServer`: keep-alive connections, request bodies
(Content-Length or chunked), and an `Exchange` with the few ways a reply is written: a complete
body, a chunked stream, a body cut short, or no response at all. Standard library only.
"""

from __future__ import annotations

import http.server
import logging
import socket
import socketserver
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Exchange", "Incoming", "Server"]

logger = logging.getLogger("agentkit")


@dataclass(frozen=True, kw_only=True)
class Incoming:
    """One HTTP request as it arrived."""

    method: str
    """The request method, e.g. ``"POST"``."""
    path: str
    """The request target, e.g. ``"/v1/chat/completions"`` (query string included)."""
    headers: dict[str, str]
    """Request headers, names lower-cased; repeated headers joined with ``", "``."""
    raw: bytes
    """The request body, de-chunked."""


class Exchange:
    """One request being answered: the writing primitives replies are built from.

    Exactly one of `send`, `send_cut`, `start_stream` (then `write`... `end_stream`) or `drop`
    is used per request; a handler that uses none gets a 500.
    """

    def __init__(self, handler: _Handler, request: Incoming) -> None:
        self._handler = handler
        self.request = request
        """The request being answered."""
        self.answered = False
        """Whether a status line was sent (or the connection dropped)."""

    def send(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Send a complete response with a Content-Length; the connection stays open."""
        self._head(status, content_type, headers, {"Content-Length": str(len(body))})
        self._handler.wfile.write(body)

    def send_cut(
        self,
        status: int,
        body: bytes,
        keep: int,
        *,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Announce the full Content-Length, send only ``keep`` bytes, then close the socket."""
        self._head(status, content_type, headers, {"Content-Length": str(len(body))})
        self._handler.wfile.write(body[:keep])
        self.drop()

    def start_stream(
        self,
        status: int = 200,
        *,
        content_type: str = "text/event-stream; charset=utf-8",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Send the head of a chunked response; follow with `write` and `end_stream`."""
        extra = {"Transfer-Encoding": "chunked", "Cache-Control": "no-cache"}
        self._head(status, content_type, headers, extra)

    def write(self, data: bytes) -> None:
        """Send ``data`` as one HTTP chunk of a started stream (empty data is skipped)."""
        if data:
            self._handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def end_stream(self) -> None:
        """Finish a chunked response properly; the connection stays open."""
        self._handler.wfile.write(b"0\r\n\r\n")

    def drop(self) -> None:
        """Close the connection now, whatever was (or was not) sent on it."""
        self.answered = True
        self._handler.close_connection = True
        try:
            self._handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:  # the client went first
            pass

    def _head(
        self,
        status: int,
        content_type: str,
        headers: Mapping[str, str] | None,
        extra: Mapping[str, str],
    ) -> None:
        self.answered = True
        handler = self._handler
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        for name, value in {**extra, **(headers or {})}.items():
            handler.send_header(name, value)
        handler.end_headers()


App = Callable[[Exchange], None]


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every response has a length or is chunked
    server_version = "agentkit-fake/1"
    disable_nagle_algorithm = True  # SSE chunks are small writes; don't wait for ACKs
    server: _HTTPServer

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _dispatch(self) -> None:
        try:
            raw = self._read_body()
        except ValueError as exc:
            self.send_error(400, str(exc))
            self.close_connection = True
            return
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        exchange = Exchange(
            self, Incoming(method=self.command, path=self.path, headers=headers, raw=raw)
        )
        try:
            self.server.app(exchange)
        except OSError:  # the client hung up mid-reply
            self.close_connection = True
        except Exception:
            logger.exception(
                "agentkit.testing: the fake server failed on %s %s", self.command, self.path
            )
            if exchange.answered:
                exchange.drop()
            else:
                exchange.send(
                    500,
                    b'{"error": {"message": "fake server bug; see the log", '
                    b'"type": "server_error", "code": null, "param": null}}',
                )
        if not exchange.answered:
            exchange.send(
                500,
                b'{"error": {"message": "fake server sent no reply", '
                b'"type": "server_error", "code": null, "param": null}}',
            )

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"x", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline(3)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(length)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("agentkit.testing: " + format, *args)


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True  # a forgotten stop() must not hang interpreter exit...
    request_queue_size = 1024  # many clients connecting at once must not be refused

    def __init__(self, app: App) -> None:
        self.app = app
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        self._workers: list[threading.Thread] = []  # ...but stop() joins every one
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a DNS lookup that can take seconds.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def process_request(self, request: Any, client_address: Any) -> None:
        # ThreadingMixIn.process_request, with the connection remembered and the thread named.
        with self._open_lock:
            self._open.add(request)
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"agentkit-fake-server-{self.server_port}-connection",
            daemon=True,
        )
        self._workers = [worker for worker in self._workers if worker.is_alive()]
        self._workers.append(thread)
        thread.start()

    def server_close(self) -> None:
        super().server_close()
        for worker in self._workers:
            worker.join()

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("agentkit.testing: connection error", exc_info=True)

    def hang_up_all(self) -> None:
        """Wake every handler thread blocked on an idle keep-alive connection."""
        with self._open_lock:
            sockets = list(self._open)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class Server:
    """Serve ``app`` on 127.0.0.1 on an ephemeral port, in a background thread."""

    def __init__(self, app: App) -> None:
        self._app = app
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port; raises RuntimeError before `start`."""
        if self._httpd is None:
            raise RuntimeError("the server is not running; call start() first")
        return self._httpd.server_port

    def start(self) -> None:
        """Bind and start serving; a no-op when already running."""
        if self._httpd is not None:
            return
        self._httpd = _HTTPServer(self._app)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"agentkit-fake-server-{self._httpd.server_port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting, hang up every connection, and join every thread."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self._httpd = self._thread = None
        httpd.shutdown()  # returns once serve_forever has exited: no more new connections
        httpd.hang_up_all()
        httpd.server_close()  # closes the listening socket and joins the handler threads
        thread.join()
