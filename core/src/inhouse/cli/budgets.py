"""``inhouse budgets``: every user's and group's use against each limit of ``[budgets]``, with
those near (80 %) or over a limit marked (see :mod:`inhouse.budgets`)."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from inhouse.cli.app import JsonOpt, app, context, out, print_json

STYLES = {"over": "[red]over[/]", "near": "[yellow]near[/]", "ok": "ok"}


@app.command()
def budgets(
    near: Annotated[bool, typer.Option("--near", help="only the limits at 80 % or more")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Who is near or over a limit of [budgets]: use against each limit, from the usage ledger."""
    from inhouse.access import Directory
    from inhouse.budgets import Budgets
    from inhouse.config import home_path, load
    from inhouse.ledger import Ledger

    settings = load(context().config).core
    ledger = Ledger(home_path(context().home) / "usage.sqlite3")
    report = Budgets(settings.budgets, lambda: Directory(settings.users), lambda: ledger)
    try:
        uses = [use for use in report.report() if not near or use.status != "ok"]
    finally:
        report.close()
        ledger.close()
    rows = [
        {
            "subject": use.subject,
            "limit": use.limit,
            "used": round(use.used, 6),
            "allowed": use.allowed,
            "percent": round(100 * use.share, 1) if use.allowed else None,
            "status": use.status,
            "resets": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(use.resets)),
        }
        for use in uses
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        none = "no \\[budgets] limits apply to anyone (add \\[budgets.default], users or groups)"
        out.print("no limit is near" if near else none)
        return
    table = Table(title="budgets")
    for name in ("who", "limit", "used", "allowed", "%", "status", "resets (UTC)"):
        table.add_column(name, justify="right" if name in ("used", "allowed", "%") else "left", no_wrap=True)
    for row in rows:
        cost = str(row["limit"]).startswith("cost")
        amount = (lambda v: f"${v:,.2f}") if cost else (lambda v: f"{v:,.0f}")
        percent = "-" if row["percent"] is None else f"{row['percent']:g}"
        resets = str(row["resets"]).replace("T", " ")[:16]
        table.add_row(
            escape(str(row["subject"])), str(row["limit"]), amount(row["used"]), amount(row["allowed"]), percent,
            STYLES[str(row["status"])], resets,
        )  # fmt: skip
    out.print(table)
