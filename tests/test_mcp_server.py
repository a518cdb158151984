"""agentkit tools served over MCP: read by the official SDK's client, and by agentkit itself."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from agentkit import Agent, ChatClient
from agentkit._mcp_cli import _address
from agentkit.cli import main
from agentkit.mcp import MCPServer, build_server, serve_http
from agentkit.testing import FakeServer, text, tool_calls
from tests.conftest import ROOT
from tests.mcp_servers.served import add, divide, researcher

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


@contextlib.asynccontextmanager
async def serving_http(tools: Any) -> AsyncIterator[str]:
    """`serve_http` on 127.0.0.1, a free port, in this process: yields its URL."""
    ready = anyio.Event()
    urls: list[str] = []

    def on_ready(url: str) -> None:
        urls.append(url)
        ready.set()

    async with anyio.create_task_group() as group:
        group.start_soon(
            functools.partial(serve_http, tools, host="127.0.0.1", port=0, on_ready=on_ready)
        )
        with anyio.fail_after(10):
            await ready.wait()
        yield urls[0]
        group.cancel_scope.cancel()


async def test_sdk_client_over_streamable_http(server: FakeServer, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AGENTKIT_BASE_URL", server.url)  # for the served researcher agent
    monkeypatch.setenv("AGENTKIT_API_KEY", "k")
    with anyio.fail_after(30):
        async with serving_http([add, divide, researcher]) as url, Client(url) as client:
            assert url.startswith("http://127.0.0.1:") and url.endswith("/mcp")
            await check_served(client, server)


async def test_sdk_client_in_process_and_unknown_tools():
    async with Client(build_server([add], name="calc")) as client:
        missing = await client.call_tool("nope", {})
    assert missing.is_error
    assert missing.content[0].text == (  # type: ignore[union-attr]
        "error: there is no tool named 'nope' (available tools: add)"
    )


async def test_agentkit_consumes_agentkit_over_http(server: FakeServer, client: ChatClient):
    # (over stdio: examples/mcp_tools.py, run by tests/test_examples.py)
    server.enqueue(tool_calls(("h_add", {"a": 1, "b": 2}), ("h_divide", {"a": 1, "b": 0})))
    server.enqueue(text("3, and no division by zero"))
    with anyio.fail_after(30):
        async with serving_http([add, divide]) as url:
            over_http = MCPServer.http(url, prefix="h_", headers={"x-api-key": "secret"})
            agent = Agent("m", tools=[over_http], client=client)
            result = await agent.run("add")
    assert result.output == "3, and no division by zero"
    replies = [m["content"] for m in server.requests[1]["messages"][-2:]]
    assert replies == ["3", "error: ZeroDivisionError: float division by zero"]
    sent = {t["function"]["name"]: t["function"]["parameters"] for t in server.requests[0]["tools"]}
    assert sent["h_add"] == add.parameters


async def test_the_cli_serves_over_http_on_loopback(server: FakeServer):
    """`agentkit mcp serve --http 127.0.0.1:0` in its own process, read by the SDK's client."""
    command = [sys.executable, *SERVE, "--http", "127.0.0.1:0"]
    with anyio.fail_after(30):
        async with await anyio.open_process(command, env={**os.environ, **env_for(server)}) as proc:
            try:
                assert proc.stderr is not None
                said = b""
                async for piece in proc.stderr:  # "serving 3 tool(s) over MCP at http://..."
                    said += piece
                    if b"/mcp" in said:
                        break
                url = said.decode().split(" at ")[-1].split()[0]
                assert url.startswith("http://127.0.0.1:") and url.endswith("/mcp"), said
                async with Client(url) as client:
                    await check_served(client, server)
            finally:
                proc.terminate()


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str]):
    assert main(["mcp", "serve", "--tool", "tests.mcp_servers.served:add", "--http", "x:y"]) == 2
    assert "expected HOST:PORT" in capsys.readouterr().err
    assert main(["mcp", "serve", "--tool", "nowhere:add"]) == 2
    assert "cannot import 'nowhere'" in capsys.readouterr().err
    assert main(["mcp", "serve"]) == 2  # --tool is required


def test_http_addresses():
    assert _address("127.0.0.1:0") == ("127.0.0.1", 0)
    assert _address(":8000") == ("127.0.0.1", 8000)
    assert _address("8000") == ("127.0.0.1", 8000)
    assert _address("[::1]:9") == ("::1", 9)
    with pytest.raises(ValueError, match="expected HOST:PORT"):
        _address("localhost:99999")
