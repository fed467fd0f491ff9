"""API keys of the HTTP API, in ``<home>/api-keys.sqlite3``: each runs as one user.

A key is shown once, when it is made: ``ih-<id>-<secret>``. Only the SHA-256 digest of the
whole key is stored (the secret is 256 random bits, so a fast digest is enough), with the public
``id`` by which ``inhouse keys list`` and ``revoke`` name it. ``check`` compares digests in
constant time and refuses revoked and malformed keys.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inhouse.smalldb import transaction

FILE = "api-keys.sqlite3"
SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    id TEXT PRIMARY KEY, digest TEXT NOT NULL, user TEXT NOT NULL, name TEXT NOT NULL, created REAL NOT NULL,
    last_used REAL, revoked INTEGER NOT NULL DEFAULT 0, requests_per_minute INTEGER);
"""
_KEY = re.compile(r"^ih-([0-9a-f]{12})-([A-Za-z0-9_-]{43})$")
LAST_USED_EVERY_S = 60.0  # how stale ``last_used`` may be: it is written at most this often
_COLUMNS = "id, user, name, created, last_used, revoked, requests_per_minute"


@dataclass(frozen=True)
class ApiKey:
    """One key: who it runs as, its label, when it was made and last used, and its own rate limit."""

    id: str
    user: str
    name: str
    created: float
    last_used: float | None
    revoked: bool
    requests_per_minute: int | None  # None: the [api] default

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``inhouse keys list --json``."""
        return {
            "id": self.id,
            "user": self.user,
            "name": self.name,
            "created": self.created,
            "last_used": self.last_used,
            "revoked": self.revoked,
            "requests_per_minute": self.requests_per_minute,
        }


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _key(row: tuple[Any, ...]) -> ApiKey:
    return ApiKey(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6])


class KeyStore:
    """The API keys of one data folder (safe from any thread and process)."""

    def __init__(self, home: Path):
        self.path = Path(home) / FILE

    def _db(self) -> Any:
        return transaction(self.path, SCHEMA)

    def create(self, user: str, name: str = "", requests_per_minute: int | None = None) -> tuple[ApiKey, str]:
        """A new key for ``user``: its record and the key itself (shown once, never stored)."""
        if not user.strip():
            raise ValueError("a key needs a user to run as")
        if requests_per_minute is not None and requests_per_minute < 0:
            raise ValueError("requests_per_minute must be 0 (unlimited) or more")
        key_id = secrets.token_hex(6)
        secret = f"ih-{key_id}-{secrets.token_urlsafe(32)}"
        record = ApiKey(key_id, user, name, time.time(), None, False, requests_per_minute)
        with self._db() as db:
            db.execute(
                f"INSERT INTO keys (digest, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (_digest(secret), key_id, user, name, record.created, None, 0, requests_per_minute),
            )
        return record, secret

    def list(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first."""
        if not self.path.exists():
            return []
        with self._db() as db:
            return [_key(row) for row in db.execute(f"SELECT {_COLUMNS} FROM keys ORDER BY created, id")]

    def revoke(self, key_id: str) -> bool:
        """Revoke the key with this id; False when there is no such unrevoked key."""
        with self._db() as db:
            return bool(db.execute("UPDATE keys SET revoked = 1 WHERE id = ? AND revoked = 0", (key_id,)).rowcount)

    def revoke_user(self, user: str) -> int:
        """Revoke every key of ``user`` (a deprovisioned person); how many were in force."""
        if not self.path.exists():
            return 0
        with self._db() as db:
            return db.execute("UPDATE keys SET revoked = 1 WHERE user = ? AND revoked = 0", (user,)).rowcount

    def check(self, secret: str) -> ApiKey | None:
        """The key ``secret`` is, or None when it is malformed, unknown or revoked."""
        match = _KEY.match(secret or "")
        if match is None or not self.path.exists():
            return None
        with self._db() as db:
            row = db.execute(f"SELECT digest, {_COLUMNS} FROM keys WHERE id = ?", (match.group(1),)).fetchone()
            if row is None or not hmac.compare_digest(row[0], _digest(secret)) or row[6]:
                return None
            now, last = time.time(), row[5]
            if last is None or now - last >= LAST_USED_EVERY_S:  # not a write per request under load
                db.execute("UPDATE keys SET last_used = ? WHERE id = ?", (now, row[1]))
                last = now
        return _key((*row[1:5], last, *row[6:]))

    def active(self) -> bool:
        """Whether any key is in force (with none, the API serves loopback clients only)."""
        if not self.path.exists():
            return False
        with self._db() as db:
            return db.execute("SELECT 1 FROM keys WHERE revoked = 0 LIMIT 1").fetchone() is not None
