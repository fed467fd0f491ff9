"""The admin console's routes, ``/admin`` and its sections, for members of an ``[ui] admins``
group (their ``[users.NAME]`` groups or the groups their OpenID Connect sign-in vouched for);
anyone else signed in gets the same plain 404 as an unknown page, as the other admin views.

Every section that shows a table also sends it as CSV with ``?format=csv`` (same filters).
Dates are ``from`` and ``to`` (``YYYY-MM-DD``, UTC, inclusive; the last 30 days by default).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response

from inhouse.doctor import run_checks
from inhouse_ui.admin import RECORD_COLUMNS, chain_verdict, is_admin_of, record_cells, sync_rows
from inhouse_ui.auth import Auth, require
from inhouse_ui.console import queries
from inhouse_ui.console.charts import bar_chart, line_chart
from inhouse_ui.console.export import csv_response
from inhouse_ui.console.layout import csv_link, filters, page, table
from inhouse_ui.console.queries import DIMENSIONS, METRICS, Window

PER_PAGE = 50
UNITS = {"cost_usd": " USD", "tokens": " tokens", "calls": " calls"}
USAGE_COLUMNS = ("day", "calls", "failed", "input_tokens", "output_tokens", "cost_usd")
KINDS = ("", "question", "call")


def _format(value: str) -> str:
    if value not in ("html", "csv"):
        raise HTTPException(400, f"format must be html or csv, not {value!r}")
    return value


def router(assistant: Any, auth: Auth, admins: list[str], feedback: Any) -> APIRouter:
    """The console's routes over ``assistant`` (ledger, audit log, budgets, directory) and the page's ``feedback``."""
    routes = APIRouter(include_in_schema=False)
    signed_in = require(auth)

    def admin(who: str = Depends(signed_in)) -> str:
        if not is_admin_of(assistant, admins, who):
            raise HTTPException(404, "not found")
        return who

    def answer(
        path: str, name: str, header: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str, html: Callable[[], str]
    ) -> Response:
        """The table as CSV when asked, else the section's page (``html()``: its body)."""
        if _format(fmt) == "csv":
            return csv_response(name, header, rows)
        return page(path, html())

    @routes.get("/admin")
    def overview(_: str = Depends(admin)) -> Response:
        """Links to each section, with the last 30 days in a few numbers."""
        window = Window.parse(None, None)
        usage = queries.usage(assistant, "model", window)
        rates = queries.answer_rates(assistant, window)
        answers = sum(r["answers"] for r in rates)
        abstained, fallbacks = sum(r["abstained"] for r in rates), sum(r["fallbacks"] for r in rates)
        near = queries.budget_rows(assistant, "near")
        rows = [
            ("model calls", sum(r["calls"] for r in usage)),
            ("estimated cost (USD)", round(sum(r["cost_usd"] for r in usage), 6)),
            ("questions answered", answers),
            ("abstained", abstained),
            ("from a fallback provider", fallbacks),
            ("budget limits near or over", len(near)),
        ]
        body = (
            f"<p>The last 30 days ({window.first} to {window.last}, UTC).</p>"
            + table(("", "value"), rows)
            + line_chart(
                "estimated cost per day by model", window.days, queries.series(usage, "model", "cost_usd", window.days), " USD"
            )
        )
        return page("/admin", body)

    @routes.get("/admin/usage")
    def usage_view(
        by: str = "model",
        metric: str = "cost_usd",
        first: str | None = Query(None, alias="from"),
        last: str | None = Query(None, alias="to"),
        format: str = "html",
        _: str = Depends(admin),
    ) -> Response:
        """Model calls, tokens and estimated cost per day by model, use case, group or user: charts and the table."""
        if metric not in METRICS:
            raise HTTPException(400, f"metric must be one of {', '.join(METRICS)}, not {metric!r}")
        window = Window.parse(first, last)
        rows = queries.usage(assistant, by, window)
        header = (USAGE_COLUMNS[0], by, *USAGE_COLUMNS[1:])
        cells = [[row[name] for name in header] for row in rows]
        values = {"by": by, "metric": metric, "from": window.first, "to": window.last}

        def html() -> str:
            unit = UNITS[metric]
            lines = queries.series(rows, by, metric, window.days)
            return (
                filters({"by": DIMENSIONS, "metric": METRICS, "from": "from", "to": "to"}, values)
                + line_chart(f"{metric} per day by {by}", window.days, lines, unit)
                + bar_chart(f"{metric} by {by}, {window.first} to {window.last}", queries.totals(rows, by, metric), unit)
                + csv_link("/admin/usage", values)
                + table(header, cells)
            )

        return answer("/admin/usage", f"usage-by-{by}", header, cells, format, html)

    @routes.get("/admin/answers")
    def answers_view(
        first: str | None = Query(None, alias="from"),
        last: str | None = Query(None, alias="to"),
        format: str = "html",
        _: str = Depends(admin),
    ) -> Response:
        """The share of answers that abstained, and that came from a fallback provider, per day."""
        window = Window.parse(first, last)
        rows = queries.answer_rates(assistant, window)
        header = ("day", "answers", "abstained", "fallbacks", "abstention_rate", "fallback_rate")
        cells = [[row[name] for name in header] for row in rows]
        values = {"from": window.first, "to": window.last}

        def html() -> str:
            lines = {
                "abstained %": [100 * r["abstention_rate"] for r in rows],
                "fallback %": [100 * r["fallback_rate"] for r in rows],
            }
            return (
                filters({"from": "from", "to": "to"}, values)
                + line_chart("abstention and fallback rates per day", window.days, lines, " %")
                + bar_chart("answers per day", {r["day"]: r["answers"] for r in rows if r["answers"]})
                + csv_link("/admin/answers", values)
                + table(header, cells)
            )

        return answer("/admin/answers", "answers", header, cells, format, html)

    @routes.get("/admin/feedback")
    def feedback_view(
        rating: str = "all",
        first: str | None = Query(None, alias="from"),
        last: str | None = Query(None, alias="to"),
        page_number: int = Query(1, alias="page", ge=1),
        format: str = "html",
        _: str = Depends(admin),
    ) -> Response:
        """Rated answers, newest first: the question, the answer, its sources and the comment, to review."""
        window = Window.parse(first, last)
        rows = queries.feedback_rows(feedback, window, rating)
        header = ("time", "user", "rating", "question", "answer", "sources", "provider", "comment")
        cells = [
            [
                row["time"],
                row["user"],
                "helpful" if row["rating"] > 0 else "not helpful",
                row["question"],
                row["answer"],
                "; ".join(str(s.get("source", "")) for s in row["sources"]),
                row["provider"] or "",
                row["comment"],
            ]
            for row in rows
        ]
        values = {"rating": rating, "from": window.first, "to": window.last}
        shown = _page_of(cells, page_number)

        def html() -> str:
            return (
                filters({"rating": ("all", "up", "down"), "from": "from", "to": "to"}, values)
                + csv_link("/admin/feedback", values)
                + table(header, shown)
                + _pager("/admin/feedback", values, page_number, len(cells))
            )

        return answer("/admin/feedback", "feedback", header, cells, format, html)

    @routes.get("/admin/log")
    def log_view(
        user: str = "",
        kind: str = "",
        first: str | None = Query(None, alias="from"),
        last: str | None = Query(None, alias="to"),
        page_number: int = Query(1, alias="page", ge=1),
        format: str = "html",
        _: str = Depends(admin),
    ) -> Response:
        """The audit log, newest first, by user, kind and days, 50 records a page (CSV: every record that matches)."""
        if kind not in KINDS:
            raise HTTPException(400, f"kind must be question or call, not {kind!r}")
        window = Window.parse(first, last)
        cells = [record_cells(r) for r in queries.audit_records(assistant, window, user, kind)]
        values = {"user": user, "kind": kind, "from": window.first, "to": window.last}

        def html() -> str:
            if assistant.audit is None:
                return "<p>The audit log is off ([audit] enabled = false).</p>"
            return (
                chain_verdict(assistant.audit)
                + filters({"user": "user", "kind": KINDS, "from": "from", "to": "to"}, values)
                + csv_link("/admin/log", values)
                + table(RECORD_COLUMNS, _page_of(cells, page_number))
                + _pager("/admin/log", values, page_number, len(cells))
            )

        return answer("/admin/log", "audit", RECORD_COLUMNS, cells, format, html)

    @routes.get("/admin/connectors")
    def connectors_view(format: str = "html", _: str = Depends(admin)) -> Response:
        """Each configured connector's schedule and last sync, and the items that failed."""
        header = ("connector", "schedule", "last sync")
        rows = sync_rows(assistant)
        classes = ["failed" if what.startswith("failed ") else "" for _, _, what in rows]
        return answer(
            "/admin/connectors",
            "connectors",
            header,
            rows,
            format,
            lambda: csv_link("/admin/connectors", {}) + table(header, rows, classes),
        )

    @routes.get("/admin/health")
    def health_view(format: str = "html", _: str = Depends(admin)) -> Response:
        """``inhouse doctor``'s checks of this server's configuration: each plugin built and asked."""
        source = Path(assistant.settings.source)
        checks = run_checks(source if source.is_file() else None, Path(assistant.home))
        header = ("check", "ok", "detail")
        rows = [(c.name, "ok" if c.ok else "FAILED", c.detail) for c in checks]
        classes = ["ok" if c.ok else "failed" for c in checks]
        return answer(
            "/admin/health", "health", header, rows, format, lambda: csv_link("/admin/health", {}) + table(header, rows, classes)
        )

    @routes.get("/admin/budgets")
    def budgets_view(status: str = "all", format: str = "html", _: str = Depends(admin)) -> Response:
        """Every budget limit with who has used how much of it, the fullest first; near (80 %) and over marked."""
        rows = queries.budget_rows(assistant, status)
        header = ("subject", "limit", "used", "allowed", "share", "status", "resets")
        cells = [[row[name] for name in header] for row in rows]

        def html() -> str:
            if not assistant.budgets.settings.configured:
                return "<p>No budgets are configured ([budgets]).</p>"
            shares = {f"{r['subject']} {r['limit']}": 100 * (r["share"] or 0) for r in rows[:20]}
            return (
                filters({"status": ("all", "near", "over")}, {"status": status})
                + bar_chart("share of each limit used (the fullest 20)", shares, " %")
                + csv_link("/admin/budgets", {"status": status})
                + table(header, cells, [row["status"] for row in rows])
            )

        return answer("/admin/budgets", "budgets", header, cells, format, html)

    return routes


def _page_of(rows: Sequence[Any], number: int) -> Sequence[Any]:
    return rows[(number - 1) * PER_PAGE : number * PER_PAGE]


def _pager(path: str, values: dict[str, Any], number: int, total: int) -> str:
    """Links to the pages before and after, and where this one is."""
    pages = max(1, -(-total // PER_PAGE))
    links = [f"page {number} of {pages} ({total} rows)"]
    for label, target in (("newer", number - 1), ("older", number + 1)):
        if 1 <= target <= pages:
            query = urlencode({**{k: v for k, v in values.items() if v}, "page": target})
            links.append(f'<a href="{path}?{query.replace("&", "&amp;")}">{label}</a>')
    return f'<p class="pager">{" ".join(links)}</p>'
