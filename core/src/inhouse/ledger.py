"""The usage ledger: one row per model call (tokens, images, estimated cost, outcome).

Every call that sends text to a model is recorded here, in ``<home>/usage.sqlite3``, so
``inhouse usage`` can say who sent what where and what it cost. Prices come from the
configuration's ``[prices]`` table, else from the plugin that made the call (a provider
package knows its vendor's list prices: ``Plugin.price()``).

Given an audit log, the ledger also writes an audit record (:mod:`inhouse.audit`) for every
call whose residency is not ``local``: every call that sends text out of this process, to a
self-hosted server, a cloud account or an external vendor, whether it succeeded or not.
"""

from __future__ import annotations

import calendar
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inhouse.config import duration_seconds
from inhouse.errors import ConfigError
from inhouse.plugins import Plugin, Price
from inhouse.types import Usage

if TYPE_CHECKING:
    from inhouse.audit import AuditLog

GROUPS = {"model": "model", "profile": "profile", "use_case": "use_case", "user": "user", "day": "day", "residency": "residency"}


class PriceTable:
    """The configuration's ``[prices]`` by model id, over each plugin's own ``price()``."""

    def __init__(self, overrides: Mapping[str, Price] | None = None):
        self.overrides = dict(overrides or {})

    def price(self, plugin: Plugin, model_id: str) -> Price | None:
        """The price of ``model_id`` as ``plugin`` calls it, or None when unknown."""
        return self.overrides.get(model_id) or plugin.price()

    def cost(self, plugin: Plugin, model_id: str, usage: Usage) -> float | None:
        """Estimated USD for one call; 0 for local models and empty calls, None for an unpriced remote one."""
        if plugin.residency == "local" or not (usage.input_tokens or usage.output_tokens or usage.images):
            return 0.0
        price = self.price(plugin, model_id)
        if price is None:
            return None
        return (usage.input_tokens * price.input + usage.output_tokens * price.output) / 1e6 + usage.images * price.image


@dataclass
class Call:
    """One model call as the ledger keeps it."""

    kind: str  # "generate" or "embed"
    profile: str
    plugin: str
    model: str
    residency: str
    ok: bool
    usage: Usage = field(default_factory=Usage)
    use_case: str = ""
    user: str = ""
    request: str = ""
    code: str = ""
    error: str = ""
    cost_usd: float | None = None
    ms: float = 0.0
    ts: float = field(default_factory=time.time)
    # What was sent (kept in the audit log, not in the usage table): the chunks whose text
    # went out, the payload's size in UTF-8 bytes and SHA-256, and the redactions by kind.
    chunk_ids: tuple[str, ...] = ()
    bytes_sent: int = 0
    payload_sha256: str = ""
    redactions: dict[str, int] = field(default_factory=dict)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS calls (
    id INTEGER PRIMARY KEY,
    ts REAL NOT NULL, day TEXT NOT NULL, request TEXT, kind TEXT NOT NULL, use_case TEXT, user TEXT,
    profile TEXT NOT NULL, plugin TEXT, model TEXT, residency TEXT,
    ok INTEGER NOT NULL, code TEXT, error TEXT,
    input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, images INTEGER NOT NULL, latency_ms REAL,
    cost_usd REAL, ms REAL
);
CREATE INDEX IF NOT EXISTS calls_ts ON calls(ts);
"""


_AUDIT_ONLY = ("chunk_ids", "bytes_sent", "payload_sha256", "redactions")


class Ledger:
    """Appends calls to ``<home>/usage.sqlite3`` and summarises them (thread-safe); with an
    ``audit`` log, each call that sent text out of the process is also an audit record."""

    def __init__(self, path: Path, audit: AuditLog | None = None):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.audit = audit
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def record(self, call: Call) -> None:
        """Append one call (and its audit record when it left the process)."""
        if self.audit is not None and call.residency != "local":
            self.audit.record_call(call)
        row = asdict(call)
        usage = row.pop("usage")
        for name in _AUDIT_ONLY:
            row.pop(name)
        row.update(usage, ok=int(call.ok), day=time.strftime("%Y-%m-%d", time.gmtime(call.ts)))
        names = ", ".join(row)
        with self._lock:
            self._db.execute(f"INSERT INTO calls ({names}) VALUES ({', '.join('?' * len(row))})", list(row.values()))

    def summary(self, by: str = "model", since: float | None = None) -> list[dict[str, Any]]:
        """Totals per ``by`` (model, profile, use_case, user, day, residency) since a unix time."""
        if by not in GROUPS:
            raise ConfigError(f"usage can be grouped by {', '.join(GROUPS)}, not '{by}'")
        column = GROUPS[by]
        sql = (
            f"SELECT {column} AS key, COUNT(*), SUM(1 - ok), SUM(input_tokens), SUM(output_tokens), SUM(images), "
            "SUM(cost_usd), SUM(cost_usd IS NULL AND ok), GROUP_CONCAT(DISTINCT residency) "
            f"FROM calls WHERE ts >= ? GROUP BY {column} ORDER BY SUM(cost_usd) DESC, COUNT(*) DESC"
        )
        with self._lock:
            rows = self._db.execute(sql, (since or 0.0,)).fetchall()
        return [
            {
                by: key or "",
                "calls": calls,
                "failed": failed,
                "input_tokens": tin,
                "output_tokens": tout,
                "images": images,
                "cost_usd": round(cost or 0.0, 6),
                "unpriced_calls": unpriced,
                "residency": residency or "",
            }
            for key, calls, failed, tin, tout, images, cost, unpriced, residency in rows
        ]

    def daily(self, by: str = "model", since: float | None = None, until: float | None = None) -> list[dict[str, Any]]:
        """Totals per UTC day and ``by`` (model, profile, use_case, user, residency) for calls at
        ``since`` <= ts < ``until`` (unix times; None: unbounded), oldest day first."""
        if by not in GROUPS or by == "day":
            raise ConfigError(f"daily usage can be grouped by {', '.join(g for g in GROUPS if g != 'day')}, not '{by}'")
        column = GROUPS[by]
        sql = (
            f"SELECT day, {column}, COUNT(*), SUM(1 - ok), SUM(input_tokens), SUM(output_tokens), SUM(COALESCE(cost_usd, 0)) "
            f"FROM calls WHERE ts >= ? AND ts < ? GROUP BY day, {column} ORDER BY day, {column}"
        )
        with self._lock:
            rows = self._db.execute(sql, (since or 0.0, until if until is not None else float("inf"))).fetchall()
        names = ("day", by, "calls", "failed", "input_tokens", "output_tokens", "cost_usd")
        return [dict(zip(names, (day, key or "", *rest[:4], round(rest[4], 6)), strict=True)) for day, key, *rest in rows]

    def calls(self, limit: int = 100) -> list[dict[str, Any]]:
        """The most recent calls, newest first."""
        with self._lock:
            cur = self._db.execute("SELECT * FROM calls ORDER BY id DESC LIMIT ?", (limit,))
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def close(self) -> None:
        """Close the database. Safe to call twice."""
        self._db.close()


def parse_since(text: str | None, now: float | None = None) -> float | None:
    """``7d``, ``24h``, ``30m`` or a UTC date (``2026-11-01``) → a unix time; None → everything."""
    if not text:
        return None
    now = time.time() if now is None else now
    seconds = duration_seconds(text)
    if seconds is not None:
        return now - seconds
    try:
        return float(calendar.timegm(time.strptime(text.strip(), "%Y-%m-%d")))
    except ValueError:
        raise ConfigError(f"--since takes 7d, 24h, 30m or a date like 2026-11-01, not '{text}'") from None
