"""OpenTelemetry spans of answers and ingestion, tied to the request id the ledger and audit log carry.

An ``Assistant`` holds one :class:`Tracing`. With ``[tracing] enabled = true`` it owns an SDK
``TracerProvider`` (its own, never the process-wide one) that exports over OTLP/HTTP to
``[tracing] otlp_endpoint``; without it, nothing is recorded and nothing is sent, unless a
caller adds a span processor of its own (``inhouse serve`` turns spans into Prometheus
metrics that way). The SDK is imported only then.

Spans are started with an explicit parent, never as the "current" span: an answer streams
through generators that a server may advance from different threads, where a context
attached in one would be detached in another. An answer's span is found by its request id
(:meth:`Tracing.answer_span`), so the router's attempt spans hang under it.

Attributes never hold the question or document text unless ``[tracing] include_text = true``
(:meth:`Tracing.text`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import trace

from inhouse.config import TracingSettings
from inhouse.types import Answer

#: The attribute every span of one answer or ingest run carries: the ledger's and audit log's ``request``.
REQUEST_ID = "inhouse.request_id"
AttributeValue = str | bool | int | float


class Tracing:
    """The spans of one assistant: off (no spans at all), exported over OTLP/HTTP, or handed to
    span processors added with :meth:`add_processor`."""

    def __init__(self, settings: TracingSettings | None = None):
        self.settings = settings or TracingSettings()
        self._provider: Any = None  # opentelemetry.sdk.trace.TracerProvider, built when first needed
        self._tracer: trace.Tracer | None = None
        self._answers: dict[str, trace.Span] = {}  # open answer spans by request id
        self._lock = threading.Lock()
        if self.settings.enabled:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            from opentelemetry.sdk.trace.export import BatchSpanProcessor

            self.add_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=self.settings.otlp_endpoint)))

    @property
    def active(self) -> bool:
        """Whether spans are recorded (tracing enabled or a processor added)."""
        return self._tracer is not None

    def add_processor(self, processor: Any) -> None:
        """Hand every span, from now on, to ``processor`` (an SDK ``SpanProcessor``)."""
        with self._lock:
            if self._provider is None:
                from opentelemetry.sdk.resources import Resource
                from opentelemetry.sdk.trace import TracerProvider

                resource = Resource.create({"service.name": self.settings.service_name})
                self._provider = TracerProvider(resource=resource)
                self._tracer = self._provider.get_tracer("inhouse")
            self._provider.add_span_processor(processor)

    def start(
        self, name: str, parent: trace.Span | None = None, attributes: Mapping[str, AttributeValue] | None = None
    ) -> trace.Span:
        """A started span (``trace.INVALID_SPAN`` when off): the caller ends it."""
        if self._tracer is None:
            return trace.INVALID_SPAN
        context = trace.set_span_in_context(parent) if parent is not None else None
        return self._tracer.start_span(name, context=context, attributes=attributes)

    @contextlib.contextmanager
    def span(
        self, name: str, parent: trace.Span | None = None, attributes: Mapping[str, AttributeValue] | None = None
    ) -> Iterator[trace.Span]:
        """A span around a block, ended when it leaves; an exception marks it failed and goes on."""
        span = self.start(name, parent, attributes)
        try:
            yield span
        except Exception as exc:
            failed(span, exc)
            raise
        finally:
            span.end()

    @contextlib.contextmanager
    def answer(self, request_id: str, span: trace.Span) -> Iterator[None]:
        """While the block runs, ``span`` is the answer span of ``request_id`` (see :meth:`answer_span`)."""
        if self._tracer is None:
            yield
            return
        span.set_attribute(REQUEST_ID, request_id)
        with self._lock:
            self._answers[request_id] = span
        try:
            yield
        finally:
            with self._lock:
                self._answers.pop(request_id, None)

    def answer_span(self, request_id: str) -> trace.Span | None:
        """The open answer span of ``request_id`` (None: none, or tracing off)."""
        return self._answers.get(request_id)

    def text(self, key: str, value: str) -> dict[str, AttributeValue]:
        """``{key: value}`` when ``[tracing] include_text``, else nothing: the attributes of a text."""
        return {key: value} if self.settings.include_text and self._tracer is not None else {}

    def flush(self) -> None:
        """Export what is pending now."""
        if self._provider is not None:
            self._provider.force_flush()

    def close(self) -> None:
        """Export what is pending and stop the exporters."""
        if self._provider is not None:
            self._provider.shutdown()
            self._provider, self._tracer = None, None


def answer_attributes(answer: Answer) -> dict[str, AttributeValue]:
    """What an answer span says of its answer: use case, provider, abstention, fallback, citations, tokens, cost."""
    route = answer.route
    return {
        "inhouse.use_case": route.get("use_case") or "",
        "inhouse.provider": answer.provider or "",
        "inhouse.abstained": answer.abstained,
        "inhouse.fallback": bool(route.get("fallback")),
        "inhouse.citations": len(answer.citations),
        "inhouse.input_tokens": answer.usage.input_tokens,
        "inhouse.output_tokens": answer.usage.output_tokens,
        "inhouse.cost_usd": answer.cost_usd or 0.0,
    }


def failed(span: trace.Span, exc: BaseException) -> None:
    """Mark ``span`` failed by ``exc`` (its type and code, never its message: it may quote text)."""
    if not span.is_recording():
        return
    span.set_status(trace.Status(trace.StatusCode.ERROR, type(exc).__name__))
    span.set_attribute("error.type", getattr(exc, "code", "") or type(exc).__name__)
