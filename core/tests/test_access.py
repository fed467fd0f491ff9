"""The access rule's pieces without a model: principals, the configuration's rules, and the
label a passage carries from its stored chunks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from inhouse.access import Directory, Rules, normalise, readable
from inhouse.answering.expand import expand
from inhouse.config import AccessSettings, UserSettings
from inhouse.errors import ConfigError
from storekit import doc, open_store, unit


def test_principals_and_the_fail_closed_rule() -> None:
    directory = Directory({"ana": UserSettings(groups=["hr"]), "bob": UserSettings()})
    assert directory.configured and directory.principals("ana") == ["*", "user:ana", "group:hr"]
    assert directory.principals(None) is None  # the local caller
    assert not readable((), ["*", "user:ana", "group:hr"]) and readable((), None)
    assert readable(("*",), directory.principals("bob")) and not readable(("group:hr",), directory.principals("bob"))
    assert not Directory({}).configured


def test_configured_names_become_principals() -> None:
    assert normalise(["hr", "user:ana", "*", "group:it", "hr"]) == ("group:hr", "user:ana", "*", "group:it")
    for bad in ("user:", "role:admin", "", "group: "):
        with pytest.raises(ConfigError, match="not a principal"):
            normalise([bad], "connectors.docs.acl")


def test_rules_fill_in_what_a_source_leaves_open() -> None:
    """The first matching rule that names groups/public gives the ACL, the first with a label the
    label; what a source already says is kept; else public without users, nobody with users."""
    settings = AccessSettings.model_validate(
        {
            "default_label": "confidential",
            "rules": [
                {"glob": "legal/**", "groups": ["legal"], "label": "restricted"},
                {"glob": "*.md", "label": "internal"},
                {"glob": "handbook/**", "public": True},
            ],
        }
    )
    with_users, without = Rules(settings, users_configured=True), Rules(settings, users_configured=False)
    assert with_users.resolve("legal/nda.md", None, None) == (("group:legal",), "restricted")
    assert with_users.resolve("handbook/leave.md", None, None) == (("*",), "internal")
    assert with_users.resolve("handbook/leave.pdf", None, None) == (("*",), "confidential")
    assert with_users.resolve("notes/x.pdf", None, None) == ((), "confidential")  # fail closed
    assert without.resolve("notes/x.pdf", None, None) == (("*",), "confidential")  # one local person
    assert with_users.resolve("legal/nda.md", ("user:ana",), "public") == (("user:ana",), "public")
    assert with_users.resolve("legal/nda.md", ("user:ana",), None) == (("user:ana",), "restricted")


def test_passages_carry_their_sources_label(tmp_path: Path) -> None:
    store = open_store(tmp_path / "ix")
    record, chunks = doc("plan", ["launch date is secret", "second part"])
    for chunk in chunks:
        chunk.sensitivity = "restricted"
    store.upsert(record, chunks, unit(np.random.default_rng(0), 2))
    hits = store.search(None, "launch", k=1, mode="bm25")
    assert [p.sensitivity for p in expand(hits, store)] == ["restricted"]
    store.close()


def test_doctor_says_who_may_read(tmp_path: Path) -> None:
    from inhouse.config import parse
    from inhouse.doctor import _access_check

    base = '[embedder]\nuse = "minilm"\n[store]\nuse = "local"\n'
    alone = _access_check(parse(base, "t", tmp_path), tmp_path / "home")
    assert alone.ok and "everything is readable by the one local user" in alone.detail
    store = open_store(tmp_path / "home" / "index")
    store.upsert(*doc("pub", ["open"]), unit(np.random.default_rng(1), 1))
    store.upsert(*doc("locked", ["closed"], acl=()), unit(np.random.default_rng(2), 1))
    store.close()
    shared = _access_check(parse(base + '[users.ana]\ngroups = ["hr"]\n', "t", tmp_path), tmp_path / "home")
    assert "1 users, groups hr" in shared.detail and "2 documents, 1 public, 1 visible to nobody" in shared.detail
