"""Entry-point discovery: lazy loading, helpful errors, and a third-party package."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from inhouse import registry
from inhouse.errors import ConfigError, PluginError
from support import REPO


def inhouse(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "inhouse", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_unknown_plugin_suggests_and_lists(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no provider plugin named 'locl'.*installed: .*local.*Did you mean 'local'"):
        registry.build("providers", {"use": "locl"}, "providers.x", home=tmp_path, base_dir=tmp_path)


def test_broken_plugin_names_distribution_and_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = EntryPoint("broken", "inhouse_no_such_module:Thing", "inhouse.providers")
    monkeypatch.setattr(registry, "installed", lambda kind: {"broken": broken})
    with pytest.raises(PluginError, match=r"entry point 'broken' \(inhouse\.providers\).*failed to import: ModuleNotFoundError"):
        registry.load_class("providers", "broken")


def test_wrong_base_class_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = EntryPoint("wrong", "inhouse.store.local:LocalStore", "inhouse.providers")
    monkeypatch.setattr(registry, "installed", lambda kind: {"wrong": wrong})
    with pytest.raises(PluginError, match=r"not a subclass of inhouse\.plugins\.Provider"):
        registry.load_class("providers", "wrong")


def test_loading_is_lazy() -> None:
    """Building the config and the store imports no provider or embedder module."""
    code = (
        "import sys, tempfile, pathlib\n"
        "from inhouse import Assistant\n"
        "a = Assistant.from_config(None, tempfile.mkdtemp())\n"
        "a.store\n"
        "print(sorted(m for m in sys.modules if m.startswith(('inhouse_local', 'inhouse_quote', 'torch', 'llama_cpp'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO / "tests", timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_plugins_command_lists_builtins_and_third_party() -> None:
    result = inhouse("plugins", "--json")
    assert result.returncode == 0, result.stderr
    rows = {(r["kind"], r["name"]): r for r in json.loads(result.stdout)["installed"]}
    assert rows[("provider", "quote")]["distribution"] == "inhouse-quote"
    assert rows[("provider", "local")]["residency"] == "local"
    assert rows[("store", "local")]["distribution"] == "inhouse"
    assert rows[("connector", "filesystem")]["distribution"] == "inhouse-filesystem"
    assert rows[("connector", "filesystem")]["status"] == "ok"
    assert rows[("parser", ".markdown, .md, text/markdown")]["distribution"] == "inhouse"
    assert "embed" in rows[("embedder", "minilm")]["capabilities"]


def test_cli_error_is_one_clear_line(tmp_path: Path) -> None:
    bad = tmp_path / "plugins.toml"
    bad.write_text('[embedder]\nuse = "minilm"\n[store]\nuse = "local"\nbogus = 1\n')
    result = inhouse("--config", str(bad), "--home", str(tmp_path), "search", "x")
    assert result.returncode == 1
    assert "store.bogus: unknown key" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_third_party_parser_replaces_the_builtin_for_its_suffix(monkeypatch: pytest.MonkeyPatch) -> None:
    better = EntryPoint(".pdf", "better_pdf:Parser", "inhouse.parsers")  # from another distribution
    builtin = registry.installed("parsers")[".pdf"]
    assert builtin.dist is not None and builtin.dist.name == "inhouse"
    for order in ([builtin, better], [better, builtin]):
        monkeypatch.setattr(registry, "entry_points", lambda group, order=order: order if group == "inhouse.parsers" else [])
        assert registry.installed("parsers")[".pdf"] is better
