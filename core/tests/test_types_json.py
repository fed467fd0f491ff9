"""The JSON shapes of answers, hits and reports read back into the same types (the remote SDK relies on it)."""

from __future__ import annotations

import json

from inhouse.types import Answer, Chunk, Citation, Hit, IngestReport, Usage


def test_an_answer_reads_back_from_its_json() -> None:
    cited = Citation(1, "leave.md", "Leave", "26 days.", heading="Annual", doc_id="d1", highlights=["26 days."])
    paged = Citation(2, "guide.pdf", "Guide", "Ten days.", page=3, doc_id="d2")
    answer = Answer(
        "26 days [1]", [cited, paged], False, "quote", Usage(10, 5, 0, 12.5), {"total_ms": 3.0},
        [{"profile": "quote", "ok": True}], {"use_case": "default"}, cost_usd=0.001,
        context=[{"n": 1, "source": "leave.md", "text": "26 days."}], kind="quoted", related=[paged],
    )  # fmt: skip
    again = Answer.from_dict(json.loads(json.dumps(answer.to_dict())))
    assert again == answer


def test_a_hit_reads_back_from_its_json() -> None:
    chunk = Chunk("c1", "d1", "leave.md", "Leave", "26 days.", heading="Annual", ordinal=4, sensitivity="confidential")
    hit = Hit(chunk, 0.5, dense=0.7, bm25=None)
    again = Hit.from_dict(json.loads(json.dumps(hit.to_dict())))
    assert again == hit


def test_a_report_reads_back_from_its_json_and_ignores_unknown_keys() -> None:
    report = IngestReport(added=2, failed=[{"path": "x.pdf", "reason": "encrypted"}], chunks=9, seconds=1.25)
    assert IngestReport.from_dict({**report.to_dict(), "from_a_newer_server": 1}) == report
