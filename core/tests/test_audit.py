"""The audit log: a hash chain that names the first edited, deleted or reordered record,
retention that keeps it verifiable, safe concurrent appends, the ledger's call records and the
assistant's question records, and ``inhouse audit``."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from pathlib import Path

from typer.testing import CliRunner

from inhouse.audit import AuditLog, sha256_text
from inhouse.cli import app
from inhouse.ledger import Call, Ledger
from inhouse.plugins import Prompt, Provider
from inhouse.route import Router, RouteRequest
from inhouse.types import Usage


def filled(tmp_path: Path, n: int = 5) -> AuditLog:
    log = AuditLog(tmp_path / "audit.jsonl")
    for i in range(n):
        log.append("question", user=f"u{i % 2}", question_sha256=sha256_text(f"q{i}"))
    return log


def lines(log: AuditLog) -> list[str]:
    return log.path.read_text(encoding="utf-8").splitlines(keepends=True)


def test_each_record_carries_the_hash_of_the_one_before(tmp_path: Path) -> None:
    log = filled(tmp_path)
    records = [json.loads(line) for line in lines(log)]
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5]
    assert records[0]["prev"] == "0" * 64
    assert all(b["prev"] == a["hash"] for a, b in itertools.pairwise(records))
    result = log.verify()
    assert result.ok and result.records == 5 and result.head == records[-1]["hash"]


def test_an_edited_record_is_named(tmp_path: Path) -> None:
    log = filled(tmp_path)
    rows = lines(log)
    rows[2] = rows[2].replace('"user":"u0"', '"user":"mallory"')
    log.path.write_text("".join(rows), encoding="utf-8")
    result = log.verify()
    assert not result.ok and (result.line, result.seq) == (3, 3) and "changed" in result.problem


def test_a_deleted_record_is_named(tmp_path: Path) -> None:
    log = filled(tmp_path)
    rows = lines(log)
    del rows[1]
    log.path.write_text("".join(rows), encoding="utf-8")
    result = log.verify()
    assert not result.ok and result.seq == 3 and "deleted" in result.problem


def test_records_cut_off_the_end_are_noticed(tmp_path: Path) -> None:
    log = filled(tmp_path)
    log.path.write_text("".join(lines(log)[:-2]), encoding="utf-8")
    result = log.verify()
    assert not result.ok and "cut off the end" in result.problem and result.seq == 5


def test_reordered_records_are_named(tmp_path: Path) -> None:
    log = filled(tmp_path)
    rows = lines(log)
    rows[1], rows[2] = rows[2], rows[1]
    log.path.write_text("".join(rows), encoding="utf-8")
    result = log.verify()
    assert not result.ok and result.line == 2 and result.seq == 3 and "reordered" in result.problem


def test_retention_drops_old_records_and_the_chain_still_verifies(tmp_path: Path) -> None:
    now = [1_000_000.0]
    log = AuditLog(tmp_path / "audit.jsonl", retention_days=30, clock=lambda: now[0])
    for day in range(60):
        now[0] = 1_000_000.0 + day * 86400
        log.append("question", user="ana")
    assert log.prune() == 29  # days 0..28 are older than 30 days on day 59
    assert log.verify().ok and [r["seq"] for r in log.records()][:2] == [30, 31]
    now[0] += 10 * 86400
    assert log.prune() == 10 and log.verify().ok  # a second pruning replaces the checkpoint
    assert json.loads(lines(log)[0])["pruned"] == 39
    log.append("question", user="ana")
    assert log.verify().ok and log.records()[-1]["seq"] == 61
    rows = lines(log)
    rows[0] = rows[0].replace('"through_seq":39', '"through_seq":38')
    log.path.write_text("".join(rows), encoding="utf-8")
    assert not log.verify().ok


def test_concurrent_appends_from_threads_keep_one_chain(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")

    def write(worker: int) -> None:
        other = AuditLog(tmp_path / "audit.jsonl")  # as another process would: its own object
        for i in range(25):
            (log if i % 2 else other).append("question", user=f"w{worker}")

    threads = [threading.Thread(target=write, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = log.verify()
    assert result.ok and result.records == 200


class Remote(Provider):
    residency = "external"

    def generate(self, prompt: Prompt) -> Iterator[str | Usage]:
        yield "answer"
        yield Usage(12, 3)


class OnDevice(Provider):
    residency = "local"

    def generate(self, prompt: Prompt) -> Iterator[str | Usage]:
        yield "answer"


def test_every_call_that_leaves_the_process_is_an_audit_record(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    ledger = Ledger(tmp_path / "usage.sqlite3", log)
    providers = {"claude": Remote(), "small": OnDevice()}
    router = Router({"default": ["claude"]}, providers.__getitem__, ledger=lambda: ledger)
    prompt = Prompt(system="s", messages=[{"role": "user", "content": "q"}])
    for profile in ("claude", "small"):
        list(router.generate(RouteRequest("default", (profile,), user="ana"), lambda provider: prompt))
    sent = Call("generate", "claude", "bedrock", "m", "external", True, chunk_ids=("c1", "c2"), bytes_sent=812,
                payload_sha256="ab" * 32, redactions={"email": 2})  # fmt: skip
    ledger.record(sent)
    records = log.records()
    assert [(r["profile"], r["residency"], r["user"]) for r in records] == [
        ("claude", "external", "ana"),
        ("claude", "external", ""),
    ]
    assert records[0]["input_tokens"] == 12
    assert records[1]["chunk_ids"] == ["c1", "c2"] and records[1]["bytes_sent"] == 812
    assert records[1]["redactions"] == {"email": 2} and records[1]["payload_sha256"] == "ab" * 32
    assert len(ledger.calls()) == 3  # the usage table keeps the local call too
    ledger.close()


def test_a_question_is_recorded_with_its_sources_and_only_the_hash_of_its_text(assistant) -> None:
    question = "How many vacation days do new employees get?"
    answer = assistant.ask(question, user="zoe")
    record = assistant.audit.records(user="zoe")[-1]
    assert record["kind"] == "question" and record["question_sha256"] == sha256_text(question)
    assert "question" not in record and question not in assistant.audit.path.read_text(encoding="utf-8")
    assert record["cited"] == [{"doc_id": c.doc_id, "source": c.source} for c in answer.citations]
    assert len(record["retrieved"]) == len(answer.context) > 0
    assert record["provider"] == (answer.provider or "") and record["use_case"] == answer.route["use_case"]
    assert assistant.audit.verify().ok


def test_the_audit_command_lists_filters_and_verifies(tmp_path: Path) -> None:
    log = filled(tmp_path)
    runner = CliRunner()
    home = ["--home", str(tmp_path)]
    listed = runner.invoke(app, [*home, "audit", "--user", "u1", "--json"])
    assert listed.exit_code == 0 and [r["seq"] for r in json.loads(listed.stdout)] == [2, 4]
    recent = runner.invoke(app, [*home, "audit", "--since", "1d", "--json"])
    assert len(json.loads(recent.stdout)) == 5
    table = runner.invoke(app, [*home, "audit", "--user", "u0"], env={"COLUMNS": "200"})
    assert table.exit_code == 0 and table.stdout.count(" question ") == 3
    ok = runner.invoke(app, [*home, "audit", "--verify"])
    assert ok.exit_code == 0 and "5 records" in ok.stdout
    rows = lines(log)
    rows[3] = rows[3].replace('"user":"u1"', '"user":"u0"')
    log.path.write_text("".join(rows), encoding="utf-8")
    broken = runner.invoke(app, [*home, "audit", "--verify"])
    assert broken.exit_code == 1 and "record 4 (line 4) was changed" in broken.output
