"""Commands that look after the index and the installation: ``ingest``, ``usage``, ``plugins``
and ``doctor``."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from inhouse.cli.app import JsonOpt, app, context, open_assistant, out, print_json

if TYPE_CHECKING:
    from inhouse.assistant import Assistant
    from inhouse.engines import Engine

RayOpt = Annotated[
    bool, typer.Option("--ray", help="parse and embed on Ray: a local Ray, or the cluster of --ray-address (needs inhouse-ray)")
]
RayAddressOpt = Annotated[
    str | None,
    typer.Option("--ray-address", metavar="ADDRESS", help="the Ray cluster to join (ray://head:10001, auto); implies --ray"),
]


def engine_for(assistant: Assistant, ray: bool, address: str | None) -> AbstractContextManager[Engine | None]:
    """The ingestion engine ``--ray`` / ``--ray-address`` ask for (None: this process), closed on exit."""
    if not ray and address is None:
        return nullcontext()
    from inhouse.engines import open_engine

    return open_engine("ray", address, assistant)


@app.command()
def ingest(
    paths: Annotated[list[Path] | None, typer.Argument(help="files or folders (default: the configured connectors)")] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="empty the index first (e.g. after changing the embedder)")] = False,
    ray: RayOpt = False,
    ray_address: RayAddressOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Ingest documents: new and changed files are indexed, deleted ones removed."""
    with open_assistant() as assistant, engine_for(assistant, ray, ray_address) as engine:
        progress = not as_json and sys.stderr.isatty()
        report = assistant.ingest(paths or None, rebuild=rebuild, progress=progress, engine=engine)
    if as_json:
        print_json(report.to_dict())
        return
    table = Table(title="ingestion", show_header=False)
    for key in ("added", "updated", "unchanged", "removed"):
        table.add_row(key, str(getattr(report, key)))
    table.add_row("failed", str(len(report.failed)))
    table.add_row("skipped", str(len(report.skipped)))
    table.add_row("chunks", str(report.chunks))
    if report.not_embedded:
        table.add_row("not embedded ([policy])", str(report.not_embedded))
    table.add_row("seconds", f"{report.seconds:.1f}")
    out.print(table)
    print_problems(report.failed, report.skipped)


def print_problems(failed: Sequence[dict[str, str]], skipped: Sequence[dict[str, str]] = (), prefix: str = "") -> None:
    """One line per item that failed or was skipped, with its reason (``prefix``: before the path)."""
    for item in failed:
        out.print(f"[red]failed[/] {escape(prefix + item['path'])}: {escape(item['reason'])}", highlight=False)
    for item in skipped:
        out.print(f"[yellow]skipped[/] {escape(prefix + item['path'])}: {escape(item['reason'])}", highlight=False)


@app.command()
def usage(
    by: Annotated[str, typer.Option(help="group by model, profile, use_case, user, day or residency")] = "model",
    since: Annotated[str | None, typer.Option(help="7d, 24h, 30m or a date (2026-11-01); default: everything")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Model calls, tokens and estimated cost from the usage ledger."""
    from inhouse.config import home_path
    from inhouse.ledger import Ledger, parse_since

    path = home_path(context().home) / "usage.sqlite3"
    rows = []
    if path.exists():
        ledger = Ledger(path)
        rows = ledger.summary(by=by, since=parse_since(since))
        ledger.close()
    if as_json:
        print_json(rows)
        return
    if not rows:
        out.print(f"no model calls recorded in {path}")
        return
    table = Table(title="usage")
    table.add_column(by, overflow="fold")
    for name in ("residency", "calls", "failed", "tokens in", "tokens out", "images", "cost (USD)"):
        table.add_column(name, justify="left" if name == "residency" else "right", no_wrap=True)
    for r in rows:
        cost = f"{r['cost_usd']:.4f}" + (f" (+{r['unpriced_calls']} unpriced)" if r["unpriced_calls"] else "")
        table.add_row(
            str(r[by]),
            r["residency"],
            str(r["calls"]),
            str(r["failed"]),
            f"{r['input_tokens']:,}",
            f"{r['output_tokens']:,}",
            str(r["images"]),
            cost,
        )
    out.print(table)
    total = sum(r["cost_usd"] for r in rows)
    out.print(
        f"[dim]total ${total:.4f} (estimated: list prices from the provider packages, \\[prices] from the configuration)[/]"
    )


@app.command()
def plugins(as_json: JsonOpt = False) -> None:
    """List every installed plugin (kind, name, distribution, version, capabilities, residency),
    then each configured profile with the residency its instance reports, and why."""
    from inhouse.doctor import plugin_rows, profile_rows

    rows = plugin_rows()
    profiles = profile_rows(context().config, context().home)
    if as_json:
        print_json({"installed": rows, "profiles": profiles})
        return
    table = Table("kind", "name", "distribution", "version", "capabilities", "residency", "status", title="installed")
    for r in rows:
        status = "ok" if r["status"] == "ok" else "[red]broken[/]"
        table.add_row(r["kind"], r["name"], r["distribution"], r["version"], ", ".join(r["capabilities"]), r["residency"], status)
    out.print(table)
    for r in rows:
        if r["status"] != "ok":
            out.print(f"[red]{r['kind']} {r['name']}[/]: {escape(str(r['status']))}", highlight=False)
    table = Table("profile", "plugin", "residency", "why", title="configured", show_lines=False)
    for r in profiles:
        table.add_row(r["profile"], r["plugin"], r["residency"], r["why"])
    out.print(table)


@app.command()
def doctor() -> None:
    """Check the configuration, plugins, model files and data folder."""
    from inhouse.doctor import run_checks

    ok = True
    for check in run_checks(context().config, context().home):
        mark = "[green]ok[/]" if check.ok else "[red]FAIL[/]"
        out.print(f"{mark}  {check.name}: {escape(check.detail)}", highlight=False, soft_wrap=True)
        ok &= check.ok
    raise typer.Exit(0 if ok else 1)
