"""The ``inhouse`` Typer app, its global options, and what every command shares.

A distribution adds commands through the ``inhouse.commands`` entry-point group: the entry
point names a function ``register(app)`` that adds them (``app.command()``,
``app.add_typer()``); inside a command, :func:`context` gives the ``--config`` and
``--home`` the user passed and :func:`open_assistant` the ``Assistant`` they select. Keep
the module that holds ``register`` light (import heavy libraries inside the commands), so
``inhouse --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from inhouse.assistant import Assistant

app = typer.Typer(help="inhouse: answers from your own documents, with citations.", no_args_is_help=True, add_completion=False)
out = Console()
err = Console(stderr=True)

HomeOpt = Annotated[Path | None, typer.Option("--home", help="data folder (else $INHOUSE_HOME, else ~/.local/share/inhouse)")]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="configuration (else $INHOUSE_CONFIG, ./plugins.toml, the packaged default)")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]
UserOpt = Annotated[str | None, typer.Option("--user", help="ask as this user (their permissions apply)")]


@dataclass
class Context:
    """The global options of one ``inhouse`` run."""

    home: Path | None = None
    config: Path | None = None


_context = Context()


def context() -> Context:
    """The ``--home`` and ``--config`` given before the command (None: the defaults)."""
    return _context


@app.callback()
def _main(home: HomeOpt = None, config: ConfigOpt = None) -> None:
    _context.home, _context.config = home, config


def open_assistant() -> Assistant:
    """The ``Assistant`` of the global options (imported here, so ``inhouse --help`` stays fast)."""
    from inhouse.assistant import Assistant

    return Assistant.from_config(_context.config, _context.home)


def print_json(data: object) -> None:
    """``data`` as indented JSON on standard output."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
