"""A run's spans printed as a tree with timings: what ``agentkit run --trace`` shows.

Spans are collected by a span processor on a tracer provider of its own; when a run's root
span ends (its children have ended before it), the tree is rendered and printed.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TextIO

from opentelemetry.context import Context
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.trace import StatusCode

from agentkit.otel._interceptor import OTelInterceptor

__all__ = ["TreePrinter", "render"]


class TreePrinter(SpanProcessor):
    """Collects spans per trace and prints each finished trace's tree to ``file``."""

    def __init__(self, file: TextIO) -> None:
        self._file = file
        self._spans: dict[int, list[ReadableSpan]] = {}
        self._ids: set[int] = set()
        self._lock = threading.Lock()  # spans can end in worker threads (sync tools)

    def interceptor(self) -> OTelInterceptor:
        """An `OTelInterceptor` whose spans come here (metrics are not recorded).

        Returns:
            The interceptor.
        """
        provider = TracerProvider(shutdown_on_exit=False)  # nothing buffered: no exit hook
        provider.add_span_processor(self)
        return OTelInterceptor(tracer_provider=provider, meter_provider=NoOpMeterProvider())

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Note the span as ours, so its children are not taken for roots."""
        if span.context is not None:
            with self._lock:
                self._ids.add(span.context.span_id)

    def on_end(self, span: ReadableSpan) -> None:
        """Keep the span; when it is a root of ours (a run), print its trace."""
        context = span.context
        if context is None:  # pragma: no cover - the SDK always gives spans one
            return
        with self._lock:
            spans = self._spans.setdefault(context.trace_id, [])
            spans.append(span)
            if span.parent is not None and span.parent.span_id in self._ids:
                return  # an inner span: its root ends later
            del self._spans[context.trace_id]
            self._ids.difference_update(s.context.span_id for s in spans if s.context)
        self._file.write(render(spans))
        self._file.flush()


def _duration(span: ReadableSpan) -> float:
    if span.start_time is None or span.end_time is None:  # pragma: no cover - ended spans
        return 0.0
    return (span.end_time - span.start_time) / 1e9


def _summary(span: ReadableSpan) -> str:
    attributes = span.attributes or {}
    notes = []
    tokens_in = attributes.get("gen_ai.usage.input_tokens")
    tokens_out = attributes.get("gen_ai.usage.output_tokens")
    if tokens_in is not None or tokens_out is not None:
        notes.append(f"{tokens_in or 0} in / {tokens_out or 0} out tokens")
    reasons = attributes.get("gen_ai.response.finish_reasons")
    if isinstance(reasons, Sequence) and not isinstance(reasons, str) and reasons:
        notes.append(",".join(map(str, reasons)))
    retries = attributes.get("http.request.resend_count")
    if retries:
        notes.append(f"{retries} retr{'y' if retries == 1 else 'ies'}")
    if span.status.status_code is StatusCode.ERROR:
        notes.append(f"error: {attributes.get('error.type') or span.status.description}")
    return "  ".join(notes)


def render(spans: Sequence[ReadableSpan]) -> str:
    """A trace as an indented tree: start offset and duration (seconds), name, summary.

    Args:
        spans: The ended spans of one trace (any order).

    Returns:
        The table's lines, ending in a newline.
    """
    ids = {s.context.span_id for s in spans if s.context is not None}
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in spans:
        parent = span.parent.span_id if span.parent is not None else None
        children.setdefault(parent if parent in ids else None, []).append(span)
    for group in children.values():
        group.sort(key=lambda s: s.start_time or 0)
    roots = children.get(None, [])
    origin = min((s.start_time or 0 for s in spans), default=0)
    rows: list[tuple[str, str, str, str]] = []

    def walk(span: ReadableSpan, prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if last else "├─ ")
        start = ((span.start_time or 0) - origin) / 1e9
        rows.append((f"{start:.3f}", f"{_duration(span):.3f}", prefix + branch + span.name,
                     _summary(span)))  # fmt: skip
        kids = children.get(span.context.span_id if span.context else None, [])
        deeper = prefix if top else prefix + ("   " if last else "│  ")
        for i, kid in enumerate(kids):
            walk(kid, deeper, i == len(kids) - 1, False)

    for root in roots:
        walk(root, "", True, True)
    name_width = max((len(r[2]) for r in rows), default=4)
    lines = [f"{'start s':>8}  {'took s':>7}  {'span':<{name_width}}  notes"]
    lines += [f"{a:>8}  {b:>7}  {c:<{name_width}}  {d}".rstrip() for a, b, c, d in rows]
    return "\n".join(lines) + "\n"
