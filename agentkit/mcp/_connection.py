"""One MCP server's connection: hosted by its own task, reconnected after a failure.

A `_Link` owns a task group (the server's, inside ``async with server:``, or one run's); its
connection is an SDK `mcp.Client` entered by a task of that group, so any task may call
through it and it closes where it was opened. Tools are listed once per connection and again
after the server says they changed.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import mcp_types as types
import pydantic
from mcp import Client
from mcp.shared.exceptions import MCPError

from agentkit.errors import AgentKitError, ToolDefinitionError
from agentkit.mcp._results import result_text
from agentkit.tools import Tool

if TYPE_CHECKING:
    from agentkit.mcp.client import MCPServer

__all__ = ["MCPServerError"]

logger = logging.getLogger("agentkit")

_INVALID = re.compile(r"[^A-Za-z0-9_-]")  # MCP allows '.' and '/' in names; the chat API doesn't


class MCPServerError(AgentKitError):
    """An MCP server could not be reached, failed mid-call, or sent a malformed result.

    In a run it becomes the error result the model reads; raised as such by the methods
    you call from code (`MCPServer.read_resource`...).
    """


class _Connection:
    """One live connection: the SDK client, hosted by a task that waits for ``stop``."""

    def __init__(self) -> None:
        self.client: Client
        self.stop = anyio.Event()
        self.done = anyio.Event()  # the hosting task has left the client
        self.closed = False


class _Link:
    """A connection holder with its own task group: the server's shared one, or a run's."""

    def __init__(self, server: MCPServer) -> None:
        self.server = server
        self.conn: _Connection | None = None
        self._group: anyio.abc.TaskGroup | None = None
        self._lock = anyio.Lock()
        self._tools: list[Tool[..., Any]] | None = None

    async def __aenter__(self) -> _Link:
        self._group = anyio.create_task_group()
        await self._group.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        assert self._group is not None
        if self.conn is not None:
            self.conn.stop.set()
            with anyio.move_on_after(5, shield=True):  # a clean close; a stuck one is cancelled
                await self.conn.done.wait()
        self._group.cancel_scope.cancel()
        await self._group.__aexit__(None, None, None)

    async def client(self) -> Client:
        """The live client, connecting (again) if there is none."""
        conn = self.conn
        if conn is not None and not conn.closed:  # the hot path takes no lock
            return conn.client
        async with self._lock:
            conn = self.conn
            if conn is None or conn.closed:
                assert self._group is not None
                try:
                    with anyio.fail_after(self.server.connect_timeout):
                        conn = await self._group.start(self._host)
                except TimeoutError:
                    raise MCPServerError(
                        f"{self.server!r} did not answer within "
                        f"{self.server.connect_timeout:g}s of starting"
                    ) from None
                except Exception as exc:
                    raise MCPServerError(f"cannot connect to {self.server!r}: {exc}") from exc
                self.conn = conn
                self._tools = None  # a new connection lists again
            return conn.client

    async def _host(self, *, task_status: anyio.abc.TaskStatus[_Connection]) -> None:
        conn = _Connection()
        server = self.server
        started = False
        try:
            async with contextlib.AsyncExitStack() as stack:
                client = Client(
                    await _transport(server, stack),
                    message_handler=functools.partial(self._on_message, conn),
                )
                await stack.enter_async_context(client)
                conn.client = client
                async with anyio.create_task_group() as group:
                    caps = client.server_capabilities.tools
                    if caps is not None and caps.list_changed and client.protocol_version >= "2026":
                        group.start_soon(self._listen, conn)  # this era's change notifications
                    task_status.started(conn)
                    started = True
                    await conn.stop.wait()
                    group.cancel_scope.cancel()
        except Exception as exc:
            if not started:
                raise
            logger.warning("MCP server %s: connection ended: %s", server.name, exc)
        finally:
            conn.closed = True
            conn.done.set()

    async def _listen(self, conn: _Connection) -> None:
        try:
            async with conn.client.listen(tools_list_changed=True) as events:
                async for _ in events:
                    self._changed(conn)
        except Exception as exc:  # no change events, then: the cached list stays
            logger.debug("MCP server %s: no tools/list_changed stream: %s", self.server.name, exc)

    async def _on_message(self, conn: _Connection, message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            self._changed(conn)
        elif isinstance(message, Exception):
            logger.debug("MCP server %s: transport error: %s", self.server.name, message)
        await anyio.lowlevel.checkpoint()

    def _changed(self, conn: _Connection) -> None:
        if conn is self.conn:
            logger.info("MCP server %s: tool list changed", self.server.name)
            self._tools = None

    def _drop(self, conn: _Connection | None) -> None:
        """Close a connection that failed; the next call makes a new one."""
        if conn is not None:
            conn.stop.set()
            conn.closed = True
            if self.conn is conn:
                self.conn = None

    async def tools(self) -> list[Tool[..., Any]]:
        """The agentkit tools of the server, listed once per connection and change."""
        try:
            with anyio.fail_after(self.server.connect_timeout):
                client = await self.client()
                if self._tools is None:
                    made = self._make_tools(await self._list(client))
                    if self.server.resource_tools and client.server_capabilities.resources:
                        made += self._resource_tools()
                    self._tools = made
        except TimeoutError:
            self._drop(self.conn)
            raise MCPServerError(
                f"{self.server!r} did not list its tools within {self.server.connect_timeout:g}s"
            ) from None
        except MCPError as exc:
            raise MCPServerError(f"{self.server!r} cannot list its tools: {exc}") from exc
        return self._tools

    async def _list(self, client: Client) -> list[types.Tool]:
        found: list[types.Tool] = []
        cursor: str | None = None
        for _ in range(1000):  # a bound: a server that pages forever must not hang a run
            page = await client.list_tools(cursor=cursor, cache_mode="refresh")
            found.extend(page.tools)
            cursor = page.next_cursor
            if cursor is None:
                break
        return found

    def _resource_tools(self) -> list[Tool[..., Any]]:
        """``list_resources`` and ``read_resource`` as tools (``resource_tools=True``)."""
        link, server = self, self.server

        async def list_resources() -> list[dict[str, Any]]:
            """List the resources (files, documents, records...) this server offers."""
            page = await (await link.client()).list_resources()
            return [
                r.model_dump(mode="json", by_alias=True, exclude_none=True) for r in page.resources
            ]

        async def read_resource(uri: str) -> str:
            """Read one resource of this server.

            Args:
                uri: Its URI, as list_resources gives it.
            """
            result = await (await link.client()).read_resource(uri)
            return "\n".join(
                c.text if isinstance(c, types.TextResourceContents) else _describe_blob(c)
                for c in result.contents
            )

        prefix = _INVALID.sub("_", server.prefix)
        return [
            Tool.from_function(
                fn,
                name=prefix + fn.__name__,
                timeout=server.timeout,
                max_result_chars=server.max_result_chars,
            )  # fmt: skip
            for fn in (list_resources, read_resource)
        ]

    def _make_tools(self, listed: list[types.Tool]) -> list[Tool[..., Any]]:
        server = self.server
        made: list[Tool[..., Any]] = []
        approval = server.requires_approval
        for spec in listed:
            if (server.allow is not None and spec.name not in server.allow) or (
                spec.name in server.deny
            ):
                continue
            name = _INVALID.sub("_", server.prefix + spec.name)
            schema = dict(spec.input_schema)
            schema.setdefault("type", "object")  # some servers leave it out of an empty schema
            try:
                made_tool = Tool.from_schema(
                    functools.partial(self.call, spec.name),
                    schema,
                    name=name,
                    description=spec.description or spec.title or "",
                    requires_approval=approval
                    if isinstance(approval, bool)
                    else spec.name in approval,
                    max_result_chars=server.max_result_chars,
                )
            except ToolDefinitionError as exc:
                logger.warning("MCP server %s: tool %r left out: %s", server.name, spec.name, exc)
                continue
            try:  # strict only where it keeps the schema's meaning; else never strict
                made_tool.definition(True)
            except ToolDefinitionError:
                made_tool.strict = False
            made.append(made_tool)
        return made

    async def call(self, _tool: str, /, **arguments: Any) -> str:
        """Call a tool of the server: its reply text, or an exception the model reads.

        Raises:
            TimeoutError: No result within the server's ``timeout`` (the connection is dropped).
            MCPServerError: The server crashed, disconnected or sent a malformed result.
            ModelRetry: The tool reported an error (``isError``): its text.
        """
        server = self.server
        client = await self.client()  # (re)connecting is bounded by connect_timeout
        conn = self.conn
        try:  # the SDK bounds the wait itself: a scope of ours would cost as much again
            result = await _call_tool(client, _tool, arguments, server.timeout)
        except MCPError as exc:
            if exc.code == types.REQUEST_TIMEOUT:
                self._drop(conn)
                raise TimeoutError(f"no result within {server.timeout:g}s") from None
            if exc.code == types.CONNECTION_CLOSED:
                self._drop(conn)
                raise MCPServerError(
                    f"{server!r} went away during the call ({exc}); the next call reconnects"
                ) from exc
            self._tools = None  # e.g. a tool gone from the server: the next run lists again
            raise MCPServerError(f"{server!r}: {exc}") from exc
        except (pydantic.ValidationError, RuntimeError) as exc:  # the SDK's checks of it
            raise MCPServerError(f"{server!r} sent a malformed result: {_summary(exc)}") from exc
        except (anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
            self._drop(conn)
            raise MCPServerError(
                f"{server!r} went away during the call; the next call reconnects"
            ) from exc
        return result_text(result)


async def _call_tool(
    client: Client,
    name: str,
    arguments: dict[str, Any],
    timeout: float,  # noqa: ASYNC109
) -> types.CallToolResult:
    """``tools/call`` on the session itself, within ``timeout`` seconds.

    `mcp.Client.call_tool` adds rounds for input requests (which agentkit can't answer) that
    cost a quarter of a local call; it only serves here for the re-list a 2026 server asks
    for with ``HEADER_MISMATCH``.
    """
    try:
        return await client.session.call_tool(name, arguments, read_timeout_seconds=timeout)
    except MCPError as exc:
        if exc.code != types.HEADER_MISMATCH:
            raise
    return await client.call_tool(name, arguments, read_timeout_seconds=timeout)


async def _transport(server: MCPServer, stack: contextlib.AsyncExitStack) -> Any:
    """What `mcp.Client` connects with: a fresh transport each time (they are single-use)."""
    target = server._target
    if not isinstance(target, str) or not (server._headers or server._auth is not None):
        return target
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    http = create_mcp_http_client(headers=server._headers, auth=server._auth)
    await stack.enter_async_context(http)  # a client we pass in is ours to close
    return streamable_http_client(target, http_client=http)


def _describe_blob(contents: Any) -> str:
    from agentkit.mcp._results import _describe

    return _describe(types.EmbeddedResource(type="resource", resource=contents))


def _summary(exc: Exception) -> str:
    if isinstance(exc, pydantic.ValidationError):
        return "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'result'}: {e['msg']}" for e in exc.errors()
        )
    return str(exc)
