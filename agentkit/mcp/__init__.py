"""MCP both ways: any MCP server's tools in an agent, and agentkit tools served over MCP.

Built on the official ``mcp`` SDK, an optional extra: ``pip install 'agentkit-loop[mcp]'``.
`MCPServer` (stdio or streamable HTTP) is a `Toolset` for ``Agent(tools=[...])``;
`serve_stdio`, `serve_http` and `build_server` expose tools (and agents, through
``Agent.as_tool``) to any MCP client.
"""

from __future__ import annotations

try:
    import mcp as _mcp  # noqa: F401  (the SDK: present only with the extra)
except ImportError as exc:  # pragma: no cover - exercised in a subprocess by the tests
    raise ImportError(
        "agentkit.mcp needs the official MCP SDK: pip install 'agentkit-loop[mcp]'"
    ) from exc

from agentkit.mcp.client import MCPServer, MCPServerError
from agentkit.mcp.server import build_server, serve_http, serve_stdio

__all__ = ["MCPServer", "MCPServerError", "build_server", "serve_http", "serve_stdio"]
