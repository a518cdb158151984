"""MCP servers nobody here wrote, from PyPI, run offline over stdio and driven by an agent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anyio

from agentkit import Agent, ChatClient
from agentkit.mcp import MCPServer
from agentkit.testing import FakeServer, text, tool_calls


async def test_mcp_server_time(server: FakeServer, client: ChatClient):
    time = MCPServer.stdio(sys.executable, ["-m", "mcp_server_time", "--local-timezone", "UTC"])
    server.enqueue(tool_calls(("get_current_time", {"timezone": "Asia/Tokyo"})))
    server.enqueue(text("It is morning in Tokyo."))
    with anyio.fail_after(40):
        result = await Agent("m", tools=[time], client=client).run("Time in Tokyo?")
    sent = {t["function"]["name"] for t in server.requests[0]["tools"]}
    assert {"get_current_time", "convert_time"} <= sent
    reply = json.loads(server.requests[1]["messages"][-1]["content"])  # structuredContent
    assert reply["timezone"] == "Asia/Tokyo" and reply["datetime"].endswith("+09:00")
    assert result.output == "It is morning in Tokyo."


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", *args],
        cwd=repo, check=True, capture_output=True, timeout=30,
    )  # fmt: skip


async def test_mcp_server_git_on_a_repository_made_here(
    server: FakeServer, client: ChatClient, tmp_path: Path
):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "README.md").write_text("hello\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-qm", "First commit: say hello")
    (repo / "notes.txt").write_text("draft\n")
    mcp = MCPServer.stdio(
        sys.executable, ["-m", "mcp_server_git", "--repository", str(repo)],
        prefix="", allow={"git_status", "git_log"},
    )  # fmt: skip
    server.enqueue(tool_calls(("git_status", {"repo_path": str(repo)}),
                              ("git_log", {"repo_path": str(repo), "max_count": 5})))  # fmt: skip
    server.enqueue(text("One commit; notes.txt is untracked."))
    with anyio.fail_after(40):
        result = await Agent("m", tools=[mcp], client=client).run("What's in the repo?")
    assert sorted(t["function"]["name"] for t in server.requests[0]["tools"]) == [
        "git_log",
        "git_status",
    ]
    status, log = (m["content"] for m in server.requests[1]["messages"][-2:])
    assert "notes.txt" in status
    assert "First commit: say hello" in log
    assert result.output == "One commit; notes.txt is untracked."
