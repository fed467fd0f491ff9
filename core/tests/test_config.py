"""Configuration: where it is found, secrets, and errors that name the TOML path."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from inhouse import config as cfg
from inhouse.errors import ConfigError
from inhouse.registry import build

BASE = """
[embedder]
use = "minilm"
[store]
use = "local"
[providers.local]
use = "local"
[routing]
default = ["local"]
"""


def test_packaged_default_when_nothing_is_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INHOUSE_CONFIG", raising=False)
    settings = cfg.load()
    assert settings.source == "<packaged default>"
    assert settings.embedder["use"] == "minilm"
    assert settings.core.routing == {"default": ["extractive"], "generative": ["local"]}


def test_precedence_explicit_env_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "plugins.toml").write_text(BASE)
    other = tmp_path / "other.toml"
    other.write_text(BASE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INHOUSE_CONFIG", raising=False)
    assert cfg.load().source == "plugins.toml"
    monkeypatch.setenv("INHOUSE_CONFIG", str(other))
    assert cfg.load().source == str(other)
    assert cfg.load(tmp_path / "plugins.toml").source == str(tmp_path / "plugins.toml")


def test_home_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("INHOUSE_HOME", str(tmp_path / "env"))
    assert cfg.home_path() == tmp_path / "env"
    assert cfg.home_path(tmp_path / "flag") == tmp_path / "flag"
    monkeypatch.delenv("INHOUSE_HOME")
    assert cfg.home_path() == Path("~/.local/share/inhouse").expanduser()


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        cfg.load(tmp_path / "nope.toml")


def test_secret_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    text = BASE + '\n[providers.other]\nuse = "quote"\nprefix = { env = "INHOUSE_TEST_PREFIX" }\n'
    monkeypatch.setenv("INHOUSE_TEST_PREFIX", "Per the handbook:")
    assert cfg.parse(text, "t.toml", Path(".")).providers["other"]["prefix"] == "Per the handbook:"
    monkeypatch.delenv("INHOUSE_TEST_PREFIX")
    with pytest.raises(ConfigError, match=r"providers\.other\.prefix: set the environment variable INHOUSE_TEST_PREFIX"):
        cfg.parse(text, "t.toml", Path("."))


def test_core_typo_names_the_path_and_suggests() -> None:
    with pytest.raises(ConfigError, match=r"retrieval\.kk: unknown key \(did you mean 'k'\?\)"):
        cfg.parse(BASE + "\n[retrieval]\nkk = 3\n", "t.toml", Path("."))


def test_bad_value_names_the_path() -> None:
    with pytest.raises(ConfigError, match=r"answer\.context_passages"):
        cfg.parse(BASE + "\n[answer]\ncontext_passages = 0\n", "t.toml", Path("."))


def test_routing_to_undefined_profile() -> None:
    with pytest.raises(ConfigError, match=r"routing\.default names provider profile 'claude'"):
        cfg.parse(BASE.replace('default = ["local"]', 'default = ["claude"]'), "t.toml", Path("."))


def test_missing_table_says_what_to_add() -> None:
    with pytest.raises(ConfigError, match=r"missing table \[store\]"):
        cfg.parse('[embedder]\nuse = "minilm"\n', "t.toml", Path("."))


def test_invalid_toml_is_reported() -> None:
    with pytest.raises(ConfigError, match="invalid TOML"):
        cfg.parse("[embedder\nuse=", "t.toml", Path("."))


def test_plugin_typo_names_the_toml_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"providers\.local\.temprature: unknown key \(did you mean 'temperature'\?\)"):
        build("providers", {"use": "local", "temprature": 0.2}, "providers.local", home=tmp_path, base_dir=tmp_path)


def test_relative_paths_are_taken_from_the_config_folder(tmp_path: Path) -> None:
    conn = build("connectors", {"use": "filesystem", "path": "docs"}, "connectors.x", home=tmp_path, base_dir=tmp_path)
    assert conn.root == tmp_path / "docs"


class Owned(BaseModel):
    """A table another distribution owns, as its ``inhouse.settings`` entry point names it."""

    model_config = ConfigDict(extra="forbid")
    title: str = "inhouse"


def owners(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    eps = [EntryPoint(name, f"{__name__}:Owned", cfg.SETTINGS_GROUP) for name in names]
    monkeypatch.setattr(cfg, "entry_points", lambda group: eps if group == cfg.SETTINGS_GROUP else [])


def test_a_table_an_installed_distribution_owns_is_kept_for_it(monkeypatch: pytest.MonkeyPatch) -> None:
    owners(monkeypatch, "ui")
    settings = cfg.parse(BASE + '[ui]\ntitle = "Northwind"\n', "plugins.toml", Path("."))
    assert settings.tables == {"ui": {"title": "Northwind"}}
    assert settings.table("ui", Owned).title == "Northwind"
    assert cfg.parse(BASE, "plugins.toml", Path(".")).table("ui", Owned).title == "inhouse"  # absent: defaults


def test_the_owner_validates_its_table_and_errors_name_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    owners(monkeypatch, "ui")
    settings = cfg.parse(BASE + '[ui]\ntitel = "x"\n', "plugins.toml", Path("."))
    with pytest.raises(ConfigError, match=r"plugins\.toml: ui\.titel: unknown key \(did you mean 'title'\?\)"):
        settings.table("ui", Owned)


def test_a_table_nobody_owns_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    owners(monkeypatch)
    with pytest.raises(ConfigError, match=r"ui: unknown key"):
        cfg.parse(BASE + '[ui]\ntitle = "x"\n', "plugins.toml", Path("."))
