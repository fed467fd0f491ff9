"""``inhouse audit``: list and verify the tamper-evident audit log (``<home>/audit.jsonl``)."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from inhouse.cli.app import JsonOpt, app, context, err, out, print_json


@app.command()
def audit(
    verify: Annotated[bool, typer.Option("--verify", help="check the hash chain; exit 1 naming the first bad record")] = False,
    user: Annotated[str | None, typer.Option("--user", help="only this user's records")] = None,
    since: Annotated[str | None, typer.Option(help="7d, 24h, 30m or a date (2026-11-01); default: everything")] = None,
    limit: Annotated[int, typer.Option(help="show at most the last N records")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """The audit log: every question and every call that sent text out, hash-chained."""
    from inhouse.audit import AuditLog
    from inhouse.config import home_path
    from inhouse.ledger import parse_since

    log = AuditLog(home_path(context().home) / "audit.jsonl")
    if verify:
        result = log.verify()
        if as_json:
            print_json({"ok": result.ok, "records": result.records, "head": result.head, "line": result.line,
                        "seq": result.seq, "problem": result.problem})  # fmt: skip
        elif result.ok:
            out.print(f"ok: {result.records} records, chain intact; head {result.head}", highlight=False)
        else:
            err.print(f"[red]audit log broken:[/] {escape(result.problem)}", highlight=False)
        raise typer.Exit(0 if result.ok else 1)
    records = log.records(user=user, since=parse_since(since))[-limit:]
    if as_json:
        print_json(records)
        return
    if not records:
        out.print(f"no audit records in {log.path}")
        return
    table = Table("seq", "time (UTC)", "kind", "user", "where", "what", title="audit")
    for r in records:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r.get("ts", 0)))
        table.add_row(str(r["seq"]), when, r["kind"], escape(r.get("user", "")), *_describe(r))
    out.print(table)


def _describe(record: dict[str, Any]) -> tuple[str, str]:
    """The "where" and "what" columns of one record (fields a record lacks are left out)."""
    if record["kind"] == "call":
        where = f"{record.get('profile', '')} ({record.get('model', '')}, {record.get('residency', '')})"
        redacted = ", ".join(f"{k} {n}" for k, n in record.get("redactions", {}).items())
        what = f"{record.get('call', '')} {record.get('bytes_sent', 0)} bytes, {len(record.get('chunk_ids', []))} chunks"
        what += f", redacted {redacted}" if redacted else ""
        what += "" if record.get("ok", True) else f", failed ({record.get('code', '')})"
        return escape(where), escape(what)
    if record["kind"] == "question":
        where = f"{record.get('provider') or 'no provider'} ({record.get('use_case', '')})"
        what = f"{len(record.get('retrieved', []))} retrieved, {len(record.get('cited', []))} cited"
        what += ", abstained" if record.get("abstained") else ""
        return escape(where), escape(what)
    return "", escape(record["kind"])
