"""An MCP server for the fault tests, on the SDK's MCPServer: tools that hang, crash,
return a malformed result, fail, return images and resources, and change the tool list."""

from __future__ import annotations

import os

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.utilities.types import Image

server = MCPServer("faulty")


@server.tool()
def echo(text: str) -> str:
    """Say it back."""
    return text


@server.tool()
async def hang() -> str:
    """Never answers."""
    await anyio.sleep_forever()
    return ""


@server.tool()
def crash() -> str:
    """The server process dies mid-call."""
    os._exit(3)


@server.tool()
def pid() -> int:
    """The server's process id."""
    return os.getpid()


@server.tool()
def fail(why: str) -> str:
    """Raises, so the result has isError set."""
    raise ValueError(why)


@server.tool(structured_output=True)
def malformed() -> dict[str, int]:
    """Declares an integer map but returns a string in it."""
    return {"n": "not a number"}  # type: ignore[dict-item]


@server.tool()
def picture() -> list[object]:
    """Text and an image."""
    return ["a red dot", Image(data=b"\x89PNG\r\n\x1a\n" + bytes(8), format="png")]


@server.tool()
async def grow(name: str, ctx: Context) -> str:
    """Adds a tool called `name` and says the tool list changed."""

    def added() -> str:
        return f"I am {name}"

    server.add_tool(added, name=name, description=f"the {name} tool")
    await ctx.notify_tools_changed()
    return f"added {name}"


@server.resource("notes://today", mime_type="text/plain")
def today() -> str:
    """Today's notes."""
    return "buy milk"


@server.prompt()
def review(path: str) -> str:
    """Ask for a code review."""
    return f"Please review {path}."


if __name__ == "__main__":
    server.run()
