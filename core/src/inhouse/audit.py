"""The audit log: a tamper-evident, append-only record of every question and every call that
sent text out of this process, in ``<home>/audit.jsonl``.

Each line is one JSON record carrying ``seq`` (its number), ``prev`` (the SHA-256 of the
record before it) and ``hash`` (the SHA-256 of its own canonical JSON without ``hash``), so
editing, deleting, inserting or reordering a record breaks the chain at that record, and
:meth:`AuditLog.verify` names it. ``<home>/audit.jsonl.head`` keeps the number and hash of
the last record written, so records cut off the end are noticed too. The chain proves the
log was not changed by someone who did not also recompute every later hash; to prove that
as well, keep the head hash ``inhouse audit --verify`` prints somewhere else.

Records older than ``[audit] retention_days`` are dropped by :meth:`AuditLog.prune`, which
puts a ``checkpoint`` record first holding the number and hash of the last record dropped:
the chain stays verifiable from there. Appends from threads and processes are serialised
with a lock file (``audit.jsonl.lock``).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inhouse.errors import InhouseError

if TYPE_CHECKING:
    from inhouse.ledger import Call
    from inhouse.types import Answer

GENESIS = "0" * 64


def record_hash(record: dict[str, Any]) -> str:
    """The SHA-256 of a record's canonical JSON (sorted keys, no spaces), ``hash`` left out."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def sha256_text(text: str) -> str:
    """The SHA-256 of ``text`` (UTF-8) in hex."""
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Verification:
    """The outcome of :meth:`AuditLog.verify`: ``ok``, the records checked, the head hash, and
    where the chain breaks first (``line`` is 1-based; ``seq`` the record's number) and why."""

    ok: bool
    records: int
    head: str
    line: int | None = None
    seq: int | None = None
    problem: str = ""


def _chain_end(record: dict[str, Any]) -> tuple[int, str]:
    """The number and hash the next record follows: a checkpoint stands for the last record it dropped."""
    if record.get("kind") == "checkpoint":
        return int(record["through_seq"]), str(record["through_hash"])
    return int(record["seq"]), str(record["hash"])


class AuditLog:
    """Appends hash-chained records to ``path`` and reads, verifies and prunes them."""

    def __init__(self, path: Path, retention_days: int | None = None, clock: Callable[[], float] = time.time):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.head_path = path.with_name(path.name + ".head")
        self.lock_path = path.with_name(path.name + ".lock")
        self.retention_days = retention_days
        self.clock = clock

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def append(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Write one record of ``kind`` with ``fields`` (JSON values) at the end of the chain; returns it."""
        with self._locked():
            last = self._last_record()
            seq, prev = _chain_end(last) if last else (0, GENESIS)
            record = {"ts": self.clock(), **fields, "kind": kind, "seq": seq + 1, "prev": prev}
            record["hash"] = record_hash(record)
            line = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
            self._write_head(record["seq"], record["hash"])
        return record

    def _write_head(self, seq: int, digest: str) -> None:
        tmp = self.head_path.with_name(self.head_path.name + ".tmp")
        tmp.write_text(json.dumps({"seq": seq, "hash": digest}), encoding="utf-8")
        os.replace(tmp, self.head_path)

    def _last_record(self) -> dict[str, Any] | None:
        """The last record of the file (read from its end), or None when there is none."""
        if not self.path.exists():
            return None
        with open(self.path, "rb") as f:
            end = f.seek(0, os.SEEK_END)
            pos, tail = end, b""
            while pos > 0 and tail.count(b"\n") < 2:
                step = min(8192, pos)
                pos -= step
                f.seek(pos)
                tail = f.read(step) + tail
        lines = tail.rstrip(b"\n").split(b"\n")
        if not lines[-1]:
            return None
        try:
            return json.loads(lines[-1])
        except ValueError:
            raise InhouseError(f"the audit log {self.path} ends in a damaged record: run `inhouse audit --verify`") from None

    def record_call(self, call: Call) -> dict[str, Any]:
        """The record of one model call that sent text out (what, where, for whom, how much)."""
        return self.append(
            "call",
            ts=call.ts,
            call=call.kind,
            profile=call.profile,
            plugin=call.plugin,
            model=call.model,
            residency=call.residency,
            user=call.user,
            use_case=call.use_case,
            request=call.request,
            ok=call.ok,
            code=call.code,
            chunk_ids=list(call.chunk_ids),
            bytes_sent=call.bytes_sent,
            payload_sha256=call.payload_sha256,
            redactions=dict(call.redactions),
            input_tokens=call.usage.input_tokens,
            output_tokens=call.usage.output_tokens,
        )

    def record_question(self, question: str, user: str | None, answer: Answer, keep_text: bool = False) -> dict[str, Any]:
        """The record of one answered question: who asked, the sources retrieved and cited,
        the provider and use case; the question's text only when ``keep_text``, else its hash."""
        said = {"question": question} if keep_text else {"question_sha256": sha256_text(question)}
        return self.append(
            "question",
            user=user or "",
            use_case=answer.route.get("use_case", ""),
            request=answer.route.get("request", ""),
            provider=answer.provider or "",
            residency=answer.route.get("residency") or "",
            abstained=answer.abstained,
            fallback=bool(answer.route.get("fallback")),
            retrieved=[{"doc_id": p.get("doc_id", ""), "source": p.get("source", "")} for p in answer.context],
            cited=[{"doc_id": c.doc_id, "source": c.source} for c in answer.citations],
            **said,
        )

    def records(self, user: str | None = None, since: float | None = None) -> list[dict[str, Any]]:
        """The records (checkpoints left out), oldest first, of ``user`` since a unix time."""
        out = []
        for _, record in self._lines():
            if record is None or record.get("kind") == "checkpoint":
                continue
            if (user is None or record.get("user") == user) and (since is None or record.get("ts", 0) >= since):
                out.append(record)
        return out

    def _lines(self) -> Iterator[tuple[int, dict[str, Any] | None]]:
        """Each line's number and record (None for a line that is not a JSON object)."""
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                try:
                    record = json.loads(line)
                except ValueError:
                    record = None
                yield number, record if isinstance(record, dict) else None

    def verify(self) -> Verification:
        """Check the whole chain; the first record that breaks it is named."""
        expected_seq, prev, count = 1, GENESIS, 0
        for number, record in self._lines():
            seq = record.get("seq") if record else None
            if record is None or "hash" not in record:
                return Verification(False, count, prev, number, None, f"line {number} is not an audit record")
            if record_hash(record) != record["hash"]:
                what = f"record {seq}" if seq is not None else f"the {record.get('kind')} record"
                return Verification(False, count, prev, number, seq, f"{what} (line {number}) was changed after it was written")
            if record.get("kind") == "checkpoint":
                if number != 1:
                    return Verification(False, count, prev, number, None, f"line {number}: a checkpoint can only be first")
                expected_seq, prev = _chain_end(record)
                expected_seq += 1
                continue
            if record["prev"] != prev or seq != expected_seq:
                problem = (
                    f"record {seq} (line {number}) does not follow record {expected_seq - 1}: "
                    "records were deleted, inserted or reordered"
                )
                return Verification(False, count, prev, number, seq, problem)
            expected_seq, prev, count = expected_seq + 1, record["hash"], count + 1
        if self.head_path.exists():
            head = json.loads(self.head_path.read_text(encoding="utf-8"))
            if head["seq"] >= expected_seq or (head["seq"] == expected_seq - 1 and head["hash"] != prev):
                problem = (
                    f"the log ends at record {expected_seq - 1} but record {head['seq']} was written: "
                    "records were cut off the end"
                )
                return Verification(False, count, prev, None, head["seq"], problem)
        return Verification(True, count, prev)

    def prune(self) -> int:
        """Drop records older than the retention period, behind a checkpoint; returns how many."""
        if self.retention_days is None:
            return 0
        cutoff = self.clock() - self.retention_days * 86400
        with self._locked():
            first = next((r for _, r in self._lines() if r and r.get("kind") != "checkpoint"), None)
            if first is None or first.get("ts", 0) >= cutoff:
                return 0
            lines = self.path.read_text(encoding="utf-8").splitlines(keepends=True)
            start = 1 if json.loads(lines[0]).get("kind") == "checkpoint" else 0
            keep = start
            while keep < len(lines) and json.loads(lines[keep]).get("ts", 0) < cutoff:
                keep += 1
            through_seq, through_hash = _chain_end(json.loads(lines[keep - 1]))
            previous = json.loads(lines[0]).get("pruned", 0) if start else 0
            checkpoint = {"kind": "checkpoint", "ts": self.clock(), "through_seq": through_seq, "through_hash": through_hash}
            checkpoint["pruned"] = previous + keep - start
            checkpoint["hash"] = record_hash(checkpoint)
            tmp = self.path.with_name(self.path.name + ".tmp")
            head = json.dumps(checkpoint, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
            tmp.write_text(head + "".join(lines[keep:]), encoding="utf-8")
            os.replace(tmp, self.path)
            return keep - start
