"""An MCP server on the SDK's MCPServer (the 2026 protocol era): a tool that adds a tool and
announces the change on the server's subscription stream."""

from __future__ import annotations

from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("growing")


@server.tool()
def echo(text: str) -> str:
    """Say it back."""
    return text


@server.tool()
async def grow(name: str, ctx: Context) -> str:
    """Add a tool called `name` and say that the tool list changed."""

    def added() -> str:
        return f"I am {name}"

    server.add_tool(added, name=name, description=f"the {name} tool")
    await ctx.notify_tools_changed()
    return f"added {name}"


if __name__ == "__main__":
    server.run()
