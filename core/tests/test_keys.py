"""API keys: shown once, stored as digests, checked in constant time, revocable; the CLI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

import inhouse.cli as cli
from inhouse.keys import KeyStore


def test_a_key_is_stored_only_as_its_digest_and_runs_as_its_user(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    assert store.active() is False and store.check("anything") is None
    record, secret = store.create("ana", "laptop", requests_per_minute=60)
    assert secret.startswith(f"ih-{record.id}-")
    raw = store.path.read_bytes()
    assert secret.encode() not in raw and secret.split("-")[-1].encode() not in raw
    found = store.check(secret)
    assert found is not None and (found.user, found.name, found.requests_per_minute) == ("ana", "laptop", 60)
    assert found.last_used is not None and store.active() is True


def test_wrong_malformed_and_revoked_keys_are_refused(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    record, secret = store.create("ana")
    forged = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    other_id = secret.replace(record.id, "0" * 12)
    for bad in (forged, other_id, "", "Bearer " + secret, secret + "x", "ih-" + record.id):
        assert store.check(bad) is None, bad
    assert store.revoke(record.id) is True and store.revoke(record.id) is False
    assert store.check(secret) is None and store.active() is False
    assert [k.revoked for k in store.list()] == [True]


def test_a_key_needs_a_user(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="user"):
        KeyStore(tmp_path).create("  ")


def test_the_cli_creates_lists_and_revokes_keys_for_configured_users(tmp_path: Path) -> None:
    config = tmp_path / "plugins.toml"
    config.write_text('[embedder]\nuse = "minilm"\n[store]\nuse = "local"\n[users.ana]\ngroups = ["hr"]\n')
    home = ["--home", str(tmp_path / "home"), "--config", str(config)]
    cli.load_commands()
    runner = CliRunner()
    made = runner.invoke(cli.app, [*home, "keys", "create", "--user", "ana", "--name", "ci", "--json"])
    assert made.exit_code == 0, made.output
    key = json.loads(made.output)
    assert key["user"] == "ana" and KeyStore(tmp_path / "home").check(key["key"]) is not None
    unknown = runner.invoke(cli.app, [*home, "keys", "create", "--user", "mallory"])
    assert unknown.exit_code == 1 and "no [users.mallory]" in str(unknown.exception or unknown.output)
    listed = runner.invoke(cli.app, [*home, "keys", "list", "--json"])
    assert [k["id"] for k in json.loads(listed.output)] == [key["id"]] and key["key"] not in listed.output
    assert runner.invoke(cli.app, [*home, "keys", "revoke", key["id"]]).exit_code == 0
    assert runner.invoke(cli.app, [*home, "keys", "revoke", key["id"]]).exit_code == 1
    with sqlite3.connect(tmp_path / "home" / "api-keys.sqlite3") as db:
        assert db.execute("SELECT revoked FROM keys").fetchall() == [(1,)]


def test_doctor_counts_keys_and_fails_on_a_key_whose_user_is_gone(tmp_path: Path) -> None:
    from inhouse.config import parse
    from inhouse.doctor import key_check

    settings = parse('[embedder]\nuse = "minilm"\n[store]\nuse = "local"\n[users.ana]\ngroups = []\n', "t", tmp_path)
    assert "loopback" in key_check(settings, tmp_path).detail
    store = KeyStore(tmp_path)
    store.create("ana")
    assert key_check(settings, tmp_path).ok
    store.create("zoe")
    check = key_check(settings, tmp_path)
    assert not check.ok and "zoe" in check.detail
