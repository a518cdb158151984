"""Workflow helpers: bounded fan-out in order, retry with backoff, saved conversations."""

from __future__ import annotations

import inspect
import json
import random
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import pytest
from pydantic import BaseModel

from agentkit import Agent, APIError
from agentkit.client import ChatClient
from agentkit.result import RunUsage
from agentkit.testing import FakeServer, http_error, text
from agentkit.workflow import gather, load_messages, map_concurrently, retry, save_messages


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


class Gauge:
    """Counts jobs running at once; each job holds until its own gate opens."""

    def __init__(self, count: int) -> None:
        self.started: list[int] = []
        self.finished: list[int] = []
        self.running = 0
        self.peak = 0
        self.gates = [anyio.Event() for _ in range(count)]

    async def job(self, i: int) -> int:
        self.started.append(i)
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await self.gates[i].wait()
        finally:
            self.running -= 1
        self.finished.append(i)
        return i * 10


async def _collect(into: list[Any], aw: Awaitable[Any]) -> None:
    into.append(await aw)


# --- gather --------------------------------------------------------------------------------


async def test_gather_keeps_input_order_whatever_the_finishing_order():
    gauge = Gauge(4)
    out: list[Any] = []
    with anyio.fail_after(2):
        async with anyio.create_task_group() as tg:
            jobs: list[Any] = [gauge.job(0), lambda: gauge.job(1), gauge.job(2), gauge.job(3)]
            tg.start_soon(_collect, out, gather(*jobs))
            await anyio.wait_all_tasks_blocked()
            assert sorted(gauge.started) == [0, 1, 2, 3]  # no limit: all at once
            for i in (3, 1, 0, 2):
                gauge.gates[i].set()
                await anyio.wait_all_tasks_blocked()
    assert gauge.finished == [3, 1, 0, 2]
    assert out == [[0, 10, 20, 30]]


async def test_gather_runs_at_most_limit_at_once():
    gauge = Gauge(5)
    out: list[Any] = []
    with anyio.fail_after(2):
        async with anyio.create_task_group() as tg:
            tg.start_soon(_collect, out, gather(*(gauge.job(i) for i in range(5)), limit=2))
            await anyio.wait_all_tasks_blocked()
            assert gauge.started == [0, 1]
            gauge.gates[1].set()  # one slot frees up: exactly one more job starts
            await anyio.wait_all_tasks_blocked()
            assert gauge.started == [0, 1, 2]
            for gate in gauge.gates:
                gate.set()
    assert gauge.peak == 2
    assert out == [[0, 10, 20, 30, 40]]


async def test_gather_of_nothing():
    assert await gather() == []
    assert await gather(limit=3) == []


async def test_first_failure_cancels_the_rest_and_is_raised_bare():
    cancelled: list[str] = []
    started = anyio.Event()

    async def slow() -> int:
        started.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled.append("slow")
            raise
        return 0  # pragma: no cover

    async def fails() -> int:
        await started.wait()
        raise KeyError("boom")

    with anyio.fail_after(2), pytest.raises(KeyError, match="boom"):
        await gather(slow(), fails())
    assert cancelled == ["slow"]


async def test_jobs_that_never_started_are_closed():
    ran: list[str] = []

    async def fails() -> None:
        raise ValueError("first")

    async def later() -> None:
        ran.append("later")  # pragma: no cover

    pending = later()
    with pytest.raises(ValueError, match="first"):
        await gather(fails(), pending, limit=1)
    assert ran == []
    assert inspect.getcoroutinestate(pending) == inspect.CORO_CLOSED  # no "never awaited"


async def test_simultaneous_failures_come_out_as_the_first_one():
    gate = anyio.Event()

    async def fails(name: str) -> None:
        await gate.wait()
        raise ValueError(name)  # both wake in the same round, before cancellation lands

    async def opens() -> None:
        gate.set()

    with pytest.raises(ValueError) as info:  # `except ValueError` works, never a group
        await gather(fails("a"), fails("b"), opens())
    other = "b" if str(info.value) == "a" else "a"
    assert info.value.__notes__ == [
        f"concurrent tasks failed at the same moment too: ValueError: {other}"
    ]


@pytest.mark.parametrize("anyio_backend", ["trio"])  # asyncio's loop itself re-raises SystemExit
async def test_a_failure_and_a_system_exit_come_out_as_the_system_exit():
    gate = anyio.Event()

    async def fails() -> None:
        await gate.wait()
        raise ValueError("ordinary")

    async def exits() -> None:
        await gate.wait()
        raise SystemExit(3)

    async def opens() -> None:
        gate.set()

    with pytest.raises(SystemExit):
        await map_concurrently(lambda job: job(), [fails, exits, opens], limit=3)


async def test_gather_rejects_bad_arguments():
    with pytest.raises(ValueError, match="limit must be at least 1"):
        await gather(limit=0)
    with pytest.raises(TypeError, match="expected an awaitable"):
        await gather(42)  # type: ignore[arg-type]


async def test_gather_is_cancelled_from_outside():
    gauge = Gauge(2)
    with anyio.move_on_after(0) as scope:  # cancelled at its first checkpoint
        await gather(gauge.job(0), gauge.job(1))
    assert scope.cancelled_caught
    assert gauge.finished == []


# --- map_concurrently ----------------------------------------------------------------------


async def test_map_takes_items_lazily_and_keeps_order():
    gauge = Gauge(5)
    taken: list[int] = []

    def items() -> Iterator[int]:
        for i in range(5):
            taken.append(i)
            yield i

    out: list[Any] = []
    with anyio.fail_after(2):
        async with anyio.create_task_group() as tg:
            tg.start_soon(_collect, out, map_concurrently(gauge.job, items(), limit=2))
            await anyio.wait_all_tasks_blocked()
            assert taken == [0, 1]  # not materialised up front
            for i in (4, 3, 2, 1, 0):  # gates may open before their job starts
                gauge.gates[i].set()
    assert gauge.peak == 2
    assert out == [[0, 10, 20, 30, 40]]


async def test_map_concurrently_really_is_concurrent():
    both = anyio.Event()
    arrived: list[int] = []

    async def meet(i: int) -> int:
        arrived.append(i)
        if len(arrived) == 2:
            both.set()
        await both.wait()  # deadlocks (then fails) unless both calls run at once
        return i

    with anyio.fail_after(2):
        assert await map_concurrently(meet, [1, 2]) == [1, 2]


async def test_map_stops_taking_items_after_a_failure():
    taken: list[int] = []

    def items() -> Iterator[int]:
        for i in range(10):
            taken.append(i)
            yield i

    async def check(i: int) -> int:
        await anyio.lowlevel.checkpoint()
        if i == 2:
            raise ValueError(f"bad item {i}")
        return i

    with pytest.raises(ValueError, match="bad item 2"):
        await map_concurrently(check, items(), limit=1)
    assert taken == [0, 1, 2]


async def test_map_of_nothing_and_bad_limit():
    assert await map_concurrently(Gauge(0).job, []) == []
    with pytest.raises(ValueError, match="limit must be at least 1"):
        await map_concurrently(Gauge(0).job, [1], limit=0)


# --- retry ---------------------------------------------------------------------------------


def flaky(failures: list[BaseException], result: str = "ok") -> tuple[Callable[[], Any], list[int]]:
    """An async callable raising each of ``failures`` in turn, then returning ``result``."""
    calls: list[int] = []

    async def attempt() -> str:
        calls.append(len(calls) + 1)
        await anyio.lowlevel.checkpoint()
        if len(calls) <= len(failures):
            raise failures[len(calls) - 1]
        return result

    return attempt, calls


async def test_retry_until_success_reporting_each_failure():
    fn, calls = flaky([TimeoutError("t1"), ConnectionError("c2")])
    seen: list[tuple[int, str]] = []
    result = await retry(fn, attempts=3, backoff=0, on_retry=lambda n, e: seen.append((n, str(e))))
    assert result == "ok"
    assert calls == [1, 2, 3]
    assert seen == [(1, "t1"), (2, "c2")]


async def test_retry_raises_the_last_error_when_attempts_run_out():
    fn, calls = flaky([ValueError("1"), ValueError("2"), ValueError("3")])
    with pytest.raises(ValueError, match="3"):
        await retry(fn, attempts=3, backoff=0)
    assert calls == [1, 2, 3]


async def test_retry_raises_other_errors_at_once():
    fn, calls = flaky([KeyError("not retried")])
    with pytest.raises(KeyError):
        await retry(fn, retry_on=(TimeoutError, ConnectionError), backoff=0)
    assert calls == [1]


async def test_retry_never_retries_cancellation():
    async def waits() -> None:
        calls.append(1)
        await anyio.sleep_forever()

    calls: list[int] = []
    with anyio.CancelScope() as scope:
        scope.cancel()
        await retry(waits, retry_on=BaseException, backoff=0)
    assert scope.cancelled_caught
    assert calls == [1]


async def test_backoff_doubles_up_to_the_cap_with_jitter(monkeypatch: pytest.MonkeyPatch):
    ranges: list[tuple[float, float]] = []

    def no_wait(low: float, high: float) -> float:
        ranges.append((low, high))
        return 0.0

    monkeypatch.setattr(random, "uniform", no_wait)
    fn, _ = flaky([OSError()] * 4)
    await retry(fn, attempts=5, backoff=1.0, max_backoff=3.0)
    assert ranges == [(0.5, 1.0), (1.0, 2.0), (1.5, 3.0), (1.5, 3.0)]


async def test_retry_needs_one_attempt():
    fn, _ = flaky([])
    with pytest.raises(ValueError, match="attempts must be at least 1"):
        await retry(fn, attempts=0)


# --- saved conversations -------------------------------------------------------------------

MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Météo à Zürich ? 🌦"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "weather", "arguments": '{"city": "Zürich"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "12°C"},
    {"role": "assistant", "content": "12°C."},
]


def listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


async def test_save_then_load_round_trips(tmp_path: Path):
    path = tmp_path / "runs" / "trip.json"  # the directory is created
    await save_messages(path, MESSAGES)
    assert await load_messages(path) == MESSAGES
    assert "Zürich" in path.read_text(encoding="utf-8")  # readable, not \u-escaped
    await save_messages(str(path), MESSAGES[:2])  # replaces the file
    assert await load_messages(str(path)) == MESSAGES[:2]
    assert listing(path.parent) == ["trip.json"]  # no temp file left


async def test_failed_save_keeps_the_previous_file(tmp_path: Path):
    path = tmp_path / "trip.json"
    await save_messages(path, MESSAGES)
    with pytest.raises(TypeError):
        await save_messages(path, [{"role": "user", "content": object()}])
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(OSError):
        await save_messages(tmp_path / "dir.json", MESSAGES)  # os.replace onto a directory
    assert await load_messages(path) == MESSAGES
    assert listing(tmp_path) == ["dir.json", "trip.json"]


async def test_load_missing_or_invalid(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        await load_messages(tmp_path / "nope.json")
    assert await load_messages(tmp_path / "nope.json", missing_ok=True) == []
    for bad in ({"role": "user"}, [{"content": "no role"}], ["text"]):
        (tmp_path / "bad.json").write_text(json.dumps(bad))
        with pytest.raises(ValueError, match="does not hold a list of chat messages"):
            await load_messages(tmp_path / "bad.json")


# --- the patterns of docs/workflows.md, end to end with Agent -------------------------------


class Outline(BaseModel):
    title: str
    sections: list[str]


def echo_last_user_message(body: dict[str, Any]) -> str:
    return f"draft of {body['messages'][-1]['content']}"


async def test_typed_output_feeds_a_fan_out(server: FakeServer, client: ChatClient):
    planner = Agent("m", instructions="Plan.", output_type=Outline, client=client)
    writer = Agent("m", instructions="Write.", client=client)
    outline = {"title": "Tests", "sections": ["why", "how", "when", "where", "who"]}
    server.enqueue(text(json.dumps(outline)))
    server.responder = echo_last_user_message  # concurrent requests: answer by content

    plan = (await planner.run("Topic: tests")).output
    drafts = await map_concurrently(
        lambda section: writer.run(f"{plan.title}: {section}"), plan.sections, limit=2
    )

    assert [d.output for d in drafts] == [f"draft of Tests: {s}" for s in outline["sections"]]
    assert server.requests[0]["response_format"]["json_schema"]["name"] == "Outline"
    assert sum((d.usage for d in drafts), RunUsage()).requests == 5


async def test_gather_runs_agents(server: FakeServer, client: ChatClient):
    writer = Agent("m", client=client)
    server.responder = echo_last_user_message
    results = await gather(*(writer.run(f"part {i}") for i in range(4)), limit=2)
    assert [r.output for r in results] == [f"draft of part {i}" for i in range(4)]


async def test_retry_reruns_a_failed_step(server: FakeServer, client: ChatClient):
    editor = Agent("m", client=client)  # the client fixture never retries by itself
    server.enqueue(http_error(500), "7/10")
    failures: list[tuple[int, str]] = []
    result = await retry(
        lambda: editor.run("Score it"),
        retry_on=APIError,
        backoff=0,
        on_retry=lambda n, exc: failures.append((n, type(exc).__name__)),
    )
    assert result.output == "7/10"
    assert failures == [(1, "InternalServerError")]


async def test_resume_a_failed_run_from_saved_messages(
    server: FakeServer, client: ChatClient, tmp_path: Path
):
    path = tmp_path / "plan.json"
    planner = Agent("m", instructions="Plan.", output_type=Outline, client=client)
    server.enqueue(http_error(503))
    with pytest.raises(APIError) as info:
        await planner.run("Topic: tests")
    await save_messages(path, info.value.messages)

    server.enqueue(text('{"title": "T", "sections": ["a"]}'))
    result = await planner.run(history=await load_messages(path))

    assert result.output == Outline(title="T", sections=["a"])
    assert server.requests[1]["messages"] == server.requests[0]["messages"]  # the same question


async def test_a_conversation_across_restarts(
    server: FakeServer, client: ChatClient, tmp_path: Path
):
    path = tmp_path / "chat.json"
    server.enqueue("Hi Ann.", "Your name is Ann.")
    for text_in in ("I am Ann.", "Who am I?"):
        history = await load_messages(path, missing_ok=True)
        result = await Agent("m", instructions="Chat.", client=client).run(text_in, history=history)
        await save_messages(path, result.messages)
    assert [m["content"] for m in await load_messages(path)] == [
        "Chat.", "I am Ann.", "Hi Ann.", "Who am I?", "Your name is Ann."
    ]  # fmt: skip
