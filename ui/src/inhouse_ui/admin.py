"""The admin views: the audit log, ``GET /admin/audit`` (``?user=``, ``?since=`` days,
``?limit=``), and the connectors' syncs, ``GET /admin/sync``, readable by members of a group
in ``[ui] admins`` only; anyone else gets the same plain 404 as an unknown page, so the
routes say nothing about themselves.

It shows whether the hash chain verifies (and where it breaks), then the newest records:
when, kind, user, use case or profile, residency, provider or model, the documents cited or
the chunks and bytes sent, and the redactions. The sync view shows each configured
connector's schedule and last sync (``inhouse.sync``: running with its progress, or its
result, counts and failed items). Every value is escaped: records hold user names, document
paths and error messages, which are hostile text.
"""

from __future__ import annotations

import json
import time
from html import escape
from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import HTMLResponse

from inhouse import SyncLog
from inhouse.config import duration_text
from inhouse_ui.auth import Auth, require
from inhouse_ui.signin import PAGE_HEADERS, STYLE

TABLE_STYLE = (
    "main{width:min(72rem,96vw)}table{border-collapse:collapse;width:100%;font-size:.85rem}"
    "th,td{border-bottom:1px solid #e2e8f0;padding:.3rem .4rem;text-align:left;vertical-align:top}"
    ".ok{color:#15803d;font-weight:600}"
)


def router(assistant: Any, auth: Auth, admins: list[str]) -> APIRouter:
    """The route, for ``assistant`` (its ``audit`` log and ``directory`` of groups)."""
    routes = APIRouter()
    signed_in = require(auth)

    def is_admin(who: str) -> bool:
        return is_admin_of(assistant, admins, who)

    @routes.get("/admin/audit", include_in_schema=False)
    def audit_view(
        user: str | None = None, since: float | None = None, limit: int = 200, who: str = Depends(signed_in)
    ) -> HTMLResponse:
        """The audit log for an admin; 404 for everyone else."""
        log = assistant.audit
        if log is None or not is_admin(who):
            raise HTTPException(404, "not found")
        after = time.time() - since * 86400 if since is not None and since > 0 else None
        records = log.records(user=user or None, since=after)[-max(1, min(limit, 2000)) :]
        verdict = chain_verdict(log)
        rows = "".join(_row(record) for record in reversed(records))
        body = (
            f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Audit log</title>"
            f"<style>{STYLE}{TABLE_STYLE}</style></head><body><main><h1>Audit log</h1>{verdict}"
            "<table><thead><tr><th>when (UTC)</th><th>kind</th><th>user</th><th>use case / profile</th>"
            "<th>residency</th><th>provider / model</th><th>what</th><th>redactions</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></main></body></html>"
        )
        return HTMLResponse(body, headers=PAGE_HEADERS)

    @routes.get("/admin/sync", include_in_schema=False)
    def sync_view(who: str = Depends(signed_in)) -> HTMLResponse:
        """Each configured connector's schedule and last sync, for an admin; 404 for everyone else."""
        if not is_admin(who):
            raise HTTPException(404, "not found")
        rows = ["<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in sync_rows(assistant)]
        body = (
            f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Sync</title>"
            f"<style>{STYLE}{TABLE_STYLE}</style></head><body><main><h1>Connectors</h1>"
            "<table><thead><tr><th>connector</th><th>schedule</th><th>last sync</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></main></body></html>"
        )
        return HTMLResponse(body, headers=PAGE_HEADERS)

    return routes


def chain_verdict(log: Any) -> str:
    """Whether the audit log's hash chain verifies, as a paragraph (where it breaks, when it does)."""
    check = log.verify()
    if check.ok:
        return f'<p class="ok">The chain verifies: {check.records} records, head {escape(check.head[:16])}…</p>'
    return f'<p class="error">The chain is broken: {escape(check.problem)}</p>'


def is_admin_of(assistant: Any, admins: list[str], who: str) -> bool:
    """Whether ``who`` is in a group of ``admins`` (``[users.NAME]`` groups, or those a sign-in vouched for)."""
    return bool(admins) and bool(set(assistant.directory.groups(who)) & set(admins))


def sync_rows(assistant: Any) -> list[tuple[str, str, str]]:
    """(connector, schedule, last sync) of each configured connector, each failed item a row of its own after it."""
    records = SyncLog(assistant.home).records()
    schedules = assistant.settings.schedules
    rows = []
    for name in assistant.settings.connectors:
        record = records.get(name)
        every = schedules.get(name)
        schedule = f"every {duration_text(every)}" if every else "`inhouse sync` only"
        rows.append((name, schedule, record.summary() if record else "never synced"))
        rows += [("", "", f"failed {f['path']}: {f['reason']}") for f in (record.failures if record else [])]
    return rows


def _row(record: dict[str, Any]) -> str:
    """One record as a table row, every value escaped."""
    return "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in record_cells(record)) + "</tr>"


#: The columns of ``record_cells``.
RECORD_COLUMNS = ("when (UTC)", "kind", "user", "use case / profile", "residency", "provider / model", "what", "redactions")


def record_cells(record: dict[str, Any]) -> list[str]:
    """One audit record as text, by ``RECORD_COLUMNS`` (not escaped)."""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(float(record.get("ts", 0))))
    if record.get("kind") == "question":
        where, who_answered = record.get("use_case", ""), record.get("provider", "")
        what = "cited " + (", ".join(str(c.get("source", "")) for c in record.get("cited", [])) or "nothing")
        what += "; abstained" * bool(record.get("abstained")) + "; fallback" * bool(record.get("fallback"))
    else:
        where, who_answered = record.get("profile", ""), record.get("model", "")
        what = f"{len(record.get('chunk_ids') or [])} chunks, {record.get('bytes_sent', 0)} bytes"
    cells = [
        when, record.get("kind", ""), record.get("user", ""), where, record.get("residency", ""), who_answered, what,
        json.dumps(record.get("redactions") or {}, sort_keys=True) if record.get("redactions") else "",
    ]  # fmt: skip
    return [str(c) for c in cells]
