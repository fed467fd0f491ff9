"""Conversations kept per user in ``<home>/conversations.sqlite3``: they survive a restart, and
the chat page, the HTTP API and the SDK reach the same ones.

Each turn stores the question and the answer as ``Answer.to_dict()`` JSON (images are not kept);
``history`` gives a conversation back as the ``history`` of ``Assistant.stream``, each turn with
the residency it was answered under, so a private turn never reaches a less private model.
A user sees, continues and deletes only their own conversations; the local caller (user None)
is a user of its own.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inhouse.smalldb import transaction
from inhouse.types import Answer

FILE = "conversations.sqlite3"
SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY, user TEXT NOT NULL, title TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS conversations_by_user ON conversations (user, updated);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT, conversation TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    question TEXT NOT NULL, answer TEXT NOT NULL, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns (conversation, id);
"""
TITLE_CHARS = 80


@dataclass(frozen=True)
class ConversationInfo:
    """One conversation: its id, owner, title (its first question), times and number of turns."""

    id: str
    user: str
    title: str
    created: float
    updated: float
    turns: int

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the HTTP API (the owner is the caller: not repeated)."""
        return {"id": self.id, "title": self.title, "created": self.created, "updated": self.updated, "turns": self.turns}


@dataclass(frozen=True)
class StoredTurn:
    """A question of a conversation and the answer it got."""

    id: int
    question: str
    answer: Answer
    created: float

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the HTTP API."""
        return {"id": self.id, "question": self.question, "answer": self.answer.to_dict(), "created": self.created}


def title_of(question: str) -> str:
    """A conversation's title: its first question on one line, shortened."""
    line = " ".join(question.split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1].rstrip() + "…"


class ConversationStore:
    """Every user's conversations, safe to use from any thread and process (each call opens the file)."""

    def __init__(self, home: Path):
        self.path = Path(home) / FILE

    def _db(self) -> Any:
        return transaction(self.path, SCHEMA)

    def create(self, user: str | None, title: str = "") -> ConversationInfo:
        """A new, empty conversation of ``user``."""
        now = time.time()
        info = ConversationInfo(secrets.token_hex(16), user or "", title_of(title), now, now, 0)
        with self._db() as db:
            db.execute("INSERT INTO conversations VALUES (?, ?, ?, ?, ?)", (info.id, info.user, info.title, now, now))
        return info

    def list(self, user: str | None, limit: int = 50) -> list[ConversationInfo]:
        """``user``'s conversations, the most recently continued first."""
        with self._db() as db:
            rows = db.execute(
                "SELECT c.id, c.user, c.title, c.created, c.updated, (SELECT COUNT(*) FROM turns t WHERE t.conversation = c.id) "
                "FROM conversations c WHERE c.user = ? ORDER BY c.updated DESC, c.rowid DESC LIMIT ?",
                (user or "", max(0, limit)),
            ).fetchall()
        return [ConversationInfo(*row) for row in rows]

    def get(self, user: str | None, conversation_id: str) -> ConversationInfo | None:
        """The conversation, or None when it does not exist or is not ``user``'s."""
        with self._db() as db:
            row = db.execute(
                "SELECT c.id, c.user, c.title, c.created, c.updated, (SELECT COUNT(*) FROM turns t WHERE t.conversation = c.id) "
                "FROM conversations c WHERE c.id = ? AND c.user = ?",
                (str(conversation_id), user or ""),
            ).fetchone()
        return ConversationInfo(*row) if row else None

    def turns(self, user: str | None, conversation_id: str) -> list[StoredTurn]:
        """The turns of ``user``'s conversation in order ([] when it is not theirs)."""
        with self._db() as db:
            rows = db.execute(
                "SELECT t.id, t.question, t.answer, t.created FROM turns t JOIN conversations c ON c.id = t.conversation "
                "WHERE c.id = ? AND c.user = ? ORDER BY t.id",
                (str(conversation_id), user or ""),
            ).fetchall()
        return [StoredTurn(row[0], row[1], Answer.from_dict(json.loads(row[2])), row[3]) for row in rows]

    def history(self, user: str | None, conversation_id: str) -> list[dict[str, str]]:
        """The conversation as ``Assistant.stream``'s ``history``: each question and answer with
        the residency the answer was produced under (turns without one, and image turns, are left out)."""
        out = []
        for turn in self.turns(user, conversation_id):
            residency = str(turn.answer.route.get("history_residency") or "")
            if not residency or turn.answer.route.get("use_case") == "image":
                continue  # a turn of unknown residency could reach any model: left out, as images are
            for role, content in (("user", turn.question), ("assistant", turn.answer.text)):
                out.append({"role": role, "content": content, "residency": residency})
        return out

    def append(self, user: str | None, conversation_id: str, question: str, answer: Answer) -> StoredTurn:
        """Add a turn to ``user``'s conversation (titled by its first question); KeyError when it is not theirs."""
        now = time.time()
        with self._db() as db:
            row = db.execute(
                "SELECT title FROM conversations WHERE id = ? AND user = ?", (str(conversation_id), user or "")
            ).fetchone()
            if row is None:
                raise KeyError(f"no conversation {conversation_id!r}")
            title = row[0] or title_of(question)
            db.execute("UPDATE conversations SET updated = ?, title = ? WHERE id = ?", (now, title, conversation_id))
            cursor = db.execute(
                "INSERT INTO turns (conversation, question, answer, created) VALUES (?, ?, ?, ?)",
                (conversation_id, question, json.dumps(answer.to_dict()), now),
            )
        return StoredTurn(int(cursor.lastrowid or 0), question, answer, now)

    def delete(self, user: str | None, conversation_id: str) -> bool:
        """Delete ``user``'s conversation and its turns; False when there was none of theirs."""
        with self._db() as db:
            gone = db.execute("DELETE FROM conversations WHERE id = ? AND user = ?", (str(conversation_id), user or ""))
            if gone.rowcount:
                db.execute("DELETE FROM turns WHERE conversation = ?", (conversation_id,))
            return bool(gone.rowcount)
