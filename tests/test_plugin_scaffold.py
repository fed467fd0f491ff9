"""``inhouse plugin new``: a plugin of each kind, scaffolded by the real command, installs into
this environment, passes the conformance kit out of the box and is listed by ``inhouse
plugins``; and the newcomer path for a connector (scaffold → installed → kit passes → listed)
stays short. The installs are editable and removed again when the module ends.

Deselect with ``-m "not slow"`` (it runs pip and pytest in subprocesses: about 30 s)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from inhouse.cli import app
from inhouse.errors import InhouseError
from inhouse.scaffold import KINDS, Names, scaffold

pytestmark = pytest.mark.slow
PREFIX = "kitcheck"


def inhouse(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The ``inhouse`` command of this environment, run in ``cwd`` with its own data folder."""
    command = [sys.executable, "-m", "inhouse", "--home", str(cwd / "home"), *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def pip(*args: str) -> None:
    """Run pip of this environment; fail the test with its output when it fails."""
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def kit(folder: Path) -> subprocess.CompletedProcess[str]:
    """The scaffolded distribution's own tests, run as its author would."""
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    return subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=300, env=env)


def listed(cwd: Path) -> list[dict[str, object]]:
    """``inhouse plugins --json``'s installed plugins (run in ``cwd``, an empty folder)."""
    result = inhouse("plugins", "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["installed"]


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """One plugin of each kind, scaffolded with ``inhouse plugin new`` and installed editable;
    uninstalled afterwards so the environment stays as it was."""
    parent = tmp_path_factory.mktemp("plugins")
    folders = {}
    for kind in KINDS:
        result = CliRunner().invoke(app, ["plugin", "new", kind, f"{PREFIX}-{kind}", "--dir", str(parent)])
        assert result.exit_code == 0, result.output
        folders[kind] = parent / f"{PREFIX}-{kind}"
    dists = [Names.of(kind, f"{PREFIX}-{kind}").dist for kind in KINDS]
    try:
        pip("install", "-q", "--no-deps", "--no-build-isolation", *(f"-e{folder}" for folder in folders.values()))
        yield folders
    finally:
        pip("uninstall", "-q", "-y", *dists)


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_passes_the_kit_out_of_the_box(scaffolded: dict[str, Path], kind: str) -> None:
    """The generated tests subclass the kit (the privacy checks included) and pass unchanged."""
    folder = scaffolded[kind]
    test_file = next((folder / "tests").glob("test_*.py")).read_text()
    assert f"({KINDS[kind]})" in test_file
    result = kit(folder)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout


def test_each_kind_is_listed_by_inhouse_plugins(scaffolded: dict[str, Path], tmp_path: Path) -> None:
    """Each entry point is found, imports, and reports the kind, residency and distribution."""
    rows = {(r["kind"], r["distribution"]): r for r in listed(tmp_path)}
    for kind in KINDS:
        names = Names.of(kind, f"{PREFIX}-{kind}")
        row = rows[(kind, names.dist)]
        assert row["status"] == "ok" and row["residency"] == "local" and names.entry in str(row["name"])


def test_the_generated_distribution_declares_its_entry_point(scaffolded: dict[str, Path]) -> None:
    """pyproject.toml names the kind's group and the class; the README says how to publish."""
    import tomllib

    for kind, folder in scaffolded.items():
        names = Names.of(kind, f"{PREFIX}-{kind}")
        project = tomllib.loads((folder / "pyproject.toml").read_text())
        assert project["project"]["name"] == names.dist
        assert project["project"]["entry-points"][names.group] == {names.entry: f"{names.package}.{kind}:{names.cls}"}
        assert "twine upload" in (folder / "README.md").read_text()


def test_newcomer_path_for_a_connector(tmp_path: Path) -> None:
    """``inhouse plugin new connector demo`` → installed → kit passes → listed, timed."""
    started = time.perf_counter()
    assert inhouse("plugin", "new", "connector", "demo", "--dir", str(tmp_path), cwd=tmp_path).returncode == 0
    folder, elsewhere = tmp_path / "demo", tmp_path / "elsewhere"
    elsewhere.mkdir()
    try:
        pip("install", "-q", "--no-deps", "--no-build-isolation", f"-e{folder}")
        result = kit(folder)
        assert result.returncode == 0, result.stdout[-3000:]
        assert any(r["distribution"] == "inhouse-demo" and r["name"] == "demo" for r in listed(elsewhere))
    finally:
        pip("uninstall", "-q", "-y", "inhouse-demo")
    seconds = time.perf_counter() - started
    print(f"newcomer path (scaffold, install, kit, listed): {seconds:.1f} s")
    assert seconds < 60


def test_bad_names_and_existing_folders_are_refused(tmp_path: Path) -> None:
    """A clear error, naming the rule or the folder, and nothing written."""
    result = inhouse("plugin", "new", "connector", "Bad_Name", "--dir", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 1 and "error: plugin name 'Bad_Name' is not valid: use lower-case letters" in result.stderr
    for name in ("1st", "double--hyphen", "trailing-", "inhouse-x", "x" * 41, "a b"):
        with pytest.raises(InhouseError, match="plugin name"):
            scaffold("connector", name, tmp_path)
    with pytest.raises(InhouseError, match="choose one of provider, connector, embedder, store, parser"):
        scaffold("widget", "ok", tmp_path)
    (tmp_path / "taken").mkdir()
    with pytest.raises(InhouseError, match="already exists"):
        scaffold("store", "taken", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
