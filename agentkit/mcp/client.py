"""MCPServer: an MCP server (stdio or streamable HTTP) whose tools an agent can call.

An `MCPServer` is a `Toolset`: put it in ``Agent(tools=[...])``. Its connection lives in
``async with server:`` (shared by every run inside, concurrent ones too), or, outside one, is
opened by each run and closed after it. The tool list is fetched when a run starts and
cached until the server says it changed (``notifications/tools/list_changed``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import mcp_types as types
from mcp import Client, StdioServerParameters

from agentkit.mcp._connection import MCPServerError, _Link
from agentkit.mcp._results import _describe
from agentkit.tools import Tool

__all__ = ["MCPServer", "MCPServerError"]


class MCPServer:
    """An MCP server's tools, for ``Agent(tools=[...])``; build with `stdio` or `http`.

    Args:
        target: The SDK's `StdioServerParameters`, or the URL of a streamable HTTP endpoint.
        name: Names the server in errors and logs.
        prefix: Put before every tool name (``"git_"``), to keep servers' names apart.
        allow: Offer only these tools (the server's names, before the prefix).
        deny: Never offer these tools (the server's names).
        requires_approval: True for every tool, or the server's names of those that need
            the agent's ``approve`` callback before each call.
        timeout: Seconds a call may wait for its result; then the model reads a
            ``TimeoutError`` and the connection is dropped (a server that stops answering
            can't be told from a slow one), so the next call reconnects.
        connect_timeout: Seconds to start (or reach) the server, and to list its tools; a
            call that must reconnect first waits at most this more.
        max_result_chars: Truncate longer results, as for local tools.
        resource_tools: Also offer the model two tools, ``list_resources`` and
            ``read_resource`` (prefixed), when the server has resources; by default resources
            are for your code only (`list_resources`, `read_resource`).
        headers: HTTP headers sent with every request (HTTP servers).
        auth: An ``httpx2.Auth`` (for instance the SDK's OAuth provider; HTTP servers).
    """

    def __init__(
        self,
        target: StdioServerParameters | str,
        *,
        name: str | None = None,
        prefix: str = "",
        allow: Collection[str] | None = None,
        deny: Collection[str] = (),
        requires_approval: bool | Collection[str] = False,
        timeout: float = 60.0,
        connect_timeout: float = 30.0,
        max_result_chars: int | None = None,
        resource_tools: bool = False,
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
    ) -> None:
        if timeout <= 0 or connect_timeout <= 0:
            raise ValueError("timeout and connect_timeout must be > 0")
        self._target = target
        self._headers = dict(headers or {})  # never in reprs or errors: may hold secrets
        self._auth = auth
        self.name = name or _default_name(target)
        """The server's name in errors and logs."""
        self.prefix = prefix
        self.allow = None if allow is None else frozenset(allow)
        self.deny = frozenset(deny)
        self.requires_approval = requires_approval
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_result_chars = max_result_chars
        self.resource_tools = resource_tools
        self._shared: _Link | None = None
        self._depth = 0

    @classmethod
    def stdio(
        cls,
        command: str,
        args: Sequence[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        **options: Any,
    ) -> MCPServer:
        """A server started as a subprocess, spoken to over its stdin and stdout.

        Args:
            command: The executable (``"uvx"``, ``"npx"``, ``sys.executable``...).
            args: Its arguments.
            env: Extra environment variables (over a minimal safe environment).
            cwd: Its working directory.
            **options: As for `MCPServer` (``prefix``, ``allow``, ``timeout``...).

        Returns:
            The server (not started: entering it, or a run, starts it).
        """
        params = StdioServerParameters(
            command=command,
            args=list(args),
            env=dict(env) if env is not None else None,
            cwd=os.fspath(cwd) if cwd is not None else None,
        )
        return cls(params, **options)

    @classmethod
    def http(
        cls,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
        **options: Any,
    ) -> MCPServer:
        """A server reached over streamable HTTP.

        Args:
            url: The endpoint (``http://127.0.0.1:8000/mcp``).
            headers: Sent with every request (an API key...); never logged.
            auth: An ``httpx2.Auth``, e.g. the SDK's ``OAuthClientProvider``.
            **options: As for `MCPServer`.

        Returns:
            The server (not connected: entering it, or a run, connects).
        """
        return cls(url, headers=headers, auth=auth, **options)

    def __repr__(self) -> str:
        return f"MCPServer({self.name!r})"

    async def __aenter__(self) -> MCPServer:
        """Connect (on first use) and keep the connection for every run inside the block."""
        if self._depth == 0:
            link = _Link(self)
            await link.__aenter__()
            self._shared = link
        self._depth += 1
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._depth -= 1
        if self._depth == 0 and self._shared is not None:
            link, self._shared = self._shared, None
            await link.__aexit__(exc_type, exc, traceback)

    @contextlib.asynccontextmanager
    async def tools_for_run(self) -> AsyncIterator[Sequence[Tool[..., Any]]]:
        """The server's tools for one run (the `Toolset` seam the agent uses).

        Inside ``async with server:`` the shared connection and its cached tool list serve
        the run; otherwise the run opens a connection of its own and closes it at its end.

        Yields:
            The tools, filtered and prefixed as configured.

        Raises:
            MCPServerError: The server can't be started or reached, or can't list its tools.
        """
        if self._shared is not None:
            yield await self._shared.tools()
            return
        async with _Link(self) as link:
            yield await link.tools()

    @property
    def client(self) -> Client:
        """The SDK's `mcp.Client` of the shared connection, for anything else MCP offers.

        Raises:
            RuntimeError: Outside ``async with server:`` (or before the first call in it).
        """
        if self._shared is None or self._shared.conn is None:
            raise RuntimeError(f"{self!r} is not connected: use `async with server:` first")
        return self._shared.conn.client

    async def list_resources(self) -> list[types.Resource]:
        """The resources the server offers (every page).

        Returns:
            The SDK's `Resource` descriptions (``uri``, ``name``, ``mime_type``...).
        """
        client = await self._code_client()
        found: list[types.Resource] = []
        cursor: str | None = None
        for _ in range(1000):  # a bound: a server that pages forever must not hang us
            page = await client.list_resources(cursor=cursor)
            found.extend(page.resources)
            cursor = page.next_cursor
            if cursor is None:
                break
        return found

    async def read_resource(
        self, uri: str
    ) -> list[types.TextResourceContents | types.BlobResourceContents]:
        """Read one resource.

        Args:
            uri: Its URI, as `list_resources` gives it.

        Returns:
            Its contents: text ones carry ``.text``, binary ones base64 ``.blob``.
        """
        client = await self._code_client()
        return list((await client.read_resource(uri)).contents)

    async def list_prompts(self) -> list[types.Prompt]:
        """The prompt templates the server offers (first page; most servers have one)."""
        client = await self._code_client()
        return list((await client.list_prompts()).prompts)

    async def get_prompt(
        self, name: str, arguments: Mapping[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """A prompt filled in, as chat messages an agent can take as ``history`` or input.

        Args:
            name: The prompt's name.
            arguments: Its arguments.

        Returns:
            ``{"role": ..., "content": ...}`` messages; non-text content is described.
        """
        client = await self._code_client()
        result = await client.get_prompt(name, dict(arguments or {}))
        messages: list[dict[str, Any]] = []
        for message in result.messages:
            block = message.content
            text = block.text if isinstance(block, types.TextContent) else _describe(block)
            messages.append({"role": message.role, "content": text})
        return messages

    async def _code_client(self) -> Client:
        if self._shared is None:
            raise RuntimeError(f"use `async with {self!r}:` to read resources and prompts")
        return await self._shared.client()


def _default_name(target: StdioServerParameters | str) -> str:
    if isinstance(target, str):  # without credentials or query: names end up in logs
        url = urlsplit(target)
        return f"{url.scheme}://{url.hostname or ''}{f':{url.port}' if url.port else ''}{url.path}"
    # `uvx mcp-server-git ...`, `python server.py`: the first argument names it best
    words = [w for w in target.args if not w.startswith("-")][:1] or [target.command]
    return os.path.basename(words[0])
