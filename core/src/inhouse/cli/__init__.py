"""The ``inhouse`` command line: the core's commands, plus those other distributions add
through the ``inhouse.commands`` entry-point group (``serve`` from inhouse-ui, ``gpu``
from inhouse-gpu). See :mod:`inhouse.cli.app` for how a distribution adds one."""

from __future__ import annotations

import logging
import os
import sys
from importlib.metadata import entry_points

import typer
from rich.markup import escape

from inhouse.cli import admin, answers, audit, budgets, evaluate, keys, migrate, plugin_new, sync  # noqa: F401  (they register their commands)
from inhouse.cli.app import Context, app, context, err, open_assistant, print_json
from inhouse.errors import InhouseError

COMMANDS_GROUP = "inhouse.commands"
#: Commands other distributions provide: when one is not installed, its name still answers
#: with the package to install.
OPTIONAL_COMMANDS = {
    "serve": ("inhouse-ui", "Start the chat page (and the HTTP API) on one server."),
    "gpu": ("inhouse-gpu", "GPU sizing: will a model fit, on which GPUs, how to launch it; SageMaker deployment."),
}

__all__ = ["Context", "app", "context", "main", "open_assistant", "print_json"]


_loaded: dict[int, list[str]] = {}


def load_commands(target: typer.Typer = app) -> list[str]:
    """Call every installed ``inhouse.commands`` entry point's ``register(target)``, then add
    a stand-in for each optional command no package provided. A command package that fails
    to load is reported on standard error and skipped: the other commands keep working.
    Returns the entry points loaded (once per app: later calls return the same list)."""
    if id(target) in _loaded:
        return _loaded[id(target)]
    loaded = _loaded.setdefault(id(target), [])
    for ep in entry_points(group=COMMANDS_GROUP):
        try:
            ep.load()(target)
            loaded.append(ep.name)
        except Exception as exc:  # a broken third-party package must not break the CLI
            dist = ep.dist.name if ep.dist else "?"
            err.print(f"inhouse: the '{ep.name}' commands of {dist} failed to load ({type(exc).__name__}: {exc}); skipped")
    present = {_name(command) for command in target.registered_commands} | {group.name for group in target.registered_groups}
    for name, (package, summary) in OPTIONAL_COMMANDS.items():
        if name not in present:
            _stand_in(target, name, package, summary)
    return loaded


def _name(command: typer.models.CommandInfo) -> str | None:
    """A command's name as Typer will show it (the function's, dashed, unless one was given)."""
    callback = command.callback
    return command.name or (callback.__name__.replace("_", "-") if callback is not None else None)


def _stand_in(target: typer.Typer, name: str, package: str, summary: str) -> None:
    def missing() -> None:
        raise InhouseError(f"`inhouse {name}` is in the {package} package: pip install {package}")

    missing.__doc__ = f"{summary} (needs {package}: not installed)"
    target.command(name, context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(missing)


def main() -> None:
    """Entry point: runs the app, turning inhouse errors into a message and exit code 1."""
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # malformed PDFs are reported in the ingest report
    load_commands()
    try:
        app()
    except InhouseError as exc:
        if os.environ.get("INHOUSE_DEBUG"):
            raise
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(1)
