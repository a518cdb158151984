"""The ``agentkit mcp serve`` command: serve ``--tool`` functions over MCP (stdio or HTTP).

Registered by `agentkit.cli`; the MCP SDK is imported only when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import anyio

__all__ = ["add_mcp_command", "run_mcp_command"]


def add_mcp_command(commands: Any) -> None:
    """Add ``mcp serve`` to the ``agentkit`` command's subparsers."""
    mcp = commands.add_parser("mcp", help="Model Context Protocol: serve tools to MCP clients")
    actions = mcp.add_subparsers(dest="mcp_command", required=True, metavar="ACTION")
    serve = actions.add_parser("serve", help="serve --tool functions over MCP (stdio by default)")
    serve.add_argument(
        "--tool",
        action="append",
        default=[],
        required=True,
        metavar="MODULE:FUNCTION",
        help="a function (or @tool, or agent.as_tool(...) object) to serve (repeatable)",
    )
    serve.add_argument(
        "--http",
        metavar="HOST:PORT",
        help="serve streamable HTTP at http://HOST:PORT/mcp instead of stdio (HOST defaults to "
        "127.0.0.1; PORT 0 picks a free one)",
    )
    serve.add_argument("--name", default="agentkit", help="the server name clients see")
    # What the shared command path reads before dispatching; serving needs no model.
    serve.set_defaults(online=False, offline=True, model=None, base_url=None, verbose=False)


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "", text
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise ValueError(f"--http {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8000")
    return host.strip("[]") or "127.0.0.1", number


def run_mcp_command(args: argparse.Namespace, tools: list[Any]) -> int:
    """Run ``agentkit mcp serve``; returns the exit code (2 when the extra is missing).

    Args:
        args: The parsed command line.
        tools: The ``--tool`` tools, already loaded and checked by the CLI.
    """
    try:
        from agentkit.mcp import serve_http, serve_stdio
    except ImportError as exc:
        print(f"agentkit: error: {exc}", file=sys.stderr)
        return 2
    if args.http is None:
        anyio.run(lambda: serve_stdio(tools, name=args.name))
        return 0
    try:
        host, port = _address(args.http)
    except ValueError as exc:
        print(f"agentkit: error: {exc}", file=sys.stderr)
        return 2

    def ready(url: str) -> None:
        print(f"serving {len(tools)} tool(s) over MCP at {url}", file=sys.stderr, flush=True)

    try:
        anyio.run(lambda: serve_http(tools, host=host, port=port, name=args.name, on_ready=ready))
    except KeyboardInterrupt:
        pass
    return 0
