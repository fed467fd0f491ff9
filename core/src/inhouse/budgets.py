"""Budgets and quotas, enforced: ``Budgets.check`` runs before any model call of a request and
refuses it with ``BudgetExceeded`` (and its ``retry_after``) when a limit of ``[budgets]``
(:mod:`inhouse.budget_settings`) is reached.

Token and cost use comes from the usage ledger (``<home>/usage.sqlite3``): every user's
totals for the UTC day and month are summed once (at the first check, and when a day
begins), then each check adds only the rows written since the last one, by id (whichever
process wrote them), so its cost does not grow with the ledger. Requests a minute are counted
here, in memory, as requests are let through (an answer that never calls a model counts too).
The local caller (``user`` None: the CLI, the SDK without ``user=``) has no budget. A token
or cost limit refuses the requests after the one that reached it: requests already under way
when it is reached finish (and are counted), so use can end a little over a limit.
"""

from __future__ import annotations

import calendar
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from inhouse.access import Directory
from inhouse.budget_settings import LIMITS, BudgetSettings
from inhouse.errors import BudgetExceeded
from inhouse.ledger import Ledger

NEAR = 0.8  # a subject at this share of a limit is "near" it
_LAST = "SELECT COALESCE(MAX(id), 0) FROM calls"
_TOTALS = (
    "SELECT user, SUM(CASE WHEN ts >= ? THEN input_tokens + output_tokens ELSE 0 END), "
    "SUM(CASE WHEN ts >= ? THEN COALESCE(cost_usd, 0) ELSE 0 END), SUM(input_tokens + output_tokens), "
    "SUM(COALESCE(cost_usd, 0)) FROM calls WHERE id <= ? AND ts >= ? GROUP BY user"
)
_NEW = "SELECT id, user, ts, input_tokens + output_tokens, COALESCE(cost_usd, 0) FROM calls WHERE id > ? ORDER BY id"
_REQUESTS = "SELECT user, COUNT(DISTINCT request) FROM calls WHERE user IN ({}) AND ts > ? GROUP BY user"
_SEEN = "SELECT DISTINCT user FROM calls WHERE ts >= ? AND user != ''"


@dataclass(frozen=True)
class Use:
    """How much of one limit one subject (``user:NAME`` or ``group:NAME``) has used, and when it resets."""

    subject: str
    limit: str
    used: float
    allowed: float
    resets: float  # unix time

    @property
    def share(self) -> float:
        """``used`` / ``allowed`` (infinite for a limit of 0)."""
        return self.used / self.allowed if self.allowed else float("inf")

    @property
    def status(self) -> str:
        """``over`` (no more requests), ``near`` (at least 80 %) or ``ok``; to a millionth (sums of costs are inexact)."""
        return "over" if round(self.used, 6) >= self.allowed else "near" if self.share >= NEAR else "ok"

    def message(self, now: float) -> str:
        """Why a request is refused, in a sentence that says when it may be made again."""
        who = self.subject.partition(":")[2] if self.subject.startswith("user:") else f"the group {self.subject[6:]}"
        window, name = LIMITS[self.limit]
        if window == "minute":
            wait = _seconds(self.resets - now)
            requests = f"{self.used:g} request" + ("" if self.used == 1 else "s")
            return f"{who} made {requests} in the last minute, the {name} ({self.allowed:g}): retry in {wait} s"
        amount = (
            f"${self.used:,.2f} of the ${self.allowed:,.2f}"
            if self.limit.startswith("cost")
            else f"{self.used:,.0f} tokens of the {self.allowed:,.0f}-token"
        )
        when = time.strftime("%Y-%m-%d", time.gmtime(self.resets))
        return f"{who} has used {amount} {name}; it resets on {when} (00:00 UTC)"


class Budgets:
    """The ``[budgets]`` of a configuration over a usage ledger (thread-safe)."""

    def __init__(self, settings: BudgetSettings, directory: Callable[[], Directory], ledger: Callable[[], Ledger]):
        self.settings = settings
        self.directory = directory  # read afresh on each check: a membership change applies to the next request
        self._ledger = ledger  # opened on the first check that needs it
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._requests: dict[str, deque[float]] = {}  # subject -> times of its requests in the last minute
        self._window: tuple[float, float] | None = None  # the (day, month) starts that _totals are of
        self._totals: dict[str, dict[tuple[str, str], float]] = {}  # user -> tokens and cost by window
        self._last_id = 0  # the last ledger row counted in _totals

    def limits(self, user: str) -> dict[str, dict[str, float]]:
        """Every limit that applies to a request by ``user``, by subject: their own, then each group's."""
        subjects = {f"user:{user}": self.settings.for_user(user)}
        for group in self.directory().groups(user):
            if group in self.settings.groups:
                subjects[f"group:{group}"] = self.settings.groups[group].given()
        return {subject: given for subject, given in subjects.items() if given}

    def members(self, subject: str, directory: Directory | None = None) -> list[str]:
        """The users whose use counts towards ``subject`` (by ``directory``, else the current one)."""
        kind, _, name = subject.partition(":")
        if kind == "user":
            return [name]
        return [user for user, groups in (directory or self.directory()).users.items() if name in groups]

    def check(self, user: str | None, now: float | None = None) -> None:
        """Let a request by ``user`` through (counting it), or raise ``BudgetExceeded`` for the
        limit that keeps it out longest. Nothing is counted for a refused request."""
        if user is None or not self.settings.configured:
            return
        now = time.time() if now is None else now
        limits = self.limits(user)
        if not limits:
            return
        with self._lock:
            uses = self._uses(limits, now)
            over = [use for use in uses if use.status == "over"]
            if over:
                worst = max(over, key=lambda use: use.resets)
                raise BudgetExceeded(
                    worst.message(now), retry_after=_seconds(worst.resets - now), subject=worst.subject, limit=worst.limit
                )
            for subject, given in limits.items():
                if "requests_per_minute" in given:
                    self._requests.setdefault(subject, deque()).append(now)

    def report(self, now: float | None = None) -> list[Use]:
        """The use of every limit of every user (configured, with a table of their own, or in the
        ledger this month) and of every group with limits, groups last. Requests a minute are
        this process's count, or the ledger's requests with model calls when more (another
        process, such as the CLI, sees only those)."""
        now = time.time() if now is None else now
        with self._lock:
            seen = [row[0] for row in self._connection().execute(_SEEN, (_month_start(now),))]
            names = dict.fromkeys([*self.directory().users, *self.settings.users, *seen])
            limits = {f"user:{name}": self.settings.for_user(name) for name in names}
            limits.update({f"group:{name}": table.given() for name, table in self.settings.groups.items()})
            return self._uses({subject: given for subject, given in limits.items() if given}, now, from_ledger=True)

    def close(self) -> None:
        """Close the ledger connection (a later check opens it again). Safe to call twice."""
        with self._lock:
            if self._db is not None:
                self._db.close()
            self._db = None

    def _uses(self, limits: dict[str, dict[str, float]], now: float, from_ledger: bool = False) -> list[Use]:
        day, month = _day_start(now), _month_start(now)
        resets = {"day": day + 86400, "month": _next_month(now)}
        directory = self.directory()
        members = {subject: self.members(subject, directory) for subject in limits}
        users = sorted({user for names in members.values() for user in names})
        spent = self._spent(day, month)
        logged = dict(self._query(_REQUESTS, users, now - 60)) if from_ledger and users else {}
        uses = []
        for subject, given in limits.items():
            for limit, allowed in given.items():
                window = LIMITS[limit][0]
                if window == "minute":
                    times = self._recent(subject, now)
                    used = max(len(times), sum(logged.get(m, 0) for m in members[subject]))
                    reset = times[0] + 60 if times else now + 60
                else:
                    column = ("tokens" if limit.startswith("tokens") else "cost", window)
                    used, reset = sum(spent.get(m, {}).get(column, 0.0) for m in members[subject]), resets[window]
                uses.append(Use(subject, limit, used, allowed, reset))
        return uses

    def _spent(self, day: float, month: float) -> dict[str, dict[tuple[str, str], float]]:
        """Tokens and cost of every user today and this month: summed from the ledger once per
        UTC day, then kept up to date from the rows written since (by any process)."""
        db = self._connection()
        if self._window != (day, month):
            last = db.execute(_LAST).fetchone()[0]
            rows = db.execute(_TOTALS, (day, day, last, month)).fetchall()
            self._window, self._last_id = (day, month), last
            self._totals = {user: _spend(td or 0, cd or 0.0, tm or 0, cm or 0.0) for user, td, cd, tm, cm in rows}
        for row_id, user, ts, tokens, cost in db.execute(_NEW, (self._last_id,)).fetchall():
            self._last_id = row_id
            if ts >= month:
                spend = self._totals.setdefault(user, _spend(0, 0.0, 0, 0.0))
                spend["tokens", "month"] += tokens
                spend["cost", "month"] += cost
                if ts >= day:
                    spend["tokens", "day"] += tokens
                    spend["cost", "day"] += cost
        return self._totals

    def _query(self, sql: str, users: list[str], since: float, *before: float) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` for ``users`` (its ``{}``) since a unix time, ``before`` its leading parameters."""
        return self._connection().execute(sql.format(", ".join("?" * len(users))), (*before, *users, since)).fetchall()

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = sqlite3.connect(self._ledger().path, check_same_thread=False, isolation_level=None)
            self._window = None  # another connection: sum again
        return self._db

    def _recent(self, subject: str, now: float) -> deque[float]:
        times = self._requests.setdefault(subject, deque())
        while times and times[0] <= now - 60:
            times.popleft()
        return times


def _spend(tokens_day: float, cost_day: float, tokens_month: float, cost_month: float) -> dict[tuple[str, str], float]:
    return {
        ("tokens", "day"): tokens_day,
        ("cost", "day"): cost_day,
        ("tokens", "month"): tokens_month,
        ("cost", "month"): cost_month,
    }


def _seconds(delta: float) -> int:
    """Whole seconds to wait, at least 1."""
    return max(1, int(delta + 0.999))


def _day_start(now: float) -> float:
    return float(int(now // 86400) * 86400)


def _month_start(now: float) -> float:
    t = time.gmtime(now)
    return float(calendar.timegm((t.tm_year, t.tm_mon, 1, 0, 0, 0)))


def _next_month(now: float) -> float:
    t = time.gmtime(now)
    year, month = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
    return float(calendar.timegm((year, month, 1, 0, 0, 0)))
