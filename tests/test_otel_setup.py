"""agentkit.otel: switching it on (one call, an agent, the environment), trace context, --trace."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agentkit.otel
from agentkit import Agent, ChatClient, on_retry, tool
from agentkit.cli import main
from agentkit.errors import InvalidRequestError
from agentkit.interceptors import Interceptor
from agentkit.otel import OTelInterceptor
from agentkit.testing import FakeServer, rate_limit, text, tool_calls
from tests.conftest import ROOT


@pytest.fixture(autouse=True)
def _no_process_wide_interceptors() -> Iterator[None]:
    yield
    Agent.default_interceptors = ()


def defaults() -> tuple[Interceptor, ...]:
    """Read afresh each time (mypy would narrow the attribute across assignments)."""
    return Agent.default_interceptors


def _recording() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@tool(requires_approval=True)
def delete(path: str) -> str:
    """Delete a file."""
    return f"deleted {path}"


# --- switching it on ------------------------------------------------------------------------


async def test_instrument_applies_to_every_agent_made_before_or_after(
    server: FakeServer, client: ChatClient
):
    before = Agent("m", client=client)
    provider, exporter = _recording()
    interceptor = agentkit.otel.instrument(tracer_provider=provider)
    after = Agent("m", name="later", client=client)
    assert defaults() == (interceptor,)
    server.enqueue("one", "two")
    await before.run("a")
    await after.run("b")
    assert [s.name for s in exporter.get_finished_spans()] == [
        "chat m", "invoke_agent", "chat m", "invoke_agent later",
    ]  # fmt: skip
    again = agentkit.otel.instrument(tracer_provider=provider, capture_content=True)
    assert defaults() == (again,)  # replaced, not doubled
    agentkit.otel.uninstrument()
    assert defaults() == ()
    server.enqueue("three")
    await after.run("c")
    assert len(exporter.get_finished_spans()) == 4


async def test_process_wide_interceptors_wrap_the_agents_own(
    server: FakeServer, client: ChatClient
):
    outer_provider, outer = _recording()
    inner_provider, inner = _recording()
    agentkit.otel.instrument(tracer_provider=outer_provider)
    agent = Agent(
        "m", client=client, interceptors=[OTelInterceptor(tracer_provider=inner_provider)]
    )
    server.enqueue("hi")
    await agent.run("a")
    (outer_run,) = [s for s in outer.get_finished_spans() if s.name == "invoke_agent"]
    (inner_run,) = [s for s in inner.get_finished_spans() if s.name == "invoke_agent"]
    assert inner_run.parent is not None and outer_run.context is not None
    assert inner_run.parent.span_id == outer_run.context.span_id


def test_a_negative_content_cap_is_refused():
    with pytest.raises(InvalidRequestError, match="max_content_length must be >= 0"):
        OTelInterceptor(max_content_length=-1)


def test_the_environment_switches_it_on(monkeypatch: pytest.MonkeyPatch):
    Agent("m")
    assert defaults() == ()
    monkeypatch.setenv("AGENTKIT_OTEL", "1")
    Agent("m")
    Agent("m")
    (interceptor,) = defaults()
    assert isinstance(interceptor, OTelInterceptor)
    assert repr(interceptor) == "OTelInterceptor(capture_content=False, propagate_context=False)"


def test_off_means_not_even_imported():
    code = (
        "import sys, agentkit, agentkit.cli; from agentkit import Agent, ChatClient; Agent('m');"
        "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry', 'agentkit.otel'))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_missing_extra_says_what_to_install():
    code = "import sys; sys.modules['opentelemetry'] = None; import agentkit.otel"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 1
    assert "pip install 'agentkit-loop[otel]'" in done.stderr


# --- trace context and retries ------------------------------------------------------------


async def test_traceparent_is_sent_only_when_asked_for(server: FakeServer, client: ChatClient):
    provider, exporter = _recording()
    server.enqueue("a", "b")
    await Agent("m", client=client, interceptors=[OTelInterceptor(tracer_provider=provider)]).run(
        "x"
    )
    assert "traceparent" not in server.recorded[0].headers
    propagating = OTelInterceptor(tracer_provider=provider, propagate_context=True)
    await Agent("m", client=client, interceptors=[propagating]).run("y")
    chat = [s for s in exporter.get_finished_spans() if s.name == "chat m"][-1]
    assert chat.context is not None
    sent = server.recorded[1].headers["traceparent"]
    ids = chat.context
    assert sent == f"00-{ids.trace_id:032x}-{ids.span_id:016x}-{ids.trace_flags:02x}"


async def test_on_retry_listeners_nest_and_see_each_retry(server: FakeServer):
    seen: list[tuple[str, int, float, int]] = []
    server.enqueue(rate_limit(retry_after=0), rate_limit(retry_after=0), "ok")
    async with ChatClient(base_url=server.url, api_key="k", max_retries=2) as client:
        with on_retry(lambda n, d, e: seen.append(("outer", n, d, getattr(e, "status_code", 0)))):
            with on_retry(lambda n, d, e: seen.append(("inner", n, d, 0))):
                await client.complete(model="m", messages=[{"role": "user", "content": "hi"}])
            server.enqueue(rate_limit(retry_after=0), rate_limit(retry_after=0), "streamed")
            async with client.stream(model="m", messages=[{"role": "user", "content": "hi"}]) as s:
                assert (await s.get_final_completion()).choices[0].message.content == "streamed"
        server.enqueue(rate_limit(retry_after=0), "ok")
        await client.complete(model="m", messages=[{"role": "user", "content": "hi"}])
    assert seen == [
        ("inner", 1, 0.0, 0), ("outer", 1, 0.0, 429), ("inner", 2, 0.0, 0), ("outer", 2, 0.0, 429),
        ("outer", 1, 0.0, 429), ("outer", 2, 0.0, 429),
    ]  # fmt: skip


async def test_a_listener_error_is_not_swallowed(server: FakeServer):
    def broken(n: int, delay: float, error: Exception) -> None:
        raise RuntimeError("listener bug")

    server.enqueue(rate_limit(retry_after=0), "ok")
    async with ChatClient(base_url=server.url, api_key="k", max_retries=2) as client:
        with on_retry(broken), pytest.raises(RuntimeError, match="listener bug"):
            await client.complete(model="m", messages=[{"role": "user", "content": "hi"}])
        server.reset()
        server.enqueue(rate_limit(retry_after=0), "ok")
        await client.complete(model="m", messages=[{"role": "user", "content": "hi"}])
        # the listener went with its block: the retry above raised nothing


async def test_approval_decisions_are_events_of_the_run(server: FakeServer, client: ChatClient):
    provider, exporter = _recording()
    server.enqueue(tool_calls(("delete", {"path": "/tmp/x"})), "done")
    agent = Agent(
        "m", tools=[delete], client=client, approve=lambda request: False,
        interceptors=[OTelInterceptor(tracer_provider=provider)],
    )  # fmt: skip
    await agent.run("clean up")
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert "execute_tool delete" not in spans  # denied: nothing ran
    assert [(e.name, dict(e.attributes or {})) for e in spans["invoke_agent"].events] == [
        ("approval", {"gen_ai.tool.name": "delete", "gen_ai.tool.call.id": "call_1",
                      "agentkit.approved": False}),
    ]  # fmt: skip


# --- printing a run's tree ----------------------------------------------------------------


async def test_print_traces_prints_each_run_as_a_tree(server: FakeServer):
    out = io.StringIO()
    client = ChatClient(base_url=server.url, api_key="k", max_retries=1)
    server.enqueue(
        rate_limit(retry_after=0),
        tool_calls(("add", {"a": 1, "b": 2}), ("add", {"a": "x"})),
        text("3", usage={"prompt_tokens": 9, "completion_tokens": 1}),
    )
    agent = Agent("m", name="calc", tools=[add], client=client, interceptors=[])
    await agent.run("go", interceptors=[agentkit.otel.print_traces(out)])
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["start", "s", "took", "s", "span", "notes"]
    names = [line[19:].split("  ")[0].rstrip() for line in lines[1:]]
    assert names == [
        "invoke_agent calc", "├─ chat m", "├─ execute_tool add", "├─ execute_tool add",
        "└─ chat m",
    ]  # fmt: skip
    assert "error: ArgumentsError" in out.getvalue()
    assert "1 retry" in lines[2]
    await client.aclose()
    assert lines[-1].endswith("9 in / 1 out tokens  stop")


def test_cli_trace_prints_the_tree_on_stderr(capsys: pytest.CaptureFixture[str]):
    assert main(["run", "--offline", "--trace", "weather in Paris?"]) == 0
    captured = capsys.readouterr()
    assert "invoke_agent" in captured.err and "└─ chat" in captured.err
    assert "execute_tool get_weather" in captured.err
    assert "invoke_agent" not in captured.out  # stdout keeps the answer alone


def test_cli_trace_without_the_sdk_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)
    monkeypatch.delitem(sys.modules, "agentkit.otel._console", raising=False)
    assert main(["run", "--offline", "--trace", "hi"]) == 2
    assert "pip install opentelemetry-sdk" in capsys.readouterr().err


async def test_without_an_sdk_runs_pass_straight_through(server: FakeServer, client: ChatClient):
    idle = OTelInterceptor(capture_content=True)  # this process never sets a global provider
    assert not idle._listened_to()
    server.enqueue(tool_calls(("add", {"a": 1, "b": 2})), "3")
    agent = Agent(
        "m", tools=[add, delete], client=client, interceptors=[idle], approve=lambda r: True
    )
    assert (await agent.run("go")).output == "3"
    server.enqueue(tool_calls(("delete", {"path": "x"})), "gone")
    assert (await agent.run("go")).output == "gone"


SET_UP_LATER = """
import os

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agentkit.otel
from agentkit import Agent
from agentkit.testing import FakeServer

agentkit.otel.instrument()  # before any SDK: the global proxy picks the provider up later
with FakeServer() as server:
    os.environ["AGENTKIT_BASE_URL"] = server.url
    agent = Agent("m", name="early")
    server.enqueue("first", "second")
    agent.run_sync("not recorded: nothing configured yet")
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    agent.run_sync("recorded")
    print([span.name for span in exporter.get_finished_spans()])
"""


def test_an_sdk_configured_after_instrument_is_used():
    done = subprocess.run(
        [sys.executable, "-c", SET_UP_LATER], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['chat m', 'invoke_agent early']"
