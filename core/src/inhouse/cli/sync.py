"""``inhouse sync``: run the configured connectors incrementally (see :mod:`inhouse.sync`)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from inhouse.cli.admin import RayAddressOpt, RayOpt, engine_for, print_problems
from inhouse.cli.app import JsonOpt, app, open_assistant, out, print_json


@app.command()
def sync(
    names: Annotated[list[str] | None, typer.Argument(help="connector names (default: every [connectors.NAME])")] = None,
    ray: RayOpt = False,
    ray_address: RayAddressOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Sync connectors: new and changed items are indexed, deleted ones removed, unchanged ones
    skipped unread. A sync stopped at any point resumes where it stopped. Exits 1 when a
    connector failed as a whole (items that failed are listed; one that failed after it was
    read is not read again until it changes)."""
    from inhouse.sync import sync as run

    with open_assistant() as assistant, engine_for(assistant, ray, ray_address) as engine:
        records = run(assistant, names or None, progress=not as_json and sys.stderr.isatty(), engine=engine)
    failed = any(r.state != "ok" for r in records)
    if as_json:
        print_json([r.to_dict() for r in records])
        raise typer.Exit(1 if failed else 0)
    table = Table("connector", "result", "added", "updated", "unchanged", "removed", "failed", "seconds", title="sync")
    for r in records:
        result = "ok" if r.state == "ok" else f"[red]{r.state}[/]"
        counts = [str(r.counts.get(key, 0)) for key in ("added", "updated", "unchanged", "removed", "failed")]
        table.add_row(escape(r.connector), result, *counts, f"{r.seconds:.1f}")
    out.print(table)
    for r in records:
        if r.error:
            out.print(f"[red]{escape(r.connector)}[/]: {escape(r.error)}", highlight=False)
        print_problems(r.failures, prefix=f"{r.connector}: ")
        if r.failed > len(r.failures):
            out.print(
                f"[red]{escape(r.connector)}[/]: {r.failed - len(r.failures)} more failed items not listed", highlight=False
            )
    raise typer.Exit(1 if failed else 0)
