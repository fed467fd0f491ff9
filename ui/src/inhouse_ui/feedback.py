"""Thumbs up or down, with an optional comment, per answer: ``<home>/feedback.sqlite3``.

One row per rated answer (rating it again changes the row): the user, the question, the
answer, its sources (JSON), the provider that answered, the time, the rating (1 or -1; 0
when taken back) and the comment.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,          -- ISO 8601, UTC, of the last change
    user TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    sources TEXT NOT NULL,       -- JSON: [{n, source, title, heading, page, doc_id}]
    provider TEXT,
    mode TEXT,
    rating INTEGER NOT NULL,     -- 1 helpful, -1 not helpful, 0 taken back
    comment TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS feedback_time ON feedback (time);
"""


class Feedback:
    """The feedback database (thread-safe; one connection)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def rate(
        self,
        *,
        user: str,
        question: str,
        answer: str,
        sources: list[dict[str, Any]],
        provider: str | None,
        rating: int,
        mode: str | None = None,
        feedback_id: int | None = None,
    ) -> int:
        """Record a rating (or change the rating ``feedback_id`` of the same user); returns the row id."""
        now = _now()
        with self._lock:
            if feedback_id is not None:
                cur = self._db.execute(
                    "UPDATE feedback SET rating = ?, time = ? WHERE id = ? AND user = ?", (rating, now, feedback_id, user)
                )
                if cur.rowcount:
                    return feedback_id
            cur = self._db.execute(
                "INSERT INTO feedback (time, user, question, answer, sources, provider, mode, rating) VALUES (?,?,?,?,?,?,?,?)",
                (now, user, question, answer, json.dumps(sources, ensure_ascii=False), provider, mode, rating),
            )
            return int(cur.lastrowid or 0)

    def comment(self, feedback_id: int, user: str, text: str) -> bool:
        """Attach a comment to the user's own rating; False when there is no such row."""
        with self._lock:
            cur = self._db.execute(
                "UPDATE feedback SET comment = ?, time = ? WHERE id = ? AND user = ?",
                (text.strip()[:4000], _now(), feedback_id, user),
            )
            return cur.rowcount > 0

    def rows(self) -> list[dict[str, Any]]:
        """Every row, oldest first, sources parsed (for reports and tests)."""
        with self._lock:
            cur = self._db.execute("SELECT * FROM feedback ORDER BY id")
            names = [d[0] for d in cur.description]
            out = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        for row in out:
            row["sources"] = json.loads(row["sources"])
        return out

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
