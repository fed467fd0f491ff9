"""``inhouse plugin new KIND NAME``: scaffold a plugin distribution (see :mod:`inhouse.scaffold`
and docs/plugins.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from inhouse.cli.app import app, err, out

plugin_app = typer.Typer(help="Write your own plugin: scaffold a distribution that passes the conformance kit.")
app.add_typer(plugin_app, name="plugin")


@plugin_app.command("new")
def new(
    kind: Annotated[str, typer.Argument(help="provider, connector, embedder, store or parser")],
    name: Annotated[str, typer.Argument(help="lower-case words joined by hyphens: the distribution is inhouse-NAME")],
    folder: Annotated[Path, typer.Option("--dir", help="where to create the NAME folder")] = Path("."),
) -> None:
    """Create DIR/NAME: pyproject with the entry point, a working plugin with its Config, kit tests, a README."""
    from inhouse.registry import installed
    from inhouse.scaffold import Names, scaffold

    names = Names.of(kind, name)
    if names.entry in installed(f"{kind}s"):
        err.print(f"[yellow]note:[/] a {kind} named '{escape(names.entry)}' is already installed; yours will compete with it")
    target = scaffold(kind, name, folder)
    out.print(
        f"created {escape(str(target))} ({names.dist}, {names.group}: {escape(names.entry)} -> {names.cls})", highlight=False
    )
    out.print("next:", highlight=False)
    for step in (
        f"cd {target}",
        'python -m pip install -e ".[test]"',
        "python -m pytest",
        "inhouse plugins",
    ):
        out.print(f"  {escape(step)}", highlight=False)
