"""agentkit tools served over MCP: read by the official SDK's client, and by agentkit itself."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import anyio
import pytest
from mcp import Client, StdioServerParameters

from agentkit import Agent, ChatClient
from agentkit.cli import main
from agentkit.mcp import MCPServer
from agentkit.testing import FakeServer, text, tool_calls
from tests.conftest import ROOT
from tests.mcp_servers.served import add, divide

SPECS = ["tests.mcp_servers.served:add", "tests.mcp_servers.served:divide",
         "tests.mcp_servers.served:researcher"]  # fmt: skip
SERVE = ["-m", "agentkit", "mcp", "serve", *(x for spec in SPECS for x in ("--tool", spec))]


def env_for(server: FakeServer) -> dict[str, str]:
    """What the served process needs: the repo on the path, the sub-agent's model endpoint."""
    return {"PYTHONPATH": str(ROOT), "AGENTKIT_BASE_URL": server.url, "AGENTKIT_API_KEY": "k"}


async def check_served(client: Client, server: FakeServer) -> None:
    listed = {t.name: t for t in (await client.list_tools()).tools}
    assert list(listed) == ["add", "divide", "research"]
    own = add.definition()["function"]
    assert (listed["add"].input_schema, listed["add"].description) == (
        own["parameters"],
        own["description"],
    )
    ok = await client.call_tool("add", {"a": 2, "b": 3})
    assert (ok.content[0].text, ok.is_error) == ("5", False)  # type: ignore[union-attr]
    bad = await client.call_tool("divide", {"a": 1, "b": 0})
    expected = await __import__("agentkit").Tool.from_function(divide).invoke('{"a": 1, "b": 0}')
    assert (bad.content[0].text, bad.is_error) == (expected.content, True)  # type: ignore[union-attr]
    invalid = await client.call_tool("add", {"a": "x"})
    assert invalid.is_error and "error: " in invalid.content[0].text  # type: ignore[union-attr]
    server.enqueue(text("Paris is in France."))
    research = await client.call_tool("research", {"input": "Where is Paris?"})
    assert research.content[0].text == "Paris is in France."  # type: ignore[union-attr]


async def test_sdk_client_over_stdio(server: FakeServer):
    params = StdioServerParameters(command=sys.executable, args=SERVE, env=env_for(server))
    with anyio.fail_after(30):
        async with Client(params) as client:
            await check_served(client, server)


@pytest.fixture(scope="module")
def http_url() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """``agentkit mcp serve --http 127.0.0.1:0`` in a subprocess, and the URL it prints."""
    with FakeServer() as model:
        env = {**os.environ, **env_for(model)}
        process = subprocess.Popen(
            [sys.executable, *SERVE, "--http", "127.0.0.1:0"],
            env=env, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        try:
            assert process.stderr is not None
            line = process.stderr.readline()  # bounded by pytest-timeout
            assert "serving 3 tool(s) over MCP at http://127.0.0.1:" in line, line
            yield line.rsplit(" ", 1)[1].strip(), process
        finally:
            process.terminate()
            process.wait(timeout=10)
            if process.stderr is not None:
                process.stderr.close()


async def test_sdk_client_over_streamable_http(http_url, server: FakeServer):
    url, _ = http_url
    with anyio.fail_after(30):
        async with Client(url) as client:
            listed = [t.name for t in (await client.list_tools()).tools]
            ok = await client.call_tool("add", {"a": 2, "b": 3})
    assert listed == ["add", "divide", "research"]
    assert ok.content[0].text == "5"  # type: ignore[union-attr]


async def test_agentkit_consumes_agentkit_over_http_and_stdio(
    http_url, server: FakeServer, client: ChatClient
):
    url, _ = http_url
    over_http = MCPServer.http(url, prefix="h_", headers={"x-api-key": "secret"})
    over_stdio = MCPServer.stdio(sys.executable, SERVE, env=env_for(server), prefix="s_")
    server.enqueue(tool_calls(("h_add", {"a": 1, "b": 2}), ("s_add", {"a": 3, "b": 4})))
    server.enqueue(text("3 and 7"))
    agent = Agent("m", tools=[over_http, over_stdio], client=client)
    with anyio.fail_after(30):
        result = await agent.run("add")
    assert result.output == "3 and 7"
    assert [m["content"] for m in server.requests[1]["messages"][-2:]] == ["3", "7"]
    sent = {t["function"]["name"]: t["function"]["parameters"] for t in server.requests[0]["tools"]}
    assert sent["h_add"] == sent["s_add"] == add.parameters


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str]):
    assert main(["mcp", "serve", "--tool", "tests.mcp_servers.served:add", "--http", "x:y"]) == 2
    assert "expected HOST:PORT" in capsys.readouterr().err
    assert main(["mcp", "serve", "--tool", "nowhere:add"]) == 2
    assert "cannot import 'nowhere'" in capsys.readouterr().err
    assert main(["mcp", "serve"]) == 2  # --tool is required
