"""What the console shows, read from the assistant's own records: the usage ledger (every
model call: user, model, use case, tokens, cost, day), the audit log (questions with their
abstention and fallback, and calls that left the process), the feedback database and the
budgets' report. Nothing here writes.

Dates are UTC days (``YYYY-MM-DD``); a ``Window`` is an inclusive range of them.
"""

from __future__ import annotations

import calendar
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException

DIMENSIONS = ("model", "use_case", "group", "user")
METRICS = ("cost_usd", "tokens", "calls")
NO_GROUP = "(no group)"
OTHERS = "(others)"
MAX_DAYS = 366


@dataclass(frozen=True)
class Window:
    """An inclusive range of UTC days."""

    first: str
    last: str

    @classmethod
    def parse(cls, first: str | None, last: str | None, default_days: int = 30, now: float | None = None) -> Window:
        """The range of the ``from`` and ``to`` query parameters (``YYYY-MM-DD``; by default the last
        ``default_days`` days to today); a bad date, or a range backwards or over a year, is a 400 naming it."""
        today = time.strftime("%Y-%m-%d", time.gmtime(time.time() if now is None else now))
        end = _day(last, "to") if last else today
        start = _day(first, "from") if first else _shift(end, -(default_days - 1))
        if start > end:
            raise HTTPException(400, f"from ({start}) is after to ({end})")
        window = cls(start, end)
        if len(window.days) > MAX_DAYS:
            raise HTTPException(400, f"from .. to spans {len(window.days)} days; at most {MAX_DAYS}")
        return window

    @property
    def since(self) -> float:
        """The unix time the range starts at (00:00 UTC of ``first``)."""
        return float(calendar.timegm(time.strptime(self.first, "%Y-%m-%d")))

    @property
    def until(self) -> float:
        """The unix time just after the range (00:00 UTC of the day after ``last``)."""
        return float(calendar.timegm(time.strptime(self.last, "%Y-%m-%d"))) + 86400

    @property
    def days(self) -> list[str]:
        """Every day of the range, oldest first."""
        count = int((self.until - self.since) // 86400)
        return [time.strftime("%Y-%m-%d", time.gmtime(self.since + n * 86400)) for n in range(count)]


def _day(text: str, name: str) -> str:
    try:
        return time.strftime("%Y-%m-%d", time.strptime(text.strip(), "%Y-%m-%d"))
    except ValueError:
        raise HTTPException(400, f"{name} must be a date like 2026-11-01, not {text!r}") from None


def _shift(day: str, days: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(calendar.timegm(time.strptime(day, "%Y-%m-%d")) + days * 86400))


def usage(assistant: Any, by: str, window: Window) -> list[dict[str, Any]]:
    """The ledger's totals per day and ``by`` (model, use_case, user, or group: a user's calls
    count for each of their groups, ``(no group)`` when they have none), oldest day first."""
    if by not in DIMENSIONS:
        raise HTTPException(400, f"by must be one of {', '.join(DIMENSIONS)}, not {by!r}")
    if by != "group":
        return assistant.ledger.daily(by, window.since, window.until)
    directory = assistant.directory
    sums: dict[tuple[str, str], dict[str, Any]] = {}
    for row in assistant.ledger.daily("user", window.since, window.until):
        for group in (directory.groups(row["user"]) if row["user"] else []) or [NO_GROUP]:
            total = sums.setdefault((row["day"], group), {"day": row["day"], "group": group})
            for name in ("calls", "failed", "input_tokens", "output_tokens", "cost_usd"):
                total[name] = total.get(name, 0) + row[name]
    return [sums[key] for key in sorted(sums)]


def value(row: dict[str, Any], metric: str) -> float:
    """A usage row's ``metric``: cost_usd, tokens (in and out) or calls."""
    if metric == "tokens":
        return float(row["input_tokens"] + row["output_tokens"])
    return float(row[metric])


def totals(rows: Sequence[dict[str, Any]], by: str, metric: str) -> dict[str, float]:
    """``metric`` summed per ``by`` over the rows, largest first."""
    sums: dict[str, float] = defaultdict(float)
    for row in rows:
        sums[row[by] or "(none)"] += value(row, metric)
    return dict(sorted(sums.items(), key=lambda item: (-item[1], item[0])))


def series(rows: Sequence[dict[str, Any]], by: str, metric: str, days: Sequence[str], top: int = 8) -> dict[str, list[float]]:
    """``metric`` per day for each of the ``top`` largest keys of ``by``, the rest summed as ``(others)``."""
    leaders = list(totals(rows, by, metric))[:top]
    index = {day: n for n, day in enumerate(days)}
    out: dict[str, list[float]] = {key: [0.0] * len(days) for key in leaders}
    for row in rows:
        key = row[by] or "(none)"
        if row["day"] in index:
            line = out[key] if key in out else out.setdefault(OTHERS, [0.0] * len(days))
            line[index[row["day"]]] += value(row, metric)
    return out


def answer_rates(assistant: Any, window: Window) -> list[dict[str, Any]]:
    """Per day of the window: the questions answered (the audit log's ``question`` records),
    how many abstained and how many came from a fallback provider, and their shares."""
    log = assistant.audit
    counts = {day: [0, 0, 0] for day in window.days}
    for record in log.records(since=window.since) if log is not None else []:
        day = time.strftime("%Y-%m-%d", time.gmtime(float(record.get("ts", 0))))
        if record.get("kind") == "question" and day in counts:
            count = counts[day]
            count[0] += 1
            count[1] += bool(record.get("abstained"))
            count[2] += bool(record.get("fallback"))
    return [
        {
            "day": day,
            "answers": n,
            "abstained": abstained,
            "fallbacks": fallbacks,
            "abstention_rate": round(abstained / n, 4) if n else 0.0,
            "fallback_rate": round(fallbacks / n, 4) if n else 0.0,
        }
        for day, (n, abstained, fallbacks) in counts.items()
    ]


def audit_records(assistant: Any, window: Window, user: str | None, kind: str | None) -> list[dict[str, Any]]:
    """The audit log's records in the window, of ``user`` and of ``kind`` when given, newest first."""
    log = assistant.audit
    if log is None:
        return []
    records = log.records(user=user or None, since=window.since)
    return [r for r in reversed(records) if float(r.get("ts", 0)) < window.until and (not kind or r.get("kind") == kind)]


def feedback_rows(feedback: Any, window: Window, rating: str) -> list[dict[str, Any]]:
    """The rated answers last changed in the window, newest first; ``rating`` up, down or all (taken back ones left out)."""
    wanted = {"up": {1}, "down": {-1}, "all": {1, -1}}.get(rating)
    if wanted is None:
        raise HTTPException(400, f"rating must be up, down or all, not {rating!r}")
    return [
        row
        for row in reversed(feedback.rows())
        if row["rating"] in wanted and window.first <= str(row["time"])[:10] <= window.last
    ]


def budget_rows(assistant: Any, status: str) -> list[dict[str, Any]]:
    """Every limit of every user and group with its use (``Budgets.report``), the fullest first;
    ``status`` near (near or over), over, or all."""
    wanted = {"near": {"near", "over"}, "over": {"over"}, "all": {"ok", "near", "over"}}.get(status)
    if wanted is None:
        raise HTTPException(400, f"status must be near, over or all, not {status!r}")
    rows = [
        {
            "subject": use.subject,
            "limit": use.limit,
            "used": round(use.used, 6),
            "allowed": use.allowed,
            "share": round(use.share, 4) if use.allowed else None,
            "status": use.status,
            "resets": time.strftime("%Y-%m-%d %H:%M", time.gmtime(use.resets)),
        }
        for use in assistant.budgets.report()
        if use.status in wanted
    ]
    return sorted(rows, key=lambda row: (-(row["share"] if row["share"] is not None else float("inf")), row["subject"]))
