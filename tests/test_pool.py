"""One ChatClient across event loops and threads: a pool per loop, closed as its loop ends."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest

from agentkit import Agent, ChatClient, EventLoopError
from agentkit.testing import FakeServer, text
from tests.conftest import mock_transport

USER = [{"role": "user", "content": "Hi"}]
OK = {"choices": [{"message": {"content": "ok"}}]}


async def ask(client: ChatClient) -> str | None:
    with anyio.fail_after(10):
        completion = await client.complete(model="m", messages=USER)
    return completion.choices[0].message.content


def in_threads(*targets: Callable[[], Any]) -> list[Any]:
    """Run each target in its own thread at once; their results, or what they raised."""
    results: list[Any] = [None] * len(targets)

    def run(i: int) -> None:
        try:
            results[i] = targets[i]()
        except BaseException as exc:  # reported to the test, not lost in the thread
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(targets))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not any(thread.is_alive() for thread in threads)
    return results


def test_one_client_serves_successive_event_loops(server: FakeServer):
    server.enqueue(text("1"), text("2"), text("3"), text("4"))
    client = ChatClient(base_url=server.url, api_key="k")
    answers = [asyncio.run(ask(client)), anyio.run(ask, client, backend="trio")]
    answers += [anyio.run(ask, client), asyncio.run(ask(client))]
    gc.collect()  # pools of ended loops were closed by them: nothing left to warn about
    assert answers == ["1", "2", "3", "4"]


def test_an_agent_on_a_users_client_serves_successive_run_sync_and_asyncio_run(
    server: FakeServer,
):
    server.enqueue(text("1"), text("2"), text("3"))
    agent = Agent("m", client=ChatClient(base_url=server.url, api_key="k"))
    answers = [agent.run_sync("a").output, agent.run_sync("b").output]
    answers.append(asyncio.run(agent.run("c")).output)
    gc.collect()
    assert answers == ["1", "2", "3"]


@pytest.mark.parametrize("backends", [("asyncio", "asyncio"), ("asyncio", "trio")])
def test_one_client_serves_loops_in_threads_at_once(server: FakeServer, backends: Any):
    server.enqueue(text("a"), text("b"), text("c"), text("d"))
    client = ChatClient(base_url=server.url, api_key="k")
    both = threading.Barrier(2, timeout=10)

    async def twice() -> list[str | None]:
        first = await ask(client)
        await anyio.to_thread.run_sync(both.wait)  # the other loop holds its pool now too
        return [first, await ask(client)]

    results = in_threads(*(lambda b=b: anyio.run(twice, backend=b) for b in backends))
    assert sorted(sum(results, [])) == ["a", "b", "c", "d"]
    gc.collect()


def test_agent_run_sync_from_two_threads_at_once(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("AGENTKIT_BASE_URL", server.url)
    server.enqueue("x", "y", "z")
    agent = Agent("m")
    assert agent.run_sync("warm up").output == "x"  # its client now exists, with a pool
    results = in_threads(lambda: agent.run_sync("one"), lambda: agent.run_sync("two"))
    assert sorted(r.output for r in results) == ["y", "z"]


async def test_closing_leaves_other_loops_pools_alone(server: FakeServer):
    server.enqueue(text("mine"), text("theirs"), text("again"))
    client = ChatClient(base_url=server.url, api_key="k")
    assert await ask(client) == "mine"
    opened, close = threading.Event(), threading.Event()

    def other_loop() -> str | None:
        async def main() -> str | None:
            await ask(client)  # this loop's pool is open...
            opened.set()
            await anyio.to_thread.run_sync(close.wait, 10)
            return await ask(client)  # ...and still works after the other loop's aclose

        return anyio.run(main)

    thread_result: list[Any] = []
    thread = threading.Thread(target=lambda: thread_result.append(other_loop()))
    thread.start()
    await anyio.to_thread.run_sync(opened.wait, 10)
    await client.aclose()
    close.set()
    await anyio.to_thread.run_sync(thread.join, 10)
    assert thread_result == ["again"]


def test_a_given_http_client_used_from_another_running_loop_says_what_to_do():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=OK)

    http = httpx.AsyncClient(transport=mock_transport(handler))
    client = ChatClient(base_url="http://test/v1", http_client=http)
    assert anyio.run(ask, client) == "ok"
    assert anyio.run(ask, client, backend="trio") == "ok"  # its loop ended: this one may use it
    running, done = threading.Event(), threading.Event()

    async def hold() -> None:
        await ask(client)
        running.set()
        await anyio.to_thread.run_sync(done.wait, 10)

    def other() -> Any:
        running.wait(10)
        try:
            return anyio.run(ask, client)
        finally:
            done.set()

    held, refused = in_threads(lambda: anyio.run(hold), other)
    assert held is None
    assert isinstance(refused, EventLoopError) and isinstance(refused, RuntimeError)
    assert "own httpx.AsyncClient" in str(refused) and "leave http_client out" in str(refused)
