"""Trace runs with OpenTelemetry: a span per run, model request and tool call, nested.

`agentkit.otel.instrument()` records every agent's runs (GenAI conventions: token counts,
finish reasons, errors). Here an in-memory exporter lets the script print what was recorded;
with OTEL_EXPORTER_OTLP_ENDPOINT set, spans also go to that OTLP collector (Jaeger, Tempo...).

Needs: pip install 'agentkit-loop[otel]' opentelemetry-sdk (and the OTLP exporter for a collector)
Run: AGENTKIT_BASE_URL=http://127.0.0.1:8000/v1 python examples/tracing.py
"""

import os

import anyio
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agentkit.otel
from agentkit import Agent, tool

recorded = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(recorded))
if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
trace.set_tracer_provider(provider)
agentkit.otel.instrument()  # every Agent from here on; nothing else changes


@tool
def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"{city}: 18°C, sunny"


async def main() -> None:
    model = os.environ.get("AGENTKIT_MODEL", "agentkit-demo")
    agent = Agent(model, name="forecaster", tools=[get_weather])
    await agent.run("What's the weather in Paris and Tokyo?")
    provider.shutdown()  # flushes the exporters
    depth = {None: -1}
    for span in sorted(recorded.get_finished_spans(), key=lambda s: s.start_time or 0):
        parent = span.parent.span_id if span.parent else None
        depth[span.context.span_id] = depth.get(parent, -1) + 1
        tokens = span.attributes.get("gen_ai.usage.output_tokens", "")
        note = f"  ({tokens} output tokens)" if tokens else ""
        print("  " * depth[span.context.span_id] + span.name + note)


if __name__ == "__main__":
    anyio.run(main)
