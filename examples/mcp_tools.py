"""MCP both ways: tools served over MCP by one process, used by an agent in another.

This file is both sides: ``python examples/mcp_tools.py serve`` serves `get_forecast` over
MCP on stdio (as ``agentkit mcp serve --tool module:get_forecast`` would), and without an
argument it starts that server as a subprocess and lets an agent call its tool. Any MCP
server works the same way: ``MCPServer.stdio("uvx", ["mcp-server-git"])``...

Needs: pip install 'agentkit-loop[mcp]'
Run: AGENTKIT_BASE_URL=http://127.0.0.1:8000/v1 python examples/mcp_tools.py
"""

import os
import sys

import anyio

from agentkit import Agent, RunFinished, ToolCallFinished, tool
from agentkit.mcp import MCPServer, serve_stdio


@tool
def get_forecast(city: str) -> str:
    """Tomorrow's weather forecast for a city (made-up demo data).

    Args:
        city: The city name, e.g. "Paris".
    """
    return f"{city}: 21°C and sunny tomorrow"


async def main() -> None:
    if sys.argv[1:] == ["serve"]:
        await serve_stdio([get_forecast], name="forecasts")
        return
    forecasts = MCPServer.stdio(sys.executable, [__file__, "serve"], prefix="mcp_")
    agent = Agent(
        os.environ.get("AGENTKIT_MODEL", "agentkit-demo"),
        instructions="Answer with the forecast tool.",
        tools=[forecasts],
    )
    async with forecasts:  # one connection for every run inside
        async with forecasts.tools_for_run() as tools:
            print("tools over MCP:", ", ".join(t.name for t in tools))
        async with agent.stream("What is the weather forecast for Paris?") as events:
            async for event in events:
                if isinstance(event, ToolCallFinished):
                    print(f"{event.name} -> {event.content}")
                elif isinstance(event, RunFinished):
                    print("answer:", event.result.output)


if __name__ == "__main__":
    anyio.run(main)
