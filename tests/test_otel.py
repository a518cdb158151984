"""agentkit.otel: span trees, GenAI attributes and metrics, via the SDK's in-memory exporter."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import anyio
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes
from opentelemetry.semconv.attributes import error_attributes, server_attributes
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel

from agentkit import Agent, ChatClient, OutputValidationError, RateLimitError, RunContext, tool
from agentkit.interceptors import Interceptor
from agentkit.otel import OTelInterceptor
from agentkit.testing import FakeServer, completion, rate_limit, text, tool_calls


class Telemetry:
    """An SDK tracer and meter provider recording in memory, and an interceptor using them."""

    def __init__(self, **options: Any) -> None:
        self.exporter = InMemorySpanExporter()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])
        self.interceptor = OTelInterceptor(
            tracer_provider=tracer_provider, meter_provider=self.meter_provider, **options
        )

    @property
    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans if s.name == name]

    def tree(self) -> list[Any]:
        """Span names as nested [name, [children...]] lists, children in start order."""
        spans = self.spans
        by_parent: dict[int | None, list[ReadableSpan]] = {}
        for span in spans:
            parent = span.parent.span_id if span.parent is not None else None
            by_parent.setdefault(parent, []).append(span)

        def node(span: ReadableSpan) -> Any:
            assert span.context is not None
            kids = sorted(by_parent.get(span.context.span_id, []), key=_start_and_name)
            return [span.name, [node(k) for k in kids]] if kids else span.name

        return [node(root) for root in by_parent.get(None, [])]

    def points(self, metric: str) -> list[Point]:
        data = self.reader.get_metrics_data()
        assert data is not None
        found: list[Point] = []
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for m in scope.metrics:
                    if m.name != metric:
                        continue
                    for p in m.data.data_points:
                        assert isinstance(p, HistogramDataPoint)
                        found.append(
                            Point(dict(p.attributes or {}), p.count, p.sum, p.explicit_bounds)
                        )
        return found


class Point(NamedTuple):
    attributes: dict[str, Any]
    n: int
    total: float
    explicit_bounds: Sequence[float]


def _start_and_name(span: ReadableSpan) -> tuple[int, str]:
    return (span.start_time or 0, span.name)


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    recorded = Telemetry()
    yield recorded
    recorded.meter_provider.shutdown()


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in (span.attributes or {}).items()}


USAGE = {
    "prompt_tokens": 30,
    "completion_tokens": 12,
    "prompt_tokens_details": {"cached_tokens": 8},
    "completion_tokens_details": {"reasoning_tokens": 5},
}


@tool
async def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@tool
def explode(reason: str) -> str:
    """Always fails."""
    raise ValueError(reason)


# --- the span tree ------------------------------------------------------------------------


async def test_parallel_tool_calls_are_siblings_under_the_run(
    server: FakeServer, client: ChatClient, telemetry: Telemetry
):
    both = anyio.Event()
    started = 0

    @tool
    async def wait(n: int) -> int:
        """Waits until both calls have started (so they provably overlap)."""
        nonlocal started
        started += 1
        if started == 2:
            both.set()
        await both.wait()
        return n

    server.enqueue(
        completion(tool_calls=[("wait", {"n": 1}), ("wait", {"n": 2})], usage=USAGE),
        text("1 and 2", usage={"prompt_tokens": 50, "completion_tokens": 4}),
    )
    agent = Agent(
        "m", name="helper", tools=[wait], client=client, interceptors=[telemetry.interceptor],
        settings={"temperature": 0.2, "max_tokens": 300},
    )  # fmt: skip
    with anyio.fail_after(5):
        result = await agent.run("go")
    assert result.output == "1 and 2"
    assert telemetry.tree() == [
        ["invoke_agent helper", ["chat m", "execute_tool wait", "execute_tool wait", "chat m"]]
    ]
    first, second = sorted(telemetry.named("execute_tool wait"), key=_start_and_name)
    assert first.end_time is not None and second.start_time is not None
    assert second.start_time < first.end_time  # concurrent, not one after the other
    assert sorted(attrs(s)["gen_ai.tool.call.id"] for s in (first, second)) == ["call_1", "call_2"]
    assert attrs(first) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "wait",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.call.id": attrs(first)["gen_ai.tool.call.id"],
    }
    assert first.kind is SpanKind.INTERNAL

    chat = sorted(telemetry.named("chat m"), key=_start_and_name)[0]
    assert chat.kind is SpanKind.CLIENT
    port = int(server.url.split(":")[2].split("/")[0])
    assert attrs(chat) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "m",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 300,
        "server.address": "127.0.0.1",
        "server.port": port,
        "gen_ai.response.id": attrs(chat)["gen_ai.response.id"],
        "gen_ai.response.model": "m",
        "gen_ai.response.finish_reasons": ["tool_calls"],
        "gen_ai.usage.input_tokens": 30,
        "gen_ai.usage.output_tokens": 12,
        "gen_ai.usage.cache_read.input_tokens": 8,
        "gen_ai.usage.reasoning.output_tokens": 5,
    }
    (root,) = telemetry.named("invoke_agent helper")
    assert attrs(root) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "helper",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "m",
        "server.address": "127.0.0.1",
        "server.port": port,
        "gen_ai.response.model": "m",
        "gen_ai.usage.input_tokens": 80,
        "gen_ai.usage.output_tokens": 16,
        "gen_ai.usage.cache_read.input_tokens": 8,
        "gen_ai.usage.reasoning.output_tokens": 5,
    }
    assert root.status.status_code is StatusCode.UNSET


async def test_a_failing_tool_marks_its_span_and_the_run_goes_on(
    server: FakeServer, client: ChatClient, telemetry: Telemetry
):
    server.enqueue(tool_calls(("explode", {"reason": "boom"}), ("add", {"a": 1, "b": 2})), "ok")
    agent = Agent("m", tools=[explode, add], client=client, interceptors=[telemetry.interceptor])
    assert (await agent.run("go")).output == "ok"
    (failed,) = telemetry.named("execute_tool explode")
    assert failed.status.status_code is StatusCode.ERROR
    assert attrs(failed)["error.type"] == "ValueError"
    (fine,) = telemetry.named("execute_tool add")
    assert fine.status.status_code is StatusCode.UNSET and "error.type" not in attrs(fine)
    (root,) = telemetry.named("invoke_agent")
    assert root.status.status_code is StatusCode.UNSET  # a tool's failure is the model's to read


async def test_bad_arguments_are_an_error_type_of_their_own(
    server: FakeServer, client: ChatClient, telemetry: Telemetry
):
    server.enqueue(tool_calls(("add", {"a": "x"})), "ok")
    agent = Agent("m", tools=[add], client=client, interceptors=[telemetry.interceptor])
    await agent.run("go")
    (span,) = telemetry.named("execute_tool add")
    assert attrs(span)["error.type"] == "ArgumentsError"


async def test_a_retried_429_is_an_event_on_its_request_span(
    server: FakeServer, telemetry: Telemetry
):
    server.enqueue(rate_limit(retry_after=0), rate_limit(retry_after=0), text("hi"))
    async with ChatClient(base_url=server.url, api_key="sk-test", max_retries=2) as client:
        agent = Agent("m", client=client, interceptors=[telemetry.interceptor])
        assert (await agent.run("go")).output == "hi"
    assert telemetry.tree() == [["invoke_agent", ["chat m"]]]
    (chat,) = telemetry.named("chat m")
    assert attrs(chat)["http.request.resend_count"] == 2
    assert [(e.name, dict(e.attributes or {})) for e in chat.events] == [
        ("retry", {"http.request.resend_count": 1, "error.type": "agentkit.errors.RateLimitError",
                   "agentkit.retry.delay": 0.0, "http.response.status_code": 429}),
        ("retry", {"http.request.resend_count": 2, "error.type": "agentkit.errors.RateLimitError",
                   "agentkit.retry.delay": 0.0, "http.response.status_code": 429}),
    ]  # fmt: skip
    assert chat.status.status_code is StatusCode.UNSET


async def test_a_request_that_fails_for_good_fails_its_span_and_the_run(
    server: FakeServer, telemetry: Telemetry
):
    server.enqueue(rate_limit(retry_after=0), rate_limit(retry_after=0))
    async with ChatClient(base_url=server.url, api_key="sk-test", max_retries=1) as client:
        agent = Agent("m", client=client, interceptors=[telemetry.interceptor])
        with pytest.raises(RateLimitError):
            await agent.run("go")
    (chat,) = telemetry.named("chat m")
    (root,) = telemetry.named("invoke_agent")
    for span in (chat, root):
        assert span.status.status_code is StatusCode.ERROR
        assert attrs(span)["error.type"] == "agentkit.errors.RateLimitError"
        assert [e.name for e in span.events][-1] == "exception"
    assert attrs(chat)["http.request.resend_count"] == 1
    durations = telemetry.points("gen_ai.client.operation.duration")
    failed = {
        p.attributes["gen_ai.operation.name"] for p in durations if "error.type" in p.attributes
    }
    assert failed == {"chat", "invoke_agent"}


@pytest.mark.parametrize("live", [False, True])
async def test_a_streamed_run_has_the_same_tree(
    server: FakeServer, client: ChatClient, telemetry: Telemetry, live: bool
):
    server.enqueue(tool_calls(("add", {"a": 1, "b": 2})), text("3", usage=USAGE))
    agent = Agent("m", tools=[add], client=client, interceptors=[telemetry.interceptor])
    if live:
        async with agent.stream("go") as events:
            kinds = [type(e).__name__ async for e in events]
    else:
        kinds = [type(e).__name__ async for e in agent.stream("go")]
    assert "TextDelta" in kinds and kinds[-1] == "RunFinished"
    assert telemetry.tree() == [["invoke_agent", ["chat m", "execute_tool add", "chat m"]]]
    last = sorted(telemetry.named("chat m"), key=_start_and_name)[-1]
    assert attrs(last)["gen_ai.usage.output_tokens"] == 12
    assert attrs(last)["gen_ai.response.finish_reasons"] == ["stop"]


class City(BaseModel):
    name: str
    population: int


async def test_an_output_validation_retry_is_a_second_request_in_the_run(
    server: FakeServer, client: ChatClient, telemetry: Telemetry
):
    server.enqueue('{"name": "Oslo"}', '{"name": "Oslo", "population": 700000}')
    agent = Agent("m", output_type=City, client=client, interceptors=[telemetry.interceptor])
    assert (await agent.run("go")).output.population == 700000
    assert telemetry.tree() == [["invoke_agent", ["chat m", "chat m"]]]
    first = sorted(telemetry.named("chat m"), key=_start_and_name)[0]
    assert attrs(first)["gen_ai.output.type"] == "json"


async def test_an_output_that_never_validates_fails_the_run_span(
    server: FakeServer, client: ChatClient, telemetry: Telemetry
):
    server.enqueue("nope", "still nope")
    agent = Agent(
        "m", output_type=City, output_retries=1, client=client,
        interceptors=[telemetry.interceptor],
    )  # fmt: skip
    with pytest.raises(OutputValidationError):
        await agent.run("go")
    (root,) = telemetry.named("invoke_agent")
    assert attrs(root)["error.type"] == "agentkit.errors.OutputValidationError"
    assert all(s.status.status_code is StatusCode.UNSET for s in telemetry.named("chat m"))


async def test_an_agent_used_as_a_tool_nests_under_the_tool_span(
    server: FakeServer, client: ChatClient, telemetry: Telemetry
):
    inner = Agent("small", name="researcher", client=client, interceptors=[telemetry.interceptor])
    outer = Agent(
        "big", name="lead", client=client, interceptors=[telemetry.interceptor],
        tools=[inner.as_tool("research", "Research a topic."), add],
    )  # fmt: skip
    server.enqueue(
        tool_calls(("research", {"input": "otters"})),
        text("otters are great", usage={"prompt_tokens": 5, "completion_tokens": 3}),
        text("done", usage={"prompt_tokens": 7, "completion_tokens": 1}),
    )
    assert (await outer.run("go")).output == "done"
    assert telemetry.tree() == [
        ["invoke_agent lead", [
            "chat big",
            ["execute_tool research", [["invoke_agent researcher", ["chat small"]]]],
            "chat big",
        ]]
    ]  # fmt: skip
    (sub,) = telemetry.named("invoke_agent researcher")
    assert attrs(sub)["gen_ai.usage.input_tokens"] == 5  # its own requests only
    (lead,) = telemetry.named("invoke_agent lead")
    assert len({s.context.trace_id for s in telemetry.spans if s.context}) == 1
    assert lead.parent is None


# --- content, secrets, conventions ---------------------------------------------------------


async def test_content_is_not_recorded_unless_switched_on(
    server: FakeServer, client: ChatClient, telemetry: Telemetry
):
    server.enqueue(tool_calls(("add", {"a": 1, "b": 2})), "the secret answer")
    agent = Agent(
        "m", tools=[add], client=client, instructions="be terse",
        interceptors=[telemetry.interceptor],
    )  # fmt: skip
    await agent.run("a private question")
    recorded = json.dumps([attrs(s) for s in telemetry.spans])
    for private in ("private question", "secret answer", "be terse", '"a": 1'):
        assert private not in recorded
    assert not any(k.startswith(("gen_ai.input", "gen_ai.output.messages", "gen_ai.tool.call.a"))
                   for s in telemetry.spans for k in attrs(s))  # fmt: skip


async def test_captured_content_follows_the_conventions_and_is_capped(
    server: FakeServer, client: ChatClient
):
    telemetry = Telemetry(capture_content=True, max_content_length=20)
    server.enqueue(
        completion(reasoning="think", tool_calls=[("add", {"a": 1, "b": 2})]),
        "x" * 50,
    )
    agent = Agent(
        "m", tools=[add], client=client, instructions="be terse",
        interceptors=[telemetry.interceptor],
    )  # fmt: skip
    await agent.run("what is 1 + 2?")
    first, second = sorted(telemetry.named("chat m"), key=_start_and_name)
    assert json.loads(attrs(first)["gen_ai.system_instructions"]) == [
        {"type": "text", "content": "be terse"}
    ]
    assert json.loads(attrs(first)["gen_ai.input.messages"]) == [
        {"role": "user", "parts": [{"type": "text", "content": "what is 1 + 2?"}]}
    ]
    assert json.loads(attrs(first)["gen_ai.output.messages"]) == [
        {"role": "assistant", "finish_reason": "tool_calls", "parts": [
            {"type": "reasoning", "content": "think"},
            {"type": "tool_call", "id": "call_1", "name": "add", "arguments": '{"a": 1, "b": 2}'},
        ]}
    ]  # fmt: skip
    sent = json.loads(attrs(second)["gen_ai.input.messages"])
    assert sent[-1] == {
        "role": "tool", "parts": [{"type": "tool_call_response", "id": "call_1", "response": "3"}]
    }  # fmt: skip
    answer = json.loads(attrs(second)["gen_ai.output.messages"])[0]["parts"][0]["content"]
    assert answer == "x" * 20 + "…[30 more characters]"
    (tool_span,) = telemetry.named("execute_tool add")
    assert attrs(tool_span)["gen_ai.tool.call.arguments"] == '{"a": 1, "b": 2}'
    assert attrs(tool_span)["gen_ai.tool.call.result"] == "3"
    (root,) = telemetry.named("invoke_agent")
    assert attrs(root)["gen_ai.input.messages"] == attrs(first)["gen_ai.input.messages"]
    assert attrs(root)["gen_ai.output.messages"] == attrs(second)["gen_ai.output.messages"]


async def test_capture_follows_the_conventions_environment_switch(
    server: FakeServer, client: ChatClient, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "true")
    assert Telemetry().interceptor.capture_content
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", "false")
    assert not Telemetry().interceptor.capture_content


class AddHeader(Interceptor):
    """Sends a header of its own with every request, as a user's interceptor may."""

    async def model_request(self, ctx: Any, params: dict[str, Any], call_next: Any) -> Any:
        return await call_next({**params, "extra_headers": {"X-Other": "another-secret"}})


async def test_the_api_key_and_headers_are_never_recorded(server: FakeServer):
    telemetry = Telemetry(capture_content=True, propagate_context=True)
    async with ChatClient(
        base_url=server.url, api_key="sk-very-secret", max_retries=0,
        default_headers={"X-Custom-Auth": "header-secret"},
    ) as client:  # fmt: skip
        agent = Agent("m", client=client, interceptors=[AddHeader(), telemetry.interceptor])
        server.enqueue("hi")
        await agent.run("hello")
    headers = server.recorded[0].headers
    assert headers["x-other"] == "another-secret"  # it was sent, beside the trace context...
    assert headers["traceparent"].startswith("00-")
    dumped = json.dumps(
        [[attrs(s), [dict(e.attributes or {}) for e in s.events]] for s in telemetry.spans]
    )
    for secret in ("sk-very-secret", "header-secret", "another-secret", "Bearer"):
        assert secret not in dumped  # ...and never recorded


def _convention_names() -> set[str]:
    names: set[str] = set()
    for module in (gen_ai_attributes, error_attributes, server_attributes):
        names.update(v for k, v in vars(module).items() if k.isupper() and isinstance(v, str))
    # HTTP's resend count names a request's retries; nothing in the GenAI set does
    names.add("http.request.resend_count")
    names.add("http.response.status_code")
    return names


async def test_every_attribute_name_is_a_convention_or_ours(server: FakeServer, client: ChatClient):
    telemetry = Telemetry(capture_content=True)
    server.enqueue(
        completion(tool_calls=[("add", {"a": 1, "b": 2}), ("explode", {"reason": "x"})],
                   usage=USAGE),
        "done",
    )  # fmt: skip
    agent = Agent(
        "m", name="n", tools=[add, explode], client=client, instructions="i",
        interceptors=[telemetry.interceptor], settings={"temperature": 0, "top_p": 1, "seed": 3},
    )  # fmt: skip
    await agent.run("go", run_id="r-1")
    known = _convention_names()
    used = {k for s in telemetry.spans for k in attrs(s)}
    used |= {k for s in telemetry.spans for e in s.events for k in (e.attributes or {})}
    ours = {k for k in used if k.startswith("agentkit.")}
    assert used - ours <= known, sorted(used - ours - known)
    assert ours <= {"agentkit.run.id", "agentkit.retry.delay", "agentkit.approved"}
    (root,) = telemetry.named("invoke_agent n")
    assert attrs(root)["agentkit.run.id"] == "r-1"
    metric_names = {"gen_ai.client.token.usage", "gen_ai.client.operation.duration"}
    data = telemetry.reader.get_metrics_data()
    assert data is not None
    seen = {m.name for r in data.resource_metrics for sc in r.scope_metrics for m in sc.metrics}
    assert seen == metric_names


# --- metrics --------------------------------------------------------------------------------


async def test_metrics_token_usage_and_durations(
    server: FakeServer, client: ChatClient, telemetry: Telemetry
):
    server.enqueue(
        completion(tool_calls=[("add", {"a": 1, "b": 2})], usage=USAGE),
        text("3", usage={"prompt_tokens": 40, "completion_tokens": 2}),
    )
    agent = Agent(
        "m", name="calc", tools=[add], client=client, interceptors=[telemetry.interceptor]
    )
    await agent.run("go")
    tokens = {
        p.attributes["gen_ai.token.type"]: (p.n, p.total)
        for p in telemetry.points("gen_ai.client.token.usage")
    }
    assert tokens == {"input": (2, 70), "output": (2, 14)}
    (point,) = [p for p in telemetry.points("gen_ai.client.token.usage")
                if p.attributes["gen_ai.token.type"] == "input"]  # fmt: skip
    assert dict(point.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "m",
        "gen_ai.response.model": "m",
        "server.address": "127.0.0.1",
        "server.port": point.attributes["server.port"],
        "gen_ai.token.type": "input",
    }
    durations = {
        (p.attributes["gen_ai.operation.name"], p.n)
        for p in telemetry.points("gen_ai.client.operation.duration")
    }
    assert durations == {("chat", 2), ("execute_tool", 1), ("invoke_agent", 1)}
    (tool_point,) = [p for p in telemetry.points("gen_ai.client.operation.duration")
                     if p.attributes["gen_ai.operation.name"] == "execute_tool"]  # fmt: skip
    assert tool_point.attributes["gen_ai.tool.name"] == "add"
    assert tool_point.explicit_bounds[:3] == (0.01, 0.02, 0.04)  # the conventions' buckets


class FailingToolStep(Interceptor):
    """An interceptor inside the tracing one whose tool step raises (as a hook can)."""

    async def tool_call(self, ctx: Any, call: dict[str, Any], call_next: Any) -> Any:
        raise RuntimeError("audit log is down")


async def test_an_exception_from_a_tool_step_fails_its_span_and_the_run(
    server: FakeServer, client: ChatClient, telemetry: Telemetry
):
    server.enqueue(tool_calls(("add", {"a": 1, "b": 2})))
    agent = Agent(
        "m", tools=[add], client=client, interceptors=[telemetry.interceptor, FailingToolStep()]
    )
    with pytest.raises(RuntimeError, match="audit log is down"):
        await agent.run("go")
    (span,) = telemetry.named("execute_tool add")
    assert span.status.status_code is StatusCode.ERROR
    assert attrs(span)["error.type"] == "RuntimeError"
    (root,) = telemetry.named("invoke_agent")
    assert attrs(root)["error.type"] == "RuntimeError"


async def test_a_context_without_an_agent_still_names_the_protocol(telemetry: Telemetry):
    async def answer(params: dict[str, Any]) -> dict[str, Any]:
        return {"id": "c", "model": "m", "choices": []}

    ctx = RunContext(deps=None)  # e.g. a request made by an engine outside any agent
    await telemetry.interceptor.model_request(ctx, {"model": "m", "messages": []}, answer)
    (span,) = telemetry.spans
    assert attrs(span)["gen_ai.provider.name"] == "openai"
    assert "server.address" not in attrs(span)


# --- concurrency, threads, resumed runs ------------------------------------------------------


async def test_concurrent_runs_of_one_agent_are_separate_traces(
    server: FakeServer, client: ChatClient, telemetry: Telemetry
):
    server.responder = lambda body: (
        "done" if body["messages"][-1]["role"] == "tool" else tool_calls(("add", {"a": 1, "b": 1}))
    )
    agent = Agent("m", tools=[add], client=client, interceptors=[telemetry.interceptor])
    async with anyio.create_task_group() as group:
        for _ in range(5):
            group.start_soon(agent.run, "go")
    roots = telemetry.named("invoke_agent")
    assert len(roots) == 5
    assert len({r.context.trace_id for r in roots if r.context}) == 5
    for root in roots:
        assert root.context is not None
        family = [
            s for s in telemetry.spans if s.context and s.context.trace_id == root.context.trace_id
        ]
        assert sorted(s.name for s in family) == [
            "chat m",
            "chat m",
            "execute_tool add",
            "invoke_agent",
        ]
        assert all(
            s.parent.span_id == root.context.span_id for s in family if s is not root and s.parent
        )


async def test_a_sync_tool_in_its_worker_thread_sees_its_span(
    server: FakeServer, client: ChatClient, telemetry: Telemetry
):
    from opentelemetry import trace

    seen: list[int] = []

    @tool
    def where() -> str:
        """Reports the span it runs in (sync: it runs in a worker thread)."""
        seen.append(trace.get_current_span().get_span_context().span_id)
        return "here"

    server.enqueue(tool_calls(("where", {})), "ok")
    agent = Agent("m", tools=[where], client=client, interceptors=[telemetry.interceptor])
    await agent.run("go")
    (span,) = telemetry.named("execute_tool where")
    assert span.context is not None and seen == [span.context.span_id]


async def test_a_resumed_run_carries_its_run_id(
    server: FakeServer, client: ChatClient, telemetry: Telemetry, tmp_path: Any
):
    from agentkit import FileCheckpointStore
    from agentkit.testing import http_error

    store = FileCheckpointStore(tmp_path)
    agent = Agent("m", tools=[add], client=client, interceptors=[telemetry.interceptor])
    server.enqueue(tool_calls(("add", {"a": 1, "b": 2})), http_error(500))
    with pytest.raises(Exception, match="500|server"):
        await agent.run("go", checkpoint=store, run_id="job-7")
    server.enqueue("3")
    assert (await agent.run(checkpoint=store, run_id="job-7")).output == "3"
    first, second = sorted(telemetry.named("invoke_agent"), key=_start_and_name)
    assert attrs(first)["agentkit.run.id"] == attrs(second)["agentkit.run.id"] == "job-7"
    assert first.status.status_code is StatusCode.ERROR
    assert second.status.status_code is StatusCode.UNSET
    assert len(telemetry.named("execute_tool add")) == 1  # the resumed run did not call it again
