"""``inhouse migrate``: copy the index from one store to another without re-embedding."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from inhouse.cli.app import JsonOpt, app, context, err, out, print_json

if TYPE_CHECKING:
    from inhouse.config import Settings
    from inhouse.migrate import MigrateProgress, MigrationReport
    from inhouse.plugins import Store


HELP = (
    "Copy the index (documents, chunks, vectors, ACLs, labels) from one store to another, without re-embedding. "
    "Running it again resumes: documents the target already holds with the same hash are skipped (unless --force). "
    "The target must be empty or hold vectors of the same embedder. At the end the stores are compared (counts, "
    "records, a sample of searches); a difference exits with status 1.\n\n"
    "Each side is a store plugin name (local, pgvector). Its settings are the \\[store] table of --from-config / "
    "--to-config FILE when given (its use must be that name), else the configuration's own \\[store] when its use is "
    "that name, else the plugin's defaults (the local store's: <home>/index). With plugins.toml on local and "
    "pgvector.toml on pgvector, neither direction needs an edit:\n\n"
    "inhouse migrate --from local --to pgvector --to-config pgvector.toml\n\n"
    "inhouse migrate --from pgvector --to local --from-config pgvector.toml"
)


@app.command(help=HELP)
def migrate(
    source: Annotated[str, typer.Option("--from", help="the store to copy from (a store plugin name)")],
    target: Annotated[str, typer.Option("--to", help="the store to copy into (a store plugin name)")],
    from_config: Annotated[
        Path | None, typer.Option("--from-config", help="a configuration whose \\[store] is the source")
    ] = None,
    to_config: Annotated[Path | None, typer.Option("--to-config", help="a config whose \\[store] is the target")] = None,
    force: Annotated[bool, typer.Option("--force", help="write every document, even those already there")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count what would be copied; write nothing")] = False,
    prune: Annotated[bool, typer.Option("--prune", help="remove documents only the target holds")] = False,
    verify: Annotated[bool, typer.Option("--verify/--no-verify", help="compare the stores at the end")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Copy the index from one store to another without re-embedding (see ``HELP``)."""
    from inhouse import config
    from inhouse.errors import ConfigError
    from inhouse.migrate import migrate as copy

    settings = config.load(context().config)
    home = config.home_path(context().home)
    with ExitStack() as stores:
        source_store = _build(source, "--from", from_config, settings, home)
        stores.callback(source_store.close)
        target_store = _build(target, "--to", to_config, settings, home)
        stores.callback(target_store.close)
        if _identity(source_store) == _identity(target_store):
            raise ConfigError(
                f"--from {source} and --to {target} are the same store: give the other one's settings with --from-config "
                "or --to-config FILE"
            )
        with _bar(not as_json and sys.stderr.isatty()) as progress:
            report = copy(
                source_store,
                target_store,
                force=force,
                dry_run=dry_run,
                prune=prune,
                verify_after=verify,
                names=(f"{source} (--from)", f"{target} (--to)"),
                on_progress=progress,
            )
    if as_json:
        print_json(report.to_dict())
    else:
        _print(report, source, target)
    if report.verification is not None and not report.verification.ok:
        raise typer.Exit(1)


def _identity(store: Store) -> tuple:
    """What makes two built stores the same one: plugin, validated settings, data folder."""
    return store.use, store.config, store.home


def _build(name: str, flag: str, given: Path | None, settings: Settings, home: Path) -> Store:
    """The store of one side (``--from``/``--to`` NAME, see ``migrate``'s help)."""
    from inhouse import config, registry
    from inhouse.errors import ConfigError

    if given is not None:
        settings = config.load(given)
        if settings.store["use"] != name:
            raise ConfigError(f"{flag} {name}, but the [store] of {given} uses {settings.store['use']!r}: store.use")
        spec = settings.store
    else:
        spec = settings.store if settings.store["use"] == name else {"use": name}
    home.mkdir(parents=True, exist_ok=True)
    return registry.build("stores", spec, "store", home=home, base_dir=settings.base_dir, source=settings.source)


class _bar:
    """A rich progress bar of documents copied (and chunks written) on standard error, or nothing."""

    def __init__(self, show: bool):
        columns = (TextColumn("[bold]migrate[/]"), BarColumn(), MofNCompleteColumn(), TextColumn("documents"))
        more = (TextColumn("{task.fields[chunks]} chunks"), TimeRemainingColumn())
        self.bar = Progress(*columns, *more, console=err) if show else None
        self.task = self.bar.add_task("", total=None, chunks=0) if self.bar is not None else None

    def __enter__(self) -> MigrateProgress | None:
        if self.bar is None:
            return None
        self.bar.__enter__()
        return lambda done, total, chunks: self.bar.update(self.task, completed=done, total=total, chunks=chunks)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _print(report: MigrationReport, source: str, target: str) -> None:
    model, dim = report.embedder
    title = f"migrate {source} → {target}" + (" (dry run: nothing written)" if report.dry_run else "")
    table = Table(title=title, show_header=False)
    would = "to copy" if report.dry_run else "copied"
    table.add_row("documents", str(report.documents))
    table.add_row(f"{would}", f"{report.copied} ({report.chunks} chunks)")
    table.add_row("access updated" if not report.dry_run else "access to update", str(report.access))
    table.add_row("already there", str(report.unchanged))
    table.add_row("only in the target", f"{report.extra}{' (removed)' if report.pruned else ''}")
    table.add_row("embedder", f"{model or 'unknown'} ({dim or '?'}-d)")
    table.add_row("seconds", f"{report.seconds:.1f}")
    if report.chunks and not report.dry_run:
        table.add_row("chunks/s", f"{report.chunks_per_second:.0f}")
    out.print(table)
    check = report.verification
    if check is None:
        return
    if check.ok:
        out.print(
            f"[green]verified[/]: {check.documents[1]} documents, {check.chunks[1]} chunks, "
            f"{check.agreed}/{check.searches} searches give the same top hit"
        )
        return
    (docs, held), (chunks, copied) = check.documents, check.chunks
    out.print(f"[red]verification failed[/]: documents {docs} → {held}, chunks {chunks} → {copied}")
    for label, ids in (("missing", check.missing), ("different", check.differing), ("only in the target", check.extra)):
        if ids:
            shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
            out.print(f"  {label}: {escape(shown)}", highlight=False)
    for line in check.disagreements[:5]:
        out.print(f"  search: {escape(line)}", highlight=False)
