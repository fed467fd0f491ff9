"""OpenTelemetry spans of a real answer and a real ingest (MiniLM, the offline ``extractive``
answerer), caught by the SDK's in-memory exporter; and an export over real OTLP/HTTP to a
receiver on loopback that parses the protobuf the way a collector does."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from inhouse import Assistant
from inhouse.errors import ConfigError
from support import write_config

QUESTION = "How many vacation days do new employees get each year?"
DOCS = {
    "vacation.md": "# Vacation\n\nNew employees get twenty-five vacation days each year, agreed with their manager.\n",
    "parking.md": "# Parking\n\nVisitors park on level -2 of the Rotterdam garage and register at the front desk.\n",
}
SECRET_WORDS = ("twenty-five", "Rotterdam", "vacation days")  # document and question text that must stay out


def corpus(folder: Path) -> Path:
    """The two documents, readable by everyone."""
    docs = folder / "docs"
    docs.mkdir()
    (docs / ".inhouse-acl").write_text("public = true\n", encoding="utf-8")
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    return docs


def traced(folder: Path, tracing: str = "") -> tuple[Assistant, InMemorySpanExporter]:
    """An assistant on the corpus whose spans go to an in-memory exporter."""
    assistant = Assistant.from_config(write_config(folder, corpus(folder), extra=tracing), home=folder / "home")
    exporter = InMemorySpanExporter()
    assistant.tracing.add_processor(SimpleSpanProcessor(exporter))
    return assistant, exporter


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Assistant, list[ReadableSpan], list[ReadableSpan], Any]]:
    """One ingest and one answer: the assistant, the ingest's spans, the answer's spans, the answer."""
    assistant, exporter = traced(tmp_path_factory.mktemp("tracing"))
    assistant.ingest()
    ingest_spans = list(exporter.get_finished_spans())
    exporter.clear()
    answer = assistant.ask(QUESTION)
    yield assistant, ingest_spans, list(exporter.get_finished_spans()), answer
    assistant.close()


def by_name(spans: list[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def test_an_answer_is_one_trace_with_a_span_per_stage_attempt_and_the_citation_step(run: Any) -> None:
    _, _, spans, answer = run
    assert not answer.abstained and answer.citations, answer.text
    (root,) = by_name(spans, "inhouse.answer")
    assert root.parent is None
    children = [s for s in spans if s is not root]
    assert {s.context.trace_id for s in spans} == {root.context.trace_id}
    assert all(s.parent is not None and s.parent.span_id == root.context.span_id for s in children)
    names = [s.name for s in sorted(children, key=lambda s: s.start_time)]
    stages = [f"inhouse.stage.{n}" for n in ("understand", "retrieve", "gate", "expand", "defuse", "score", "check")]
    assert names == [*stages, "inhouse.pack", "inhouse.provider", "inhouse.cite"]
    (attempt,) = by_name(spans, "inhouse.provider")
    assert attempt.attributes["inhouse.profile"] == "extractive"
    assert attempt.attributes["inhouse.outcome"] == "ok"
    assert by_name(spans, "inhouse.cite")[0].attributes["inhouse.citations"] == len(answer.citations)
    assert root.attributes["inhouse.abstained"] is False and root.attributes["inhouse.provider"] == "extractive"
    assert all(s.end_time >= s.start_time for s in spans)


def test_the_request_id_of_the_spans_is_the_one_the_ledger_and_the_audit_log_carry(run: Any) -> None:
    assistant, _, spans, answer = run
    request = answer.route["request"]
    assert len(request) == 32
    assert by_name(spans, "inhouse.answer")[0].attributes["inhouse.request_id"] == request
    assert by_name(spans, "inhouse.provider")[0].attributes["inhouse.request_id"] == request
    assert [c["request"] for c in assistant.ledger.calls() if c["kind"] == "generate"][-1] == request
    question = [r for r in assistant.audit.records() if r["kind"] == "question"][-1]
    assert question["request"] == request


def test_an_ingest_is_one_trace_read_parse_embed_upsert(run: Any) -> None:
    _, spans, _, _ = run
    (root,) = by_name(spans, "inhouse.ingest")
    assert root.parent is None and len(root.attributes["inhouse.request_id"]) == 32
    assert root.attributes["inhouse.chunks"] >= 2
    assert {s.context.trace_id for s in spans} == {root.context.trace_id}
    assert len(by_name(spans, "inhouse.ingest.read")) == len(by_name(spans, "inhouse.ingest.parse")) == len(DOCS)
    assert by_name(spans, "inhouse.ingest.embed") and by_name(spans, "inhouse.ingest.upsert")
    assert sum(s.attributes["inhouse.documents"] for s in by_name(spans, "inhouse.ingest.upsert")) == len(DOCS)
    (connector,) = by_name(spans, "inhouse.ingest.connector")
    assert connector.attributes["inhouse.connector"] == "filesystem"
    assert all(s.parent is not None and s.parent.span_id == root.context.span_id for s in spans if s is not root)


def strings(spans: list[ReadableSpan]) -> list[str]:
    """Every string in the spans' attributes and events."""
    values = [v for s in spans for v in s.attributes.values()]
    values += [v for s in spans for e in s.events for v in e.attributes.values()]
    return [str(v) for v in values]


def test_no_question_or_document_text_in_attributes_unless_configured(run: Any, tmp_path: Path) -> None:
    _, ingest_spans, spans, _ = run
    said = " ".join(strings(ingest_spans + spans))
    assert not [w for w in SECRET_WORDS if w in said], said
    assistant, exporter = traced(tmp_path, "[tracing]\ninclude_text = true\n")
    with assistant:
        assistant.ingest()
        assistant.ask(QUESTION)
    (root,) = by_name(list(exporter.get_finished_spans()), "inhouse.answer")
    assert root.attributes["inhouse.question"] == QUESTION


def test_nothing_is_recorded_or_sent_when_tracing_is_not_configured(tmp_path: Path) -> None:
    assistant = Assistant.from_config(write_config(tmp_path, corpus(tmp_path)), home=tmp_path / "home")
    with assistant:
        assert not assistant.tracing.active
        assert not assistant.tracing.start("inhouse.answer").is_recording()
        assistant.ingest()
        assert not assistant.ask(QUESTION).abstained


def test_a_bad_tracing_setting_names_its_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"tracing\.otlp_endpoint"):
        Assistant.from_config(write_config(tmp_path, tmp_path, extra='[tracing]\notlp_endpoint = "ftp://x"\n'))


class Collector(ThreadingHTTPServer):
    """A minimal OTLP/HTTP trace receiver on loopback: keeps each parsed export request."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Receive)
        self.received: list[ExportTraceServiceRequest] = []
        self.content_types: list[str] = []


class _Receive(BaseHTTPRequestHandler):
    server: Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        export = ExportTraceServiceRequest()
        export.ParseFromString(body)
        self.server.received.append(export)
        self.server.content_types.append(self.headers["Content-Type"])
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200 if self.path == "/v1/traces" else 404)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: Any) -> None:
        """Quiet."""


def test_spans_are_exported_over_otlp_http_when_configured(tmp_path: Path) -> None:
    collector = Collector()
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{collector.server_address[1]}/v1/traces"
    extra = f'[tracing]\nenabled = true\notlp_endpoint = "{endpoint}"\nservice_name = "inhouse-test"\n'
    try:
        assistant = Assistant.from_config(write_config(tmp_path, corpus(tmp_path), extra=extra), home=tmp_path / "home")
        with assistant:
            assistant.ingest()
            answer = assistant.ask(QUESTION)
        # close() flushed the batch exporter
    finally:
        collector.shutdown()
        collector.server_close()
    assert collector.content_types and set(collector.content_types) == {"application/x-protobuf"}
    spans, services = [], set()
    for export in collector.received:
        for resource_spans in export.resource_spans:
            attrs = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            services.add(attrs.get("service.name"))
            spans += [s for scope in resource_spans.scope_spans for s in scope.spans]
    assert services == {"inhouse-test"}
    names = {s.name for s in spans}
    assert {"inhouse.ingest", "inhouse.ingest.embed", "inhouse.answer", "inhouse.provider", "inhouse.cite"} <= names
    (root,) = [s for s in spans if s.name == "inhouse.answer"]
    attrs = {a.key: a.value for a in root.attributes}
    assert attrs["inhouse.request_id"].string_value == answer.route["request"]
    children = [s for s in spans if s.trace_id == root.trace_id and s is not root]
    assert children and all(s.parent_span_id == root.span_id for s in children)


def test_each_provider_attempt_is_a_span_with_its_outcome_and_skipped_profiles_are_events() -> None:
    from inhouse.route import Router, RouteRequest, routed_text
    from inhouse.tracing import Tracing
    from test_route import PROMPT, Failing, Working

    tracing, exporter = Tracing(), InMemorySpanExporter()
    tracing.add_processor(SimpleSpanProcessor(exporter))
    providers = {"busy": Failing(retryable=True, code="throttled"), "claude": Working(), "local": Working()}
    router = Router({"default": list(providers)}, providers.__getitem__, tracing=tracing)
    route = RouteRequest("default", ("busy", "local", "claude"), residency=("in-account",))
    providers["local"].residency = "local"  # the route allows in-account only: skipped
    root = tracing.start("inhouse.answer")
    with tracing.answer(route.request, root):
        text, routed = routed_text(list(router.generate(route, lambda p: PROMPT)))
    root.end()
    assert text == "hello world" and routed.provider == "claude"
    spans = list(exporter.get_finished_spans())
    attempts = sorted(by_name(spans, "inhouse.provider"), key=lambda s: s.start_time)
    assert [(s.attributes["inhouse.profile"], s.attributes["inhouse.outcome"]) for s in attempts] == [
        ("busy", "throttled"),
        ("claude", "ok"),
    ]
    failed, ok = attempts
    assert not failed.status.is_ok and failed.attributes["error.type"] == "throttled"
    assert failed.attributes["inhouse.retryable"] is True
    assert (ok.attributes["inhouse.input_tokens"], ok.attributes["inhouse.output_tokens"]) == (1000, 2000)
    assert ok.attributes["inhouse.cost_usd"] == pytest.approx(0.033)
    assert all(s.parent.span_id == root.get_span_context().span_id for s in attempts)
    assert all(s.attributes["inhouse.request_id"] == route.request for s in attempts)
    (skipped,) = by_name(spans, "inhouse.answer")[0].events
    assert skipped.name == "inhouse.skipped" and skipped.attributes["inhouse.profile"] == "local"
