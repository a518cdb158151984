"""OTelInterceptor: a run, its model requests and its tool calls as OpenTelemetry spans and metrics.

Spans follow the OpenTelemetry GenAI semantic conventions: ``invoke_agent {agent}`` around a
run, ``chat {model}`` around each model request and ``execute_tool {tool}`` around each tool
call. The run's span is made current in the task that runs the loop, so the request spans (same
task) and the tool spans (tasks started from it) are its children, and a sub-agent run from a
tool (``Agent.as_tool``) nests under that tool's span.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from agentkit import __version__
from agentkit.client import on_retry
from agentkit.errors import APIStatusError, InvalidRequestError
from agentkit.interceptors import ApproveCall, Interceptor, ModelCall, ToolCall
from agentkit.otel._attributes import (
    AttributeValue,
    completion_attributes,
    cut,
    error_type,
    input_messages,
    output_messages,
    provider_for,
    request_attributes,
    server_attributes,
    system_instructions,
    usage_counts,
)

if TYPE_CHECKING:
    from contextlib import AbstractAsyncContextManager

    from agentkit.agent import Agent
    from agentkit.context import RunContext
    from agentkit.events import ToolCallRequest

__all__ = ["OTelInterceptor"]

SCHEMA_URL = "https://opentelemetry.io/schemas/1.37.0"
"""The semantic-conventions version the attribute names follow."""

CAPTURE_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
"""The conventions' environment switch for recording message content (``true`` turns it on)."""

# The conventions' advised bucket boundaries for the two GenAI client histograms.
_DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48,
                     40.96, 81.92]  # fmt: skip
_TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304,
                  16777216, 67108864]  # fmt: skip

# Attributes of a request span that also describe its metrics (the conventions' metric set).
_METRIC_KEYS = (
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "server.address",
    "server.port",
)


@dataclass
class _RunRecord:
    """What a run's span sums up from the requests made inside it (this run's own)."""

    span: trace.Span
    tokens: dict[str, int] = field(default_factory=dict)
    first_request: bool = True
    last: Mapping[str, Any] | None = None


# The innermost run of the current task: a sub-agent run inside a tool sets its own. _IDLE
# marks a run that nothing listens to (no SDK configured): its steps pass straight through.
_current_run: ContextVar[_RunRecord | None] = ContextVar("agentkit_otel_run", default=None)
_IDLE = _RunRecord(trace.INVALID_SPAN)


def _stand_in(provider: object) -> bool:
    """True for the API's own providers: the proxy before one is set, and the no-op ones."""
    return type(provider).__module__.startswith(("opentelemetry.trace", "opentelemetry.metrics"))


class OTelInterceptor(Interceptor):
    """Records agent runs as OpenTelemetry traces and GenAI metrics.

    Give it to one agent (``Agent(..., interceptors=[OTelInterceptor()])``), one run
    (``agent.run(..., interceptors=[...])``), or every agent with `agentkit.otel.instrument`.
    While no SDK tracer or meter provider is configured, a run passes straight through (it
    costs a context variable), so instrumenting ahead of configuring is free.

    Args:
        tracer_provider: Where spans go; the global provider (``trace.set_tracer_provider``)
            by default, looked up when a span starts, so it can be configured later.
        meter_provider: Where metrics go; the global provider by default.
        capture_content: Record prompts, answers, tool arguments and tool results (the
            conventions' opt-in attributes). Default: the ``OTEL_INSTRUMENTATION_GENAI_
            CAPTURE_MESSAGE_CONTENT`` environment variable (``true``), else off. The API key
            and header values are never recorded either way.
        max_content_length: With content on, each text, argument and result is cut to this
            many characters (a note says how many more there were).

    Raises:
        InvalidRequestError: ``max_content_length`` is negative.
        propagate_context: Send the current trace context (``traceparent``, and whatever
            else the global propagator writes) as headers of each model request, so a
            gateway's own spans join the run's trace.
    """

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
        capture_content: bool | None = None,
        max_content_length: int = 4096,
        propagate_context: bool = False,
    ) -> None:
        if max_content_length < 0:
            raise InvalidRequestError(
                f"max_content_length must be >= 0 characters, got {max_content_length}"
            )
        if capture_content is None:
            capture_content = os.environ.get(CAPTURE_ENV, "").strip().lower() == "true"
        self.capture_content = capture_content
        """Whether message content is recorded."""
        self.max_content_length = max_content_length
        """Most characters recorded of each text, argument and result."""
        self.propagate_context = propagate_context
        """Whether model requests carry the trace context as headers."""
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._listened = False
        self._tracer = trace.get_tracer(
            "agentkit", __version__, tracer_provider, schema_url=SCHEMA_URL
        )
        meter = metrics.get_meter("agentkit", __version__, meter_provider, schema_url=SCHEMA_URL)
        self._duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="GenAI operation duration: runs, model requests and tool calls.",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Number of input and output tokens used.",
            explicit_bucket_boundaries_advisory=_TOKEN_BUCKETS,
        )
        self._servers: dict[str, dict[str, AttributeValue]] = {}

    def __repr__(self) -> str:
        return (
            f"OTelInterceptor(capture_content={self.capture_content}, "
            f"propagate_context={self.propagate_context})"
        )

    def _server(self, agent: Agent[Any] | None) -> dict[str, AttributeValue]:
        """Provider and server attributes of the agent's client, worked out once per URL."""
        if agent is None:
            return {"gen_ai.provider.name": "openai"}
        base_url = agent.client.base_url
        known = self._servers.get(base_url)
        if known is None:
            known = server_attributes(base_url)
            host = known.get("server.address")
            known["gen_ai.provider.name"] = provider_for(host if isinstance(host, str) else None)
            self._servers[base_url] = known
        return known

    # --- the run ------------------------------------------------------------------------------

    def run(self, agent: Agent[Any], ctx: RunContext[Any]) -> AbstractAsyncContextManager[None]:
        """The ``invoke_agent`` span around a whole run, current while the run lasts."""
        return self._run(agent, ctx)

    def _listened_to(self) -> bool:
        """Whether a real (SDK) tracer or meter provider would get what this records.

        Looked up per run, so an SDK configured after `instrument` is picked up; without one,
        a run costs a context variable instead of no-op spans and attribute building.
        """
        if self._listened:  # a global provider, once set, is never unset
            return True
        tracers = self._tracer_provider or trace.get_tracer_provider()
        meters = self._meter_provider or metrics.get_meter_provider()
        self._listened = not (_stand_in(tracers) and _stand_in(meters))
        return self._listened

    @contextlib.asynccontextmanager
    async def _run(self, agent: Agent[Any], ctx: RunContext[Any]) -> AsyncIterator[None]:
        if not self._listened_to():
            idle = _current_run.set(_IDLE)
            try:
                yield
            finally:
                with contextlib.suppress(ValueError):  # as below
                    _current_run.reset(idle)
            return
        attributes: dict[str, AttributeValue] = {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.request.model": agent.model,
            **self._server(agent),
        }
        if agent.name:
            attributes["gen_ai.agent.name"] = agent.name
        if ctx.run_id:
            attributes["agentkit.run.id"] = ctx.run_id
        name = f"invoke_agent {agent.name}" if agent.name else "invoke_agent"
        start = time.perf_counter()
        with self._tracer.start_as_current_span(
            name,
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            record = _RunRecord(span)
            token = _current_run.set(record)
            failure: str | None = None
            try:
                yield
            except Exception as exc:
                failure = self._failed(span, exc)
                raise
            finally:
                # A stream closed from another context cannot reset; the record dies with it.
                with contextlib.suppress(ValueError):
                    _current_run.reset(token)
                self._end_run(record, attributes, failure, time.perf_counter() - start)

    def _end_run(
        self,
        record: _RunRecord,
        attributes: dict[str, AttributeValue],
        failure: str | None,
        duration: float,
    ) -> None:
        span = record.span
        span.set_attributes(record.tokens)
        last = record.last
        if last is not None:
            model = last.get("model")
            if isinstance(model, str) and model:
                span.set_attribute("gen_ai.response.model", model)
            if self.capture_content:
                span.set_attribute(
                    "gen_ai.output.messages", output_messages(last, self.max_content_length)
                )
        measured = {k: v for k, v in attributes.items() if k in _METRIC_KEYS}
        if "gen_ai.agent.name" in attributes:
            measured["gen_ai.agent.name"] = attributes["gen_ai.agent.name"]
        if failure is not None:
            measured["error.type"] = failure
        self._duration.record(duration, measured)

    def _failed(self, span: trace.Span, exc: Exception) -> str:
        """Mark a span failed by ``exc``; returns its ``error.type``."""
        kind = error_type(exc)
        span.set_attribute("error.type", kind)
        span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
        span.record_exception(exc)
        return kind

    # --- model requests -----------------------------------------------------------------------

    async def model_request(
        self, ctx: RunContext[Any], params: dict[str, Any], call_next: ModelCall
    ) -> dict[str, Any]:
        """A ``chat {model}`` span (kind CLIENT) around a model request, retries included."""
        run = _current_run.get()
        if run is _IDLE:
            return await call_next(params)
        model = params.get("model")
        attributes: dict[str, AttributeValue] = {
            "gen_ai.operation.name": "chat",
            **self._server(ctx.agent),
            **request_attributes(params),
        }
        attributes["gen_ai.system"] = attributes["gen_ai.provider.name"]  # older backends read it
        start = time.perf_counter()
        with self._tracer.start_as_current_span(
            f"chat {model}" if model else "chat",
            kind=SpanKind.CLIENT,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            if self.capture_content and span.is_recording():
                self._record_input(span, run, params.get("messages") or [])
            if self.propagate_context:
                headers: dict[str, str] = {}
                propagate.inject(headers)  # the current span is this request's
                if headers:
                    params = {**params, "extra_headers": {**(params.get("extra_headers") or {}),
                                                          **headers}}  # fmt: skip
            retries = 0

            def retried(number: int, delay: float, error: Exception) -> None:
                nonlocal retries
                retries = number
                event: dict[str, AttributeValue] = {
                    "http.request.resend_count": number,
                    "error.type": error_type(error),
                    "agentkit.retry.delay": delay,
                }
                if isinstance(error, APIStatusError):
                    event["http.response.status_code"] = error.status_code
                span.add_event("retry", event)

            try:
                with on_retry(retried):
                    completion = await call_next(params)
            except Exception as exc:
                measured = {k: v for k, v in attributes.items() if k in _METRIC_KEYS}
                measured["error.type"] = self._failed(span, exc)
                if retries:
                    span.set_attribute("http.request.resend_count", retries)
                self._duration.record(time.perf_counter() - start, measured)
                raise
            if retries:
                span.set_attribute("http.request.resend_count", retries)
            response = completion_attributes(completion)
            span.set_attributes(response)
            if self.capture_content:
                span.set_attribute(
                    "gen_ai.output.messages", output_messages(completion, self.max_content_length)
                )
        measured = {k: v for k, v in {**attributes, **response}.items() if k in _METRIC_KEYS}
        self._duration.record(time.perf_counter() - start, measured)
        counts = usage_counts(completion)
        for kind, key in (("input", "gen_ai.usage.input_tokens"),
                          ("output", "gen_ai.usage.output_tokens")):  # fmt: skip
            if key in counts:
                self._tokens.record(counts[key], {**measured, "gen_ai.token.type": kind})
        if run is not None:
            for key, value in counts.items():
                run.tokens[key] = run.tokens.get(key, 0) + value
            run.last = completion
        return completion

    def _record_input(
        self, span: trace.Span, run: _RunRecord | None, messages: list[dict[str, Any]]
    ) -> None:
        limit = self.max_content_length
        sent = input_messages(messages, limit)
        system = system_instructions(messages, limit)
        span.set_attribute("gen_ai.input.messages", sent)
        if system is not None:
            span.set_attribute("gen_ai.system_instructions", system)
        if run is not None and run.first_request:  # the run's input is its first request's
            run.first_request = False
            run.span.set_attribute("gen_ai.input.messages", sent)
            if system is not None:
                run.span.set_attribute("gen_ai.system_instructions", system)

    # --- tool calls ---------------------------------------------------------------------------

    async def tool_call(
        self, ctx: RunContext[Any], call: dict[str, Any], call_next: ToolCall
    ) -> dict[str, Any]:
        """An ``execute_tool {tool}`` span around a tool call, in the call's own task."""
        if _current_run.get() is _IDLE:
            return await call_next(call)
        function = call.get("function") or {}
        name = function.get("name") or ""
        attributes: dict[str, AttributeValue] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.type": "function",
        }
        if call.get("id"):
            attributes["gen_ai.tool.call.id"] = call["id"]
        start = time.perf_counter()
        with self._tracer.start_as_current_span(
            f"execute_tool {name}",
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            limit = self.max_content_length
            if self.capture_content and isinstance(function.get("arguments"), str):
                span.set_attribute("gen_ai.tool.call.arguments", cut(function["arguments"], limit))
            measured = {k: v for k, v in attributes.items() if k != "gen_ai.tool.call.id"}
            try:
                outcome = await call_next(call)
            except Exception as exc:  # tools never raise; hooks and approve callbacks can
                measured["error.type"] = self._failed(span, exc)
                self._duration.record(time.perf_counter() - start, measured)
                raise
            if self.capture_content and isinstance(outcome.get("content"), str):
                span.set_attribute("gen_ai.tool.call.result", cut(outcome["content"], limit))
            if outcome.get("is_error"):
                kind = outcome.get("error_type") or "ToolError"
                span.set_attribute("error.type", kind)
                span.set_status(Status(StatusCode.ERROR, kind))
                measured["error.type"] = kind
        self._duration.record(time.perf_counter() - start, measured)
        return outcome

    async def approve(
        self, ctx: RunContext[Any], request: ToolCallRequest, call_next: ApproveCall
    ) -> bool:
        """An event on the current span (the run's) saying how a tool call's approval went."""
        approved = await call_next(request)
        if _current_run.get() is _IDLE:
            return approved
        trace.get_current_span().add_event(
            "approval",
            {
                "gen_ai.tool.name": request.name,
                "gen_ai.tool.call.id": request.call_id,
                "agentkit.approved": approved,
            },
        )
        return approved
