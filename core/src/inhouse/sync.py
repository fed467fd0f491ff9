"""Syncing the configured connectors (``inhouse sync``, and ``inhouse serve``'s scheduler).

A sync is an incremental ingestion of one ``[connectors.NAME]`` (``inhouse.ingest``): an item
whose hash is unchanged is skipped without ``open`` and without embedding; each document is
committed on its own, so a sync killed at any moment (``kill -9`` included) loses nothing it
committed and the next run resumes where it stopped. A retryable ``open`` failure is tried
again (``[ingest] open_attempts``), and one bad item is reported, never the end of the sync.

Each connector's last sync (start, end, counts, the failed items, error, progress while it
runs) is a row of ``<home>/sync.sqlite3``, which ``inhouse doctor`` and the admin view read;
one sync of a connector runs at a time across processes: a lock file per connector
(``<home>/sync/<hash>.lock``), which the system releases when its process dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inhouse.errors import ConfigError, InhouseError
from inhouse.smalldb import transaction
from inhouse.types import IngestReport

if TYPE_CHECKING:
    from inhouse.assistant import Assistant
    from inhouse.engines import Engine

LOG_FILE = "sync.sqlite3"
COUNTS = ("added", "updated", "unchanged", "removed", "retried", "chunks")  # and failed, skipped
KEEP_FAILURES = 50  # failed items kept with a sync's record
PROGRESS_EVERY_S = 0.5  # how often a running sync writes its progress
_SCHEMA = """CREATE TABLE IF NOT EXISTS syncs (
  connector TEXT PRIMARY KEY, state TEXT NOT NULL, started REAL NOT NULL, ended REAL, pid INTEGER NOT NULL,
  done INTEGER NOT NULL DEFAULT 0, total INTEGER NOT NULL DEFAULT 0, counts TEXT NOT NULL DEFAULT '{}',
  failures TEXT NOT NULL DEFAULT '[]', seconds REAL NOT NULL DEFAULT 0, error TEXT NOT NULL DEFAULT '')"""


@dataclass
class SyncRecord:
    """One connector's last sync. ``state``: ``running``, ``ok``, ``failed`` (the connector as a
    whole: ``error`` says why), ``stopped`` (the server shut down), ``interrupted`` (its process
    died: the next sync resumes) or ``busy`` (not started: another sync of it was running)."""

    connector: str
    state: str
    started: float = 0.0
    ended: float | None = None
    pid: int = 0
    done: int = 0  # items read so far of ``total`` new or changed ones (while running)
    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # COUNTS, failed, skipped
    failures: list[dict[str, str]] = field(default_factory=list)  # {"path", "reason"}, the first KEEP_FAILURES
    seconds: float = 0.0
    error: str = ""

    @property
    def failed(self) -> int:
        """Items that failed (all of them, not only those kept)."""
        return self.counts.get("failed", 0)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``inhouse sync --json``."""
        return {**asdict(self), "failed": self.failed, "seconds": round(self.seconds, 3)}

    def summary(self) -> str:
        """One line for ``inhouse doctor`` and the admin view."""
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))
        if self.state == "running":
            return f"running since {when}: {self.done}/{self.total} new or changed items read"
        if self.state == "busy":
            return self.error
        c = self.counts
        counts = (
            f"{c.get('added', 0)} added, {c.get('updated', 0)} updated, {c.get('unchanged', 0)} unchanged, "
            f"{c.get('removed', 0)} removed, {self.failed} failed"
        )
        if self.state == "ok":
            return f"last sync {when} ok in {self.seconds:.1f}s: {counts}"
        if self.state == "interrupted":
            return f"last sync {when} was interrupted after {self.done}/{self.total} items: the next sync resumes"
        return f"last sync {when} {self.state}: {self.error}"


class SyncLog:
    """The last sync of each connector, in ``<home>/sync.sqlite3`` (a connection per call:
    safe from any thread and process)."""

    def __init__(self, home: Path):
        self.path = Path(home) / LOG_FILE

    def _db(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self.path, _SCHEMA)

    def start(self, name: str) -> None:
        """Record that a sync of ``name`` starts now, in this process."""
        with self._db() as db:
            db.execute(
                "INSERT OR REPLACE INTO syncs (connector, state, started, pid) VALUES (?, 'running', ?, ?)",
                (name, time.time(), os.getpid()),
            )

    def progress(self, name: str, done: int, total: int) -> None:
        """Record how far the running sync of ``name`` is."""
        with self._db() as db:
            db.execute("UPDATE syncs SET done = ?, total = ? WHERE connector = ?", (done, total, name))

    def finish(self, name: str, state: str, report: IngestReport | None = None, error: str = "") -> None:
        """Record how the sync of ``name`` ended (``report``: its counts, when it got that far)."""
        counts = {key: getattr(report, key) for key in COUNTS} if report else {}
        failures = (report.failed if report else [])[:KEEP_FAILURES]
        if report:
            counts["failed"] = len(report.failed)
            counts["skipped"] = len(report.skipped)
        now = time.time()
        with self._db() as db:
            db.execute(
                "UPDATE syncs SET state = ?, ended = ?, seconds = ? - started, counts = ?, failures = ?, error = ?"
                " WHERE connector = ?",
                (state, now, now, json.dumps(counts), json.dumps(failures), error, name),
            )

    def records(self) -> dict[str, SyncRecord]:
        """Every connector's last sync, by name; one whose process died while it ran is ``interrupted``."""
        if not self.path.exists():
            return {}
        with self._db() as db:  # read-write: a write its process was killed in is rolled back first
            rows = db.execute(
                "SELECT connector, state, started, ended, pid, done, total, counts, failures, seconds, error FROM syncs"
            ).fetchall()
        found = {}
        for name, state, started, ended, pid, done, total, counts, failures, seconds, error in rows:
            if state == "running" and not _alive(pid):
                state = "interrupted"
            found[name] = SyncRecord(
                name, state, started, ended, pid, done, total, json.loads(counts), json.loads(failures), seconds, error
            )
        return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class _Stopped(Exception):
    """Raised from the progress callback to end a sync early (the server is shutting down)."""


def sync(
    assistant: Assistant,
    names: Sequence[str] | None = None,
    *,
    progress: bool = False,
    stop: threading.Event | None = None,
    engine: Engine | None = None,
) -> list[SyncRecord]:
    """Sync the connectors ``names`` (default: every ``[connectors.NAME]``) one after another;
    one that fails as a whole is recorded and the next one runs. Returns each one's record.
    ``engine``: where parsing and embedding run (``inhouse.engines``; default: this process)."""
    configured = list(assistant.settings.connectors)
    for name in names or ():
        if name not in configured:
            known = ", ".join(configured) or "none"
            raise ConfigError(f"{assistant.settings.source}: there is no [connectors.{name}] table (configured: {known})")
    log = SyncLog(assistant.home)
    return [sync_one(assistant, name, log, progress=progress, stop=stop, engine=engine) for name in (names or configured)]


def sync_one(
    assistant: Assistant,
    name: str,
    log: SyncLog,
    *,
    progress: bool = False,
    stop: threading.Event | None = None,
    engine: Engine | None = None,
) -> SyncRecord:
    """Sync connector ``name`` unless another sync of it is running (then its record says ``busy``)."""
    with _lock(assistant.home, name) as held:
        if not held:
            return SyncRecord(name, "busy", time.time(), error=f"not started: another sync of connectors.{name} is running")
        log.start(name)
        last = 0.0

        def on_progress(done: int, total: int, path: str) -> None:
            nonlocal last
            if stop is not None and stop.is_set():
                raise _Stopped
            if time.monotonic() - last >= PROGRESS_EVERY_S or done == total:
                log.progress(name, done, total)
                last = time.monotonic()

        try:
            (connector,) = assistant.connectors([name])
            report = assistant.ingest(connector, progress=progress, on_progress=on_progress, engine=engine)
        except _Stopped:
            log.finish(name, "stopped", error="stopped: the server shut down; the next sync resumes")
        except InhouseError as exc:
            log.finish(name, "failed", error=str(exc))
        except Exception as exc:  # a connector's bug fails its sync only
            log.finish(name, "failed", error=f"{type(exc).__name__}: {exc}")
        else:
            log.finish(name, "ok", report)
        return log.records()[name]


@contextmanager
def _lock(home: Path, name: str) -> Iterator[bool]:
    """Hold connector ``name``'s sync lock (yields False, holding nothing, when another holds it)."""
    folder = Path(home) / "sync"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{hashlib.sha256(name.encode()).hexdigest()[:16]}.lock"
    with open(path, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
