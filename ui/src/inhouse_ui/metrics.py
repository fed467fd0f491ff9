"""Prometheus metrics of ``inhouse serve`` at ``GET /metrics`` (text format 0.0.4).

- HTTP requests served and their latency, by path (``/v1/<route>``, the probes, ``page`` for
  the rest) and status: ``RequestMetrics``, middleware around the whole app.
- Latency per stage of answers and ingestion, provider attempts by outcome, fallbacks,
  abstentions, tokens and cost: ``SpanMetrics`` reads the assistant's OpenTelemetry spans
  (``inhouse.tracing``) as they end, so spans are recorded while the server runs, exported
  or not (``[tracing]`` decides that).

``/metrics`` is a route of the HTTP API (``/v1/metrics``) that the page's server also answers
at ``/metrics``: the same guard applies as to every API route (``api.common.caller``): an API
key, or while none exists, a client on this machine only. With ``[api] enabled = false`` there is
no ``/metrics``. Each registry is the server's own (never prometheus_client's global one).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI, Response
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PATH = "/metrics"
PROBES = ("/health", "/healthz", "/readyz", PATH)
#: Seconds: stages take from well under a millisecond (gate) to minutes (a local model's answer).
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    """The server's metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("inhouse_http_requests", "HTTP requests served", ["path", "status"], registry=r)
        self.request_seconds = Histogram(
            "inhouse_http_request_duration_seconds", "HTTP request latency", ["path"], buckets=BUCKETS, registry=r
        )
        self.stage_seconds = Histogram(
            "inhouse_stage_duration_seconds", "Latency per stage", ["stage"], buckets=BUCKETS, registry=r
        )
        self.answers = Counter("inhouse_answers", "Answers given, by use case", ["use_case"], registry=r)
        self.abstentions = Counter("inhouse_abstentions", "Answers that abstained, by use case", ["use_case"], registry=r)
        self.fallbacks = Counter(
            "inhouse_fallbacks", "Answers from a provider after the first of the chain, by use case", ["use_case"], registry=r
        )
        self.attempts = Counter(
            "inhouse_provider_attempts", "Provider calls by profile and outcome", ["profile", "outcome"], registry=r
        )
        self.tokens = Counter("inhouse_tokens", "Model tokens by profile and direction", ["profile", "direction"], registry=r)
        self.cost = Counter("inhouse_cost_usd", "Cost of model calls in US dollars, by profile", ["profile"], registry=r)

    def text(self) -> bytes:
        """The exposition text of every metric."""
        return generate_latest(self.registry)


class SpanMetrics(SpanProcessor):
    """An OpenTelemetry span processor that counts what the assistant's spans say as they end."""

    def __init__(self, metrics: Metrics):
        self.metrics = metrics

    def on_end(self, span: ReadableSpan) -> None:
        """Count one finished span: its duration by stage, and what an answer or attempt span reports."""
        m, attrs = self.metrics, span.attributes or {}
        if span.end_time is not None and span.start_time is not None:
            stage = span.name.removeprefix("inhouse.").removeprefix("stage.")
            m.stage_seconds.labels(stage).observe((span.end_time - span.start_time) / 1e9)
        if span.name == "inhouse.answer" and "inhouse.use_case" in attrs:
            use_case = str(attrs["inhouse.use_case"])
            m.answers.labels(use_case).inc()
            if attrs.get("inhouse.abstained"):
                m.abstentions.labels(use_case).inc()
            if attrs.get("inhouse.fallback"):
                m.fallbacks.labels(use_case).inc()
        elif span.name == "inhouse.provider":
            profile = str(attrs.get("inhouse.profile", ""))
            m.attempts.labels(profile, str(attrs.get("inhouse.outcome", "unknown"))).inc()
            m.tokens.labels(profile, "input").inc(int(attrs.get("inhouse.input_tokens", 0)))  # type: ignore[arg-type]
            m.tokens.labels(profile, "output").inc(int(attrs.get("inhouse.output_tokens", 0)))  # type: ignore[arg-type]
            m.cost.labels(profile).inc(float(attrs.get("inhouse.cost_usd", 0.0)))  # type: ignore[arg-type]


class RequestMetrics:
    """ASGI middleware: each HTTP request counted with its status and timed, by ``path_label``."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            path = path_label(scope["path"], status)
            self.metrics.requests.labels(path, str(status)).inc()
            self.metrics.request_seconds.labels(path).observe(time.perf_counter() - started)


def path_label(path: str, status: int) -> str:
    """A path as a label of few values: ``/v1/<first segment>``, a probe, else ``page``
    (an unknown API path, a 404, is ``/v1/unknown``: callers cannot make up labels)."""
    if path in PROBES:
        return path
    if path.startswith("/v1/"):
        return "/v1/unknown" if status == 404 else "/v1/" + path[4:].split("/", 1)[0]
    return "page"


class Forward:
    """ASGI app that answers with the API app's ``path`` (its guard, middleware and errors included)."""

    def __init__(self, api: ASGIApp, path: str):
        self.api = api
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.api({**scope, "path": self.path, "raw_path": self.path.encode(), "root_path": ""}, receive, send)


def install(app: FastAPI, api: FastAPI, assistant: Any) -> Metrics:
    """Serve the metrics of ``assistant`` at ``api``'s ``/metrics`` and ``app``'s, and count ``app``'s requests."""
    metrics = Metrics()
    assistant.tracing.add_processor(SpanMetrics(metrics))

    @api.get(PATH, include_in_schema=False)
    def scrape() -> Response:
        """The metrics in Prometheus' text format (the API's guard applies)."""
        return Response(metrics.text(), media_type=CONTENT_TYPE_LATEST)

    app.add_route(PATH, Forward(api, PATH), methods=["GET"], include_in_schema=False)
    app.add_middleware(RequestMetrics, metrics=metrics)
    return metrics
