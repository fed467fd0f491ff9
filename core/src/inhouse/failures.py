"""Remembered ingestion failures, so that an unchanged item that failed is not read again.

An item that failed after its bytes were read (a parse error, no text found, a parser limit,
an unsupported type) fails again until its content changes; the ingester keeps it here with
the hash it had and, while that hash stays the same, reports it failed without ``open``. A
failure of the reading itself (an ``open`` error, retryable or not, or the connector's own
``error``) is never kept: it is tried on every run.

Rows live in ``<home>/ingest.sqlite3`` (a connection per call: safe from any thread and
process), one per (connector root, source id). Each carries a fingerprint of the ``[ingest]``
settings and the installed parsers: a failure kept under another one is tried again (a raised
limit, a new or upgraded parser). The ingester removes the row of an item that disappears or
is tried again; ``inhouse ingest --rebuild`` removes them all.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

from inhouse import registry
from inhouse.config import IngestSettings
from inhouse.smalldb import transaction

FILE = "ingest.sqlite3"
_SCHEMA = """CREATE TABLE IF NOT EXISTS failures (
  root TEXT NOT NULL, id TEXT NOT NULL, path TEXT NOT NULL, hash TEXT NOT NULL, status TEXT NOT NULL,
  reason TEXT NOT NULL, setup TEXT NOT NULL, PRIMARY KEY (root, id))"""


@dataclass(frozen=True)
class Failure:
    """One kept failure: the item's ``path`` and ``hash`` then, ``status`` (``failed`` or
    ``skipped``), the ``reason`` reported, and the ``setup`` fingerprint it failed under."""

    path: str
    hash: str
    status: str
    reason: str
    setup: str


class FailureLog:
    """The kept failures of one home (``<home>/ingest.sqlite3``)."""

    def __init__(self, home: Path):
        self.path = Path(home) / FILE

    def _db(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self.path, _SCHEMA)

    def load(self, root: str) -> dict[str, Failure]:
        """The failures kept for ``root``, by source id."""
        if not self.path.exists():
            return {}
        with self._db() as db:
            rows = db.execute("SELECT id, path, hash, status, reason, setup FROM failures WHERE root = ?", (root,))
            return {row[0]: Failure(*row[1:]) for row in rows}

    def save(self, root: str, forget: Iterable[str], keep: dict[str, Failure]) -> None:
        """Remove the rows of ``forget`` (source ids), then keep ``keep``, in one transaction."""
        forget = list(forget)
        if not forget and not keep and not self.path.exists():
            return
        with self._db() as db:
            db.executemany("DELETE FROM failures WHERE root = ? AND id = ?", [(root, i) for i in forget])
            db.executemany(
                "INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(root, i, f.path, f.hash, f.status, f.reason, f.setup) for i, f in keep.items()],
            )

    def clear(self) -> None:
        """Forget every kept failure (``inhouse ingest --rebuild``)."""
        if self.path.exists():
            with self._db() as db:
                db.execute("DELETE FROM failures")


def setup_fingerprint(settings: IngestSettings) -> str:
    """What a kept failure depends on besides the item: the ``[ingest]`` settings and the
    installed parsers (name, target, distribution and version)."""
    parsers = sorted(
        (name, ep.value, ep.dist.name if ep.dist else "", ep.dist.version if ep.dist else "")
        for name, ep in registry.installed("parsers").items()
    )
    text = json.dumps([settings.model_dump(mode="json"), parsers], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
