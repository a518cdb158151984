"""Durable runs: stop a run anywhere, resume it from its checkpoint, repeat no tool call."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import anyio
import pytest

from agentkit.agent import Agent
from agentkit.checkpoint import CheckpointStore, FileCheckpointStore, RunState
from agentkit.client import ChatClient
from agentkit.errors import APIResponseError, AuthenticationError, RunClaimedError
from agentkit.events import ReasoningDelta, RunFinished, TextDelta, ToolCallFinished
from agentkit.result import RunUsage
from agentkit.testing import FakeServer, http_error, text, tool_calls
from agentkit.tools import tool
from tests.conftest import run


class MemoryStore:
    """An in-memory CheckpointStore that reports each save."""

    def __init__(self) -> None:
        self.states: dict[str, dict[str, Any]] = {}
        self.saves: list[dict[str, Any]] = []
        self.saved = anyio.Event()
        self.claimed: set[str] = set()

    async def claim(self, run_id: str) -> None:
        if run_id in self.claimed:
            raise RunClaimedError(run_id)
        self.claimed.add(run_id)

    async def release(self, run_id: str) -> None:
        self.claimed.discard(run_id)

    async def save(self, run_id: str, state: RunState) -> None:
        data = json.loads(json.dumps(state.to_dict()))
        self.states[run_id] = data
        self.saves.append(data)
        self.saved.set()
        self.saved = anyio.Event()

    async def load(self, run_id: str) -> RunState | None:
        data = self.states.get(run_id)
        return None if data is None else RunState.from_dict(data)

    async def delete(self, run_id: str) -> None:
        self.states.pop(run_id, None)


def script(server: FakeServer) -> None:
    server.enqueue(tool_calls(("fast", {"n": 1}), ("slow", {"n": 2})))
    server.enqueue("3")


def make_agent(
    client: ChatClient,
    calls: list[str],
    stop: anyio.CancelScope | None = None,
    store: MemoryStore | None = None,
) -> Agent[str]:
    @tool
    async def fast(n: int) -> int:
        """Returns at once."""
        calls.append("fast")
        return n

    @tool
    async def slow(n: int) -> int:
        """Stops the run (the first time) once `fast` is checkpointed."""
        calls.append("slow")
        if stop is not None and store is not None:
            while not any("0" in s["results"] for s in store.saves):
                await store.saved.wait()
            stop.cancel()  # like a crash: the run ends here, mid-turn
            await anyio.sleep_forever()
        return n

    return Agent("m", tools=[fast, slow], client=client)


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
@pytest.mark.parametrize("stream", [False, True])
async def test_resume_after_stop_mid_turn_skips_completed_tools(
    server: FakeServer, stream: bool
) -> None:
    store = MemoryStore()
    first_calls: list[str] = []
    async with ChatClient(base_url=server.url, api_key="k", max_retries=0) as client:
        script(server)
        reference = await make_agent(client, []).run("sum")

        script(server)
        with anyio.fail_after(5), anyio.CancelScope() as stop:
            await run(
                make_agent(client, first_calls, stop, store),
                "sum",
                stream=stream,
                checkpoint=store,
                run_id="r1",
            )
        assert stop.cancelled_caught
        assert sorted(first_calls) == ["fast", "slow"]
        saved = store.states["r1"]
        assert saved["steps"] == 1
        assert [c["id"] for c in saved["pending"]] == ["call_1", "call_2"]
        assert list(saved["results"]) == ["0"]  # the first call, by position

        server.reset()
        server.enqueue("3")
        resumed_calls: list[str] = []
        fresh = make_agent(client, resumed_calls)
        result = await run(fresh, "ignored on resume", stream=stream, checkpoint=store, run_id="r1")
    assert resumed_calls == ["slow"]  # `fast` completed before the stop: not run again
    assert result.output == reference.output
    assert result.messages == reference.messages
    assert result.steps == 2
    assert result.run_id == "r1"
    assert server.requests[0]["messages"] == reference.messages[:-1]
    assert "r1" not in store.states  # a finished run forgets its checkpoint


async def test_resume_after_fatal_error_on_second_request(
    server: FakeServer, client: ChatClient, tmp_path: Path
) -> None:
    store = FileCheckpointStore(tmp_path / "runs")
    calls: list[str] = []
    server.enqueue(tool_calls(("fast", {"n": 1}), ("slow", {"n": 2})), http_error(401))
    with pytest.raises(AuthenticationError) as caught:
        await make_agent(client, calls).run("sum", checkpoint=store, run_id="r2")
    assert [m["role"] for m in caught.value.messages] == ["user", "assistant", "tool", "tool"]
    assert (tmp_path / "runs" / "r2.json").exists()

    server.enqueue("3")
    again: list[str] = []
    result = await make_agent(client, again).run(checkpoint=store, run_id="r2")
    assert again == []
    assert result.output == "3"
    assert result.usage.requests == 2  # the failed request reported no usage
    assert result.new_messages == result.messages
    assert not (tmp_path / "runs" / "r2.json").exists()


async def test_checkpoint_without_run_id_gets_one(server: FakeServer, client: ChatClient) -> None:
    store = MemoryStore()
    server.enqueue(tool_calls(("fast", {"n": 1})), "1")
    result = await make_agent(client, []).run("go", checkpoint=store)
    assert result.run_id and len(result.run_id) == 32
    # at the start, after each request and after the tool call
    assert [s["steps"] for s in store.saves] == [0, 1, 1, 2]


async def test_file_store_round_trip(tmp_path: Path) -> None:
    store: CheckpointStore = FileCheckpointStore(tmp_path)
    state = RunState(
        messages=[{"role": "user", "content": "é"}],
        usage=RunUsage(requests=1, total_tokens=5),
        steps=1,
        pending=[{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
        results={"0": {"content": "x", "is_error": False, "duration": 0.1}},
        reasoning="hm",
    )
    assert await store.load("a") is None
    await store.save("a", state)
    await store.save("a", state)  # replaces
    assert [p.name async for p in anyio.Path(tmp_path).iterdir()] == [
        "a.json"
    ]  # no temp files left behind
    loaded = await store.load("a")
    assert loaded == state
    await store.delete("a")
    await store.delete("a")
    assert await store.load("a") is None


@pytest.mark.parametrize("bad", ["", "..", "a/b", "a\\b"])
async def test_file_store_rejects_unsafe_ids(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="run_id"):
        await FileCheckpointStore(tmp_path).save(bad, RunState(messages=[]))


def test_state_version_checked() -> None:
    data = RunState(messages=[]).to_dict()
    assert RunState.from_dict(json.loads(json.dumps(data))) == RunState(messages=[])
    with pytest.raises(ValueError, match="version"):
        RunState.from_dict({**data, "version": 99})


CRASHING_RUN = textwrap.dedent(
    """
    import json, os, sys, time
    from pathlib import Path
    from agentkit.agent import Agent
    from agentkit.checkpoint import FileCheckpointStore
    from agentkit.tools import tool

    directory = Path(sys.argv[1])

    @tool
    def fast(n: int) -> int:
        \"\"\"Record the call.\"\"\"
        with open(directory / "fast.log", "a") as log:
            log.write("ran\\n")
        return n

    @tool
    def slow(n: int) -> int:
        \"\"\"Die hard once fast's result is on disk.\"\"\"
        state = directory / "runs" / "job.json"
        for _ in range(500):
            if state.exists() and "0" in json.loads(state.read_text())["results"]:
                os._exit(3)  # no cleanup, like a killed process
            time.sleep(0.01)
        return n

    Agent("m", tools=[fast, slow]).run_sync(
        "sum", checkpoint=FileCheckpointStore(directory / "runs"), run_id="job")
    """
)


async def test_resume_in_another_process_after_a_hard_crash(
    server: FakeServer, client: ChatClient, tmp_path: Path
) -> None:
    script(server)
    (tmp_path / "crash.py").write_text(CRASHING_RUN)
    env = {
        **os.environ,
        "AGENTKIT_BASE_URL": server.url,
        "AGENTKIT_API_KEY": "k",
        "PYTHONPATH": str(Path(__file__).parent.parent),
    }
    with anyio.fail_after(30):
        done = await anyio.run_process(
            [sys.executable, str(tmp_path / "crash.py"), str(tmp_path)], env=env, check=False
        )
    assert done.returncode == 3, done.stderr.decode()
    assert (tmp_path / "fast.log").read_text() == "ran\n"

    calls: list[str] = []
    store = FileCheckpointStore(tmp_path / "runs")
    result = await make_agent(client, calls).run(checkpoint=store, run_id="job")
    assert calls == ["slow"]
    assert result.output == "3"
    assert [m.get("content") for m in result.messages if m["role"] == "tool"] == ["1", "2"]


class Recording(Agent[str]):
    """Records the JSON input and output of every side effect, or replays a record.

    What a durable execution engine does with `Agent._model_request` / `_model_stream` and
    `Agent._call_tool`: run each once, keep its result, and answer from the record on replay.
    """

    def __init__(self, *args: Any, tape: dict[str, Any], replay: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tape = tape
        self.replay = replay

    def _key(self, kind: str, data: dict[str, Any]) -> str:
        return f"{kind} {json.dumps(data)}"  # inputs are JSON

    def _keep(self, key: str, output: dict[str, Any]) -> dict[str, Any]:
        self.tape[key] = json.dumps(output)  # outputs are JSON
        return output

    async def _model_request(self, params: dict[str, Any]) -> dict[str, Any]:
        key = self._key("model", params)
        if self.replay:
            return dict(json.loads(self.tape[key]))
        return self._keep(key, await super()._model_request(params))

    async def _model_stream(
        self, params: dict[str, Any]
    ) -> AsyncGenerator[ReasoningDelta | TextDelta | dict[str, Any], None]:
        key = self._key("model", params)
        if self.replay:
            yield dict(json.loads(self.tape[key]))
            return
        async for item in super()._model_stream(params):
            yield self._keep(key, item) if isinstance(item, dict) else item

    async def _call_tool(self, call: dict[str, Any], run: Any) -> dict[str, Any]:
        key = self._key("tool", call)
        if self.replay:
            return dict(json.loads(self.tape[key]))
        return self._keep(key, await super()._call_tool(call, run))


@pytest.mark.parametrize("stream", [False, True])
async def test_a_run_replays_from_its_recorded_side_effects(
    server: FakeServer, client: ChatClient, stream: bool
) -> None:
    calls: list[str] = []

    @tool
    async def double(n: int) -> int:
        """Double a number."""
        calls.append("double")
        return 2 * n

    helper = Agent("sub", client=client).as_tool("helper", "Answers questions.")
    server.enqueue(
        tool_calls(("double", {"n": 2}), ("helper", {"input": "why?"}), reasoning="both"),
        text("because", usage={"prompt_tokens": 3, "completion_tokens": 1}),  # the sub-agent
        text("4, because", reasoning="done", usage={"prompt_tokens": 9, "completion_tokens": 2}),
    )
    tape: dict[str, Any] = {}

    def agent(replay: bool) -> Recording:
        return Recording("m", tools=[double, helper], client=client, tape=tape, replay=replay)

    store = MemoryStore()
    recorded = await run(agent(False), "go", stream=stream, checkpoint=store, run_id="rec")
    assert recorded.output == "4, because"
    assert store.saves[1]["messages"][1]["reasoning_content"] == "both"  # kept in checkpoints
    assert sorted(key.split()[0] for key in tape) == ["model", "model", "tool", "tool"]
    assert recorded.usage.requests == 3  # the sub-agent's request, from the tool's outcome
    sent = len(server.requests)

    replayed = await run(agent(True), "go", stream=stream, checkpoint=store, run_id="rec")
    assert len(server.requests) == sent  # no request made
    assert calls == ["double"]  # no tool run again
    assert replayed == recorded
    assert replayed.messages[1]["reasoning_content"] == "both"
    if stream:
        events = [e async for e in agent(True).stream("go", checkpoint=store, run_id="rec")]
        assert [type(e) for e in events[-4:-2]] == [ToolCallFinished, ToolCallFinished]
        assert isinstance(events[-1], RunFinished) and events[-1].result == recorded


async def test_a_streamed_request_must_end_with_its_completion(client: ChatClient) -> None:
    class Broken(Agent[str]):
        async def _model_stream(
            self, params: dict[str, Any]
        ) -> AsyncGenerator[ReasoningDelta | TextDelta | dict[str, Any], None]:
            yield TextDelta(text="half")

    with pytest.raises(APIResponseError, match="without a completion") as caught:
        async for _ in Broken("m", client=client).stream("go"):
            pass
    assert caught.value.messages == [{"role": "user", "content": "go"}]
