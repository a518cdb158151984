"""Serving agentkit tools over MCP: stdio or streamable HTTP, for any MCP client.

Each `Tool` is listed with the schema and description an agent sends for it, and called
through ``Tool.invoke``, so clients get the same validation and the same error results
(``isError`` with the text the model would read) as an agent's own model.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Sequence
from typing import Any

import mcp_types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.stdio import stdio_server

from agentkit.tools import Tool, check_unique

__all__ = ["build_server", "serve_http", "serve_stdio"]

logger = logging.getLogger("agentkit")

Tools = Sequence[Tool[..., Any] | Callable[..., Any]]


def build_server(
    tools: Tools, *, name: str = "agentkit", instructions: str | None = None
) -> Server[Any]:
    """An MCP server (the SDK's low-level `Server`) offering ``tools``.

    Args:
        tools: Tools, plain functions (wrapped with `Tool.from_function`) or agents made tools
            with ``Agent.as_tool``; names must be unique.
        name: The server name clients see.
        instructions: Text clients may show their model about the server.

    Returns:
        The server; run it with `serve_stdio` or `serve_http`, or mount its
        ``streamable_http_app()`` in your own ASGI app.

    Raises:
        ToolDefinitionError: Two tools share a name, or a function cannot become a tool.
    """
    by_name = check_unique(tools)
    listing = types.ListToolsResult(
        tools=[
            types.Tool(
                name=t.name,
                description=t.definition()["function"].get("description"),
                input_schema=t.definition()["function"]["parameters"],
            )
            for t in by_name.values()
        ]
    )

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return listing

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        found = by_name.get(params.name)
        if found is None:  # the text an agent's model reads for an unknown tool
            known = ", ".join(by_name) or "none"
            text, failed = (
                f"error: there is no tool named {params.name!r} (available tools: {known})",
                True,
            )
        else:
            result = await found.invoke(json.dumps(params.arguments or {}))
            text, failed = result.content, result.is_error
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=text)], is_error=failed
        )

    return Server(name, instructions=instructions, on_list_tools=list_tools, on_call_tool=call_tool)


async def serve_stdio(tools: Tools, *, name: str = "agentkit") -> None:
    """Serve ``tools`` over this process's stdin and stdout until the client closes them.

    Args:
        tools: As for `build_server`.
        name: The server name clients see.
    """
    server = build_server(tools, name=name)
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


async def serve_http(
    tools: Tools,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    name: str = "agentkit",
    path: str = "/mcp",
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve ``tools`` over streamable HTTP until cancelled.

    Loopback by default; DNS-rebinding protection is on for loopback hosts.

    Args:
        tools: As for `build_server`.
        host: The address to listen on (``"0.0.0.0"`` exposes the tools to the network).
        port: The port; 0 picks a free one (``on_ready`` tells which).
        name: The server name clients see.
        path: The endpoint's path.
        on_ready: Called with the endpoint URL once the server accepts connections.
    """
    import uvicorn

    app = build_server(tools, name=name).streamable_http_app(streamable_http_path=path, host=host)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    where = f"[{host}]" if family == socket.AF_INET6 else host
    url = f"http://{where}:{bound}{path}"
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)

    async def announce() -> None:
        import anyio

        while not server.started:  # noqa: ASYNC110 - uvicorn only offers this flag
            await anyio.sleep(0.01)
        logger.info("serving MCP on %s", url)
        if on_ready is not None:
            on_ready(url)

    import anyio

    with sock:
        async with anyio.create_task_group() as group:
            group.start_soon(announce)
            try:
                await server.serve(sockets=[sock])
            finally:
                group.cancel_scope.cancel()
