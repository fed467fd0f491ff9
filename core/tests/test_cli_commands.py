"""Commands other distributions add through ``inhouse.commands``: loaded when installed, a
stand-in naming the package when not, and a broken one never breaks the rest."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest
import typer
from typer.testing import CliRunner

import inhouse.cli as cli


def fake_group(monkeypatch: pytest.MonkeyPatch, *eps: EntryPoint) -> None:
    monkeypatch.setattr(cli, "entry_points", lambda group: list(eps) if group == cli.COMMANDS_GROUP else [])


def register_hello(app: typer.Typer) -> None:
    """A command package: adds ``hello``."""

    @app.command()
    def hello() -> None:
        typer.echo("hello from a plugin")


def test_an_installed_command_is_added(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_group(monkeypatch, EntryPoint("hello", f"{__name__}:register_hello", cli.COMMANDS_GROUP))
    app = typer.Typer()
    assert cli.load_commands(app) == ["hello"]
    assert cli.load_commands(app) == ["hello"]  # once per app
    result = CliRunner().invoke(app, ["hello"])
    assert result.exit_code == 0 and "hello from a plugin" in result.output


def test_a_missing_optional_command_says_which_package_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_group(monkeypatch)
    app = typer.Typer()
    cli.load_commands(app)
    listing = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert listing.exit_code == 0 and "needs inhouse-ui" in listing.output and "needs inhouse-gpu" in listing.output
    result = CliRunner().invoke(app, ["gpu", "plan", "--model", "falcon-7b"])
    assert isinstance(result.exception, cli.InhouseError)
    assert str(result.exception) == "`inhouse gpu` is in the inhouse-gpu package: pip install inhouse-gpu"


def test_a_broken_command_package_is_reported_and_skipped(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    broken = EntryPoint("broken", "inhouse_no_such_package.cli:register", cli.COMMANDS_GROUP)
    fake_group(monkeypatch, broken, EntryPoint("hello", f"{__name__}:register_hello", cli.COMMANDS_GROUP))
    app = typer.Typer()
    assert cli.load_commands(app) == ["hello"]
    assert "the 'broken' commands of ? failed to load (ModuleNotFoundError" in capsys.readouterr().err
    assert CliRunner().invoke(app, ["hello"]).exit_code == 0


def test_a_provided_command_replaces_its_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    def register_serve(app: typer.Typer) -> None:
        @app.command()
        def serve() -> None:
            typer.echo("serving")

    monkeypatch.setattr(cli, "entry_points", lambda group: [])
    app = typer.Typer()
    register_serve(app)
    cli.load_commands(app)
    assert CliRunner().invoke(app, ["serve"]).output.strip() == "serving"
