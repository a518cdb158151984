"""OpenTelemetry traces and metrics for agent runs, following the GenAI semantic conventions.

Needs the ``otel`` extra (``pip install 'agentkit-loop[otel]'``, which installs only
``opentelemetry-api``); where the data goes (an SDK, an exporter) is the application's choice.

```python
import agentkit.otel

agentkit.otel.instrument()  # every Agent, from now on
```
"""

from __future__ import annotations

import sys
from typing import TextIO

try:
    import opentelemetry.trace  # noqa: F401 (the one dependency, checked up front)
except ImportError as exc:  # pragma: no cover - exercised in a subprocess without the extra
    raise ImportError(
        "agentkit.otel needs OpenTelemetry: pip install 'agentkit-loop[otel]'"
    ) from exc

from opentelemetry import metrics, trace

from agentkit.agent import Agent
from agentkit.otel._interceptor import CAPTURE_ENV, OTelInterceptor

__all__ = [
    "CAPTURE_ENV",
    "OTelInterceptor",
    "instrument",
    "instrument_from_env",
    "print_traces",
    "uninstrument",
]


def instrument(
    *,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
    capture_content: bool | None = None,
    max_content_length: int = 4096,
    propagate_context: bool = False,
) -> OTelInterceptor:
    """Record the runs of every `Agent` (existing and future) with an `OTelInterceptor`.

    The interceptor is added to ``Agent.default_interceptors``, outermost; calling this again
    replaces it, so settings can change. Same arguments as `OTelInterceptor`.

    Returns:
        The interceptor now in use.
    """
    interceptor = OTelInterceptor(
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        capture_content=capture_content,
        max_content_length=max_content_length,
        propagate_context=propagate_context,
    )
    uninstrument()
    Agent.default_interceptors = (interceptor, *Agent.default_interceptors)
    return interceptor


def uninstrument() -> None:
    """Stop recording runs of every agent: undo `instrument` (agents' own interceptors stay)."""
    Agent.default_interceptors = tuple(
        i for i in Agent.default_interceptors if not isinstance(i, OTelInterceptor)
    )


def print_traces(file: TextIO | None = None) -> OTelInterceptor:
    """An interceptor that prints each run's span tree, with timings, when the run ends.

    What ``agentkit run --trace`` uses. It records into a tracer provider of its own (not the
    global one), so it works beside any other set-up. Needs ``opentelemetry-sdk``.

    Args:
        file: Where to print; standard error by default.

    Returns:
        The interceptor, to give to an agent or a run.

    Raises:
        ImportError: ``opentelemetry-sdk`` is not installed.
    """
    try:
        from agentkit.otel._console import TreePrinter
    except ImportError as exc:
        raise ImportError(
            "printing traces needs the OpenTelemetry SDK: pip install opentelemetry-sdk"
        ) from exc
    return TreePrinter(file or sys.stderr).interceptor()


def instrument_from_env() -> None:
    """`instrument` with the defaults, unless already done: what ``AGENTKIT_OTEL=1`` does.

    Agents call it when they are made with ``AGENTKIT_OTEL`` set to ``1`` or ``true``.
    """
    if not any(isinstance(i, OTelInterceptor) for i in Agent.default_interceptors):
        instrument()
