"""The provisioned directory (``inhouse.provisioning``) in a real SQLite file: users and groups made,
renamed, deactivated and deleted, names unique without case, a deleted user's name refused until it
is provisioned again, and how ``Assistant.directory`` reads it on every call."""

from __future__ import annotations

from pathlib import Path

import pytest

from inhouse.access import Directory
from inhouse.keys import KeyStore
from inhouse.provisioning import FILE, Conflict, Invalid, Provisioning, Unknown


def test_users_are_created_found_by_name_without_case_and_updated(tmp_path: Path) -> None:
    store = Provisioning(tmp_path)
    assert store.users() == [] and store.roster().groups == {} and not (tmp_path / FILE).exists()
    ana = store.create_user("ana@example.com", external_id="00u1", attributes={"name": {"givenName": "Ana"}})
    assert ana.active and ana.version == 1 and ana.attributes == {"name": {"givenName": "Ana"}}
    assert [u.id for u in store.users("ANA@example.com")] == [ana.id]
    with pytest.raises(Conflict):
        store.create_user("Ana@Example.com")
    off = store.update_user(ana.id, active=False)
    assert not off.active and off.version == 2 and off.external_id == "00u1" and off.attributes == ana.attributes
    assert store.refused("ana@example.com") and "ana@example.com" in store.roster().blocked
    assert store.update_user(ana.id, active=True).active and not store.refused("ana@example.com")
    assert not store.refused("never-provisioned")
    with pytest.raises(Unknown):
        store.user("nope")
    for bad in ("", " ", "a\nb", "x" * 201):
        with pytest.raises(Invalid):
            store.create_user(bad)


def test_groups_hold_members_and_the_roster_gives_active_users_their_groups(tmp_path: Path) -> None:
    store = Provisioning(tmp_path)
    ana, bob = store.create_user("ana"), store.create_user("bob")
    finance = store.create_group("finance", [ana.id])
    staff = store.create_group("staff", [ana.id, bob.id], external_id="g-1")
    assert [m[1] for m in store.group(staff.id).members] == ["ana", "bob"]
    assert [g[1] for g in store.user(ana.id).groups] == ["finance", "staff"]
    assert store.roster().groups == {"ana": ("finance", "staff"), "bob": ("staff",)}
    with pytest.raises(Conflict):
        store.create_group("FINANCE")
    with pytest.raises(Invalid):
        store.update_group(finance.id, add=["no-such-user"])
    assert store.group(finance.id).members == ((ana.id, "ana"),)  # the failed change left nothing behind
    store.update_group(finance.id, add=[bob.id], remove=[ana.id])
    assert store.roster().groups == {"ana": ("staff",), "bob": ("finance", "staff")}
    store.update_group(staff.id, display_name="everyone", members=[ana.id])
    assert store.roster().groups == {"ana": ("everyone",), "bob": ("finance",)}
    store.update_user(bob.id, active=False)
    assert store.roster().groups == {"ana": ("everyone",)} and store.roster().blocked == {"bob"}
    store.delete_group(finance.id)
    with pytest.raises(Unknown):
        store.delete_group(finance.id)
    assert [g.display_name for g in store.groups()] == ["everyone"] and store.groups("Everyone")[0].id == staff.id


def test_a_deleted_user_stays_refused_until_provisioned_again(tmp_path: Path) -> None:
    store = Provisioning(tmp_path)
    ana = store.create_user("ana")
    group = store.create_group("finance", [ana.id])
    store.delete_user(ana.id)
    assert store.users() == [] and store.group(group.id).members == () and store.refused("ana")
    with pytest.raises(Unknown):
        store.update_user(ana.id, active=True)
    again = store.create_user("ana")
    assert again.id != ana.id and not store.refused("ana") and store.roster().groups == {"ana": ()}


def test_the_directory_merges_provisioned_groups_and_blocks_deprovisioned_users(tmp_path: Path) -> None:
    from inhouse import Assistant
    from support import EXAMPLES, write_config

    config = write_config(tmp_path, EXAMPLES, extra='[users.ana]\ngroups = ["staff"]\n')
    assistant = Assistant.from_config(config, home=tmp_path / "home")
    store = Provisioning(assistant.home)
    ana = store.create_user("ana")
    store.create_group("finance", [ana.id])
    assert assistant.directory.groups("ana") == ["staff", "finance"]
    assert "group:finance" in assistant.principals("ana")
    store.update_user(ana.id, active=False)
    assert assistant.principals("ana") == [] and assistant.directory.groups("ana") == []
    keys = KeyStore(assistant.home)
    keys.create("ana")
    keys.create("bob")
    assert keys.revoke_user("ana") == 1 and [k.user for k in keys.list() if not k.revoked] == ["bob"]
    assert Directory({}).principals("x") == ["*", "user:x"]
