"""End to end: a run's traces and metrics exported over OTLP/HTTP to a real receiver on loopback.

The receiver (`tests.otlp_receiver`) is an HTTP server the test starts on an ephemeral port
that accepts what an OpenTelemetry Collector's ``otlp`` receiver accepts and decodes the
protobuf ``ExportTraceServiceRequest``/``ExportMetricsServiceRequest`` it is sent.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from agentkit import Agent, ChatClient, tool
from agentkit.otel import OTelInterceptor
from agentkit.testing import FakeServer, completion, rate_limit, text
from tests.otlp_receiver import OTLPReceiver, ReceivedSpan

SPAN_KIND_INTERNAL, SPAN_KIND_CLIENT = 1, 3  # opentelemetry.proto.trace.v1.Span.SpanKind
STATUS_ERROR = 2


@tool
def lookup(city: str) -> str:
    """Look a city up."""
    if city == "Atlantis":
        raise LookupError("no such city")
    return f"{city}: 18 degrees"


@pytest.fixture
def receiver() -> Iterator[OTLPReceiver]:
    with OTLPReceiver() as running:
        yield running


async def test_a_run_arrives_at_an_otlp_receiver_as_a_tree(
    server: FakeServer, receiver: OTLPReceiver
):
    resource = Resource.create({"service.name": "weather-bot"})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(
            OTLPSpanExporter(
                endpoint=f"{receiver.endpoint}/v1/traces", compression=Compression.Gzip
            )
        )
    )
    metric_reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{receiver.endpoint}/v1/metrics"),
        export_interval_millis=3_600_000,  # exported on flush only
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[metric_reader])
    interceptor = OTelInterceptor(tracer_provider=tracer_provider, meter_provider=meter_provider)
    server.enqueue(
        rate_limit(retry_after=0),
        completion(
            tool_calls=[("lookup", {"city": "Paris"}), ("lookup", {"city": "Atlantis"})],
            usage={"prompt_tokens": 20, "completion_tokens": 9},
        ),
        text("Paris is mild", usage={"prompt_tokens": 41, "completion_tokens": 4}),
    )
    async with ChatClient(base_url=server.url, api_key="sk-e2e", max_retries=1) as client:
        agent = Agent(
            "gpt-test", name="weather", tools=[lookup], client=client, interceptors=[interceptor]
        )
        assert (await agent.run("weather?")).output == "Paris is mild"
    assert tracer_provider.force_flush(10_000)
    assert meter_provider.force_flush(10_000)
    tracer_provider.shutdown()
    meter_provider.shutdown()

    assert set(receiver.content_types) == {"application/x-protobuf"}
    spans = receiver.spans
    by_id = {s.span_id: s for s in spans}
    (root,) = [s for s in spans if not s.parent_span_id]

    def children(parent: ReceivedSpan) -> list[str]:
        return sorted(s.name for s in spans if s.parent_span_id == parent.span_id)

    assert root.name == "invoke_agent weather"
    assert children(root) == ["chat gpt-test", "chat gpt-test", "execute_tool lookup",
                              "execute_tool lookup"]  # fmt: skip
    assert {s.trace_id for s in spans} == {root.trace_id}
    assert all(s.parent_span_id in by_id for s in spans if s is not root)
    assert root.resource["service.name"] == "weather-bot"
    assert {s.scope for s in spans} == {"agentkit"}

    first, second = sorted(
        (s for s in spans if s.name == "chat gpt-test"), key=lambda s: "retry" not in str(s.events)
    )
    assert first.kind == SPAN_KIND_CLIENT
    assert first.attributes["gen_ai.usage.input_tokens"] == 20
    assert first.attributes["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert first.attributes["http.request.resend_count"] == 1
    assert [name for name, _ in first.events] == ["retry"]
    assert first.events[0][1]["http.response.status_code"] == 429
    assert second.attributes["gen_ai.usage.output_tokens"] == 4
    failed = [s for s in spans if s.name == "execute_tool lookup" and s.status_code == STATUS_ERROR]
    assert [s.attributes["error.type"] for s in failed] == ["LookupError"]
    assert all(s.kind == SPAN_KIND_INTERNAL for s in spans if s.name.startswith("execute_tool"))
    assert root.attributes["gen_ai.usage.input_tokens"] == 61
    assert "sk-e2e" not in repr(spans)

    tokens = receiver.metrics["gen_ai.client.token.usage"]
    by_type = {
        next(kv.value.string_value for kv in p.attributes if kv.key == "gen_ai.token.type"): p.sum
        for p in tokens
    }
    assert by_type == {"input": 61, "output": 13}
    durations = receiver.metrics["gen_ai.client.operation.duration"]
    operations = sorted(
        next(kv.value.string_value for kv in p.attributes if kv.key == "gen_ai.operation.name")
        for p in durations
    )
    assert set(operations) == {"chat", "execute_tool", "invoke_agent"}
