"""MCPServer as a toolset: tools, results and faults, against a bare JSON-RPC stdio server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from inline_snapshot import snapshot

from agentkit import Agent, ChatClient, Tool, ToolDefinitionError, tool
from agentkit.mcp import MCPServer, MCPServerError
from agentkit.testing import FakeServer, text, tool_calls
from tests.conftest import run

RAW = str(Path(__file__).parent / "mcp_servers" / "raw.py")


def raw(**options) -> MCPServer:
    return MCPServer.stdio(sys.executable, [RAW], **options)


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def by_name(tools: Any) -> dict[str, Tool[..., Any]]:
    return {t.name: t for t in tools}


@pytest.mark.parametrize("stream", [False, True])
async def test_agent_calls_an_mcp_tool_beside_a_local_one(
    server: FakeServer, client: ChatClient, stream: bool
):
    server.enqueue(tool_calls(("mcp_echo", {"text": "hi"}), ("add", {"a": 1, "b": 2})))
    server.enqueue(text("done"))
    agent = Agent("m", tools=[add, raw(prefix="mcp_")], client=client)
    with anyio.fail_after(20):
        result = await run(agent, "go", stream=stream)  # the run opens and closes the server
    assert result.output == "done"
    sent = {t["function"]["name"]: t["function"] for t in server.requests[0]["tools"]}
    assert list(sent)[:2] == ["add", "mcp_echo"]
    assert sent["mcp_echo"] == snapshot(
        {
            "name": "mcp_echo",
            "parameters": {
                "type": "object",
                "properties": {"text": {"type": "string"}},
                "required": ["text"],
            },
            "description": "Say it back.",
        }
    )
    assert [m["content"] for m in server.requests[1]["messages"][-2:]] == ["hi", "3"]


async def test_concurrent_runs_share_one_connection(server: FakeServer, client: ChatClient):
    server.enqueue(tool_calls(("pid", {})), tool_calls(("pid", {})), text("a"), text("b"))
    mcp = raw()
    agent = Agent("m", tools=[mcp], client=client)
    outputs: list[str] = []

    async def one() -> None:
        outputs.append((await agent.run("pid?")).output)

    with anyio.fail_after(20):
        async with mcp:
            async with anyio.create_task_group() as group:
                group.start_soon(one)
                group.start_soon(one)
    pids = {
        r["messages"][-1]["content"] for r in server.requests if r["messages"][-1]["role"] == "tool"
    }
    assert sorted(outputs) == ["a", "b"] and len(pids) == 1


async def test_a_server_killed_mid_call_is_an_error_result_then_reconnects():
    mcp = raw()
    with anyio.fail_after(20):
        async with mcp, mcp.tools_for_run() as listed:
            tools = by_name(listed)
            before = (await tools["pid"].invoke("{}")).content
            crashed = await tools["crash"].invoke("{}")
            after = await tools["pid"].invoke("{}")
    assert crashed.is_error and "went away during the call" in crashed.content
    assert crashed.content.endswith("the next call reconnects")
    assert not after.is_error and after.content != before


async def test_a_server_that_never_answers_times_out_and_is_replaced():
    mcp = raw(timeout=0.5)
    with anyio.fail_after(20):
        async with mcp, mcp.tools_for_run() as listed:
            tools = by_name(listed)
            before = (await tools["pid"].invoke("{}")).content
            hung = await tools["hang"].invoke("{}")
            after = await tools["pid"].invoke("{}")
    assert (hung.content, hung.error_type) == (
        "error: TimeoutError: no result within 0.5s",
        "TimeoutError",
    )
    assert not after.is_error and after.content != before


async def test_malformed_error_and_media_results():
    with anyio.fail_after(20):
        async with raw().tools_for_run() as listed:
            tools = by_name(listed)
            malformed = await tools["malformed"].invoke("{}")
            failed = await tools["fail"].invoke("{}")
            media = await tools["media"].invoke("{}")
    assert malformed.is_error
    assert "sent a malformed result: content: Input should be a valid list" in malformed.content
    assert (failed.content, failed.is_error) == ("no such city", True)
    assert media.content == snapshot("""\
a red dot
[image: image/png, 8 bytes; not shown, tool replies are text]
[resource file:///notes.txt (text/plain)]
buy milk
[resource file:///a.bin: 3 bytes of binary; not shown]
[resource link: file:///big.csv (big.csv)]\
""")


async def test_tool_list_change_reaches_the_next_run(server: FakeServer, client: ChatClient):
    server.enqueue(tool_calls(("grow", {})), text("grown"), text("second run"))
    mcp = raw()
    agent = Agent("m", tools=[mcp], client=client)
    with anyio.fail_after(20):
        async with mcp:
            await agent.run("grow")
            await anyio.sleep(0.1)  # the notification arrives right after the result
            await agent.run("again")
    names = [[t["function"]["name"] for t in r["tools"]] for r in server.requests]
    assert "extra" not in names[0] and "extra" in names[2]


async def test_allow_deny_prefix_and_approval(server: FakeServer, client: ChatClient):
    mcp = raw(allow={"echo", "pid", "fail"}, deny={"fail"}, prefix="r.", requires_approval={"echo"})
    server.enqueue(tool_calls(("r_echo", {"text": "x"})), text("ok"))
    with anyio.fail_after(20):
        async with mcp.tools_for_run() as tools:
            assert [(t.name, t.requires_approval) for t in tools] == [
                ("r_echo", True),
                ("r_pid", False),
            ]
        result = await Agent("m", tools=[mcp], client=client).run("echo")
    assert result.messages[-2]["content"] == (
        "error: 'r_echo' needs the user's approval and no approve callback is configured; "
        "it was not run"
    )


async def test_strict_only_where_the_schema_allows_and_an_approved_call_runs(
    server: FakeServer, client: ChatClient
):
    mcp = MCPServer.stdio(
        sys.executable, [RAW, "--open"], allow={"echo", "labels"}, requires_approval=True
    )
    asked: list[str] = []

    def approve(request: Any) -> bool:
        asked.append(request.name)
        return True

    server.enqueue(tool_calls(("echo", {"text": "approved"})), text("done"))
    agent = Agent("m", tools=[mcp], client=client, strict_tools=True, approve=approve)
    with anyio.fail_after(20):
        result = await agent.run("echo")
    sent = {t["function"]["name"]: t["function"] for t in server.requests[0]["tools"]}
    assert sent["echo"]["strict"] is True
    assert sent["echo"]["parameters"]["additionalProperties"] is False
    assert "strict" not in sent["labels"]  # strict would change what it accepts: sent as given
    assert sent["labels"]["parameters"] == {
        "type": "object",
        "properties": {"labels": {"type": "object", "additionalProperties": {"type": "string"}}},
    }
    assert asked == ["echo"]
    assert result.messages[-2]["content"] == "approved"


async def test_name_clashes_fail_at_run_start(client: ChatClient):
    @tool
    def echo(text: str) -> str:
        """A local echo."""
        return text

    with anyio.fail_after(20):
        with pytest.raises(ToolDefinitionError, match="'echo' of MCPServer.*clashes with a local"):
            await Agent("m", tools=[echo, raw()], client=client).run("x")
        with pytest.raises(ToolDefinitionError, match="clashes with MCPServer"):
            await Agent("m", tools=[raw(), raw()], client=client).run("x")


async def test_a_server_that_cannot_start_fails_the_run_clearly(client: ChatClient):
    mcp = MCPServer.stdio("/nonexistent/mcp-server", name="ghost")
    with anyio.fail_after(20), pytest.raises(MCPServerError, match="cannot connect to MCPServer"):
        await Agent("m", tools=[mcp], client=client).run("x")


async def test_resources_and_prompts_from_code():
    with anyio.fail_after(20):
        async with raw() as mcp:
            resources = await mcp.list_resources()
            contents = await mcp.read_resource("notes://today")
            prompts = await mcp.list_prompts()
            messages = await mcp.get_prompt("review", {"path": "a.py"})
    assert [r.uri for r in resources] == ["notes://today"]
    assert [c.text for c in contents] == ["buy milk"]  # type: ignore[union-attr]
    assert [p.name for p in prompts] == ["review"]
    assert messages == [{"role": "user", "content": "Please review a.py."}]
    with pytest.raises(RuntimeError, match="async with"):
        await raw().list_resources()


def test_importing_agentkit_does_not_import_mcp_and_a_missing_extra_says_what_to_install():
    code = (
        "import sys, agentkit\n"
        "from agentkit import Agent, Toolset\n"
        "assert 'mcp' not in sys.modules, 'agentkit imported mcp'\n"
        "sys.modules['mcp'] = None\n"
        "try:\n"
        "    import agentkit.mcp\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    assert "pip install 'agentkit-loop[mcp]'" in done.stdout


async def test_tool_list_change_on_a_2026_server_reaches_the_next_run():
    growing = MCPServer.stdio(sys.executable, [str(Path(RAW).parent / "growing.py")])
    with anyio.fail_after(30):
        async with growing:
            async with growing.tools_for_run() as tools:
                assert growing.client.protocol_version >= "2026"
                before = [t.name for t in tools]
                reply = await by_name(tools)["grow"].invoke('{"name": "extra"}')
            with anyio.fail_after(5):
                while True:  # the event arrives on the subscription stream, after the reply
                    async with growing.tools_for_run() as tools:
                        if "extra" in [t.name for t in tools]:
                            break
                    await anyio.sleep(0.05)
            extra = await by_name(tools)["extra"].invoke("{}")
    assert before == ["echo", "grow"] and reply.content == '{"result":"added extra"}'
    assert extra.content == '{"result":"I am extra"}'


async def test_a_server_that_never_speaks_fails_within_connect_timeout(client: ChatClient):
    mute = MCPServer.stdio(sys.executable, ["-c", "import time; time.sleep(30)"], connect_timeout=1)
    with (
        anyio.fail_after(10),
        pytest.raises(MCPServerError, match=r"did not (answer|list its tools) within 1s"),
    ):
        await Agent("m", tools=[mute], client=client).run("x")


def test_options_are_checked_and_the_client_needs_a_connection():
    with pytest.raises(ValueError, match="must be > 0"):
        raw(timeout=0)
    with pytest.raises(RuntimeError, match="async with server"):
        raw().client  # noqa: B018
    assert repr(raw()) == "MCPServer('raw.py')"
    assert repr(MCPServer.http("http://127.0.0.1:1/mcp")) == "MCPServer('http://127.0.0.1:1/mcp')"


def test_an_http_server_name_never_shows_credentials():
    secret = MCPServer.http("https://user:pw@mcp.example.com:8443/mcp?key=k", headers={"a": "b"})
    assert repr(secret) == "MCPServer('https://mcp.example.com:8443/mcp')"


async def test_resources_as_tools_only_when_asked():
    with anyio.fail_after(20):
        async with raw(prefix="r_", resource_tools=True).tools_for_run() as listed:
            tools = by_name(listed)
            found = await tools["r_list_resources"].invoke("{}")
            read = await tools["r_read_resource"].invoke('{"uri": "notes://today"}')
        async with raw().tools_for_run() as plain:
            assert "list_resources" not in by_name(plain)
    assert found.content == ('[{"name":"today","uri":"notes://today","mimeType":"text/plain"}]')
    assert read.content == "buy milk"
