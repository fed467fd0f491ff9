"""The people and groups an identity provider provisions (SCIM 2.0, see ``inhouse_ui.scim``), in
``<home>/directory.sqlite3``.

A provisioned user is named by their ``userName`` (unique, compared without case, as SCIM says):
that name is the user of their sign-ins and API keys. A group is named by its ``displayName``,
which is the inhouse group (``group:NAME``) its members read as. ``roster()`` gives
``inhouse.access.Directory`` each active user's groups and the users who may not sign in at all:
deactivated ones (``active`` false) and deleted ones (a deleted user's row stays as a tombstone
until the name is provisioned again, so their cookies and keys stay refused).

Every method opens the file for one transaction, so a change made through one process applies to
the next request of every other.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inhouse.access import Roster
from inhouse.smalldb import transaction

FILE = "directory.sqlite3"
SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY, user_name TEXT NOT NULL UNIQUE COLLATE NOCASE, external_id TEXT, active INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0, attributes TEXT NOT NULL, created REAL NOT NULL, modified REAL NOT NULL,
    version INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS groups (
    id TEXT PRIMARY KEY, display_name TEXT NOT NULL UNIQUE COLLATE NOCASE, external_id TEXT,
    created REAL NOT NULL, modified REAL NOT NULL, version INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS members (
    group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE, user_id TEXT NOT NULL REFERENCES users(id),
    PRIMARY KEY (group_id, user_id));
"""
_USER_COLUMNS = "id, user_name, external_id, active, attributes, created, modified, version"
_GROUP_COLUMNS = "id, display_name, external_id, created, modified, version"


class Conflict(ValueError):
    """A ``userName`` or group ``displayName`` that another live user or group already has."""


class Unknown(LookupError):
    """No such user or group (or a deleted one)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "no such resource"


class Invalid(ValueError):
    """A value the directory cannot take (an empty name, a member that is no user)."""


@dataclass(frozen=True)
class User:
    """One provisioned person: ``attributes`` holds what SCIM sends besides the fields here (name, emails, ...)."""

    id: str
    user_name: str
    external_id: str | None
    active: bool
    attributes: dict[str, Any]
    created: float
    modified: float
    version: int
    groups: tuple[tuple[str, str], ...] = ()  # (group id, display name) of each group they are in


@dataclass(frozen=True)
class Group:
    """One provisioned group and its members: (user id, user name) each."""

    id: str
    display_name: str
    external_id: str | None
    created: float
    modified: float
    version: int
    members: tuple[tuple[str, str], ...] = field(default=())


def _name(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200 or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise Invalid(f"{what} must be 1 to 200 printable characters")
    return value


class Provisioning:
    """The provisioned users and groups of one data folder (safe from any thread and process)."""

    def __init__(self, home: Path | str):
        self.path = Path(home) / FILE

    def _db(self) -> Any:
        return transaction(self.path, SCHEMA)

    # ------------------------------------------------------------------ users

    def create_user(
        self, user_name: str, *, active: bool = True, external_id: str | None = None, attributes: dict[str, Any] | None = None
    ) -> User:
        """A new user; ``Conflict`` when a live user has this name (a deleted one's tombstone is replaced)."""
        _name(user_name, "userName")
        now, user_id = time.time(), secrets.token_hex(16)
        with self._db() as db:
            row = db.execute("SELECT deleted FROM users WHERE user_name = ?", (user_name,)).fetchone()
            if row is not None and not row[0]:
                raise Conflict(f"a user named {user_name!r} exists")
            db.execute("DELETE FROM users WHERE user_name = ? AND deleted = 1", (user_name,))
            db.execute(
                f"INSERT INTO users ({_USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 1)",
                (user_id, user_name, external_id, int(active), json.dumps(attributes or {}), now, now),
            )
        return self.user(user_id)

    def user(self, user_id: str) -> User:
        """The live user with this id; ``Unknown`` otherwise."""
        with self._db() as db:
            row = db.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE id = ? AND deleted = 0", (user_id,)).fetchone()
            if row is None:
                raise Unknown(f"no user {user_id}")
            groups = db.execute(
                "SELECT g.id, g.display_name FROM members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = ? "
                "ORDER BY g.display_name",
                (user_id,),
            ).fetchall()
        return _user(row, groups)

    def users(self, user_name: str | None = None) -> list[User]:
        """The live users, oldest first; only the one named ``user_name`` (any case) when given."""
        if not self.path.exists():
            return []
        where, args = ("AND user_name = ?", (user_name,)) if user_name is not None else ("", ())
        with self._db() as db:
            ids = [r[0] for r in db.execute(f"SELECT id FROM users WHERE deleted = 0 {where} ORDER BY created, id", args)]
        return [self.user(i) for i in ids]

    def update_user(
        self,
        user_id: str,
        *,
        user_name: str | None = None,
        active: bool | None = None,
        external_id: str | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> User:
        """Change what is given (None: keep); ``Unknown``, ``Conflict`` on a name another live user has."""
        current = self.user(user_id)
        name = _name(user_name, "userName") if user_name is not None else current.user_name
        with self._db() as db:
            clash = db.execute("SELECT id, deleted FROM users WHERE user_name = ? AND id != ?", (name, user_id)).fetchone()
            if clash is not None and not clash[1]:
                raise Conflict(f"a user named {name!r} exists")
            if clash is not None:
                db.execute("DELETE FROM users WHERE id = ?", (clash[0],))
            db.execute(
                "UPDATE users SET user_name = ?, active = ?, external_id = ?, attributes = ?, modified = ?, "
                "version = version + 1 WHERE id = ?",
                (
                    name,
                    int(current.active if active is None else active),
                    current.external_id if external_id is None else external_id,
                    json.dumps(current.attributes if attributes is None else attributes),
                    time.time(),
                    user_id,
                ),
            )
        return self.user(user_id)

    def delete_user(self, user_id: str) -> User:
        """Delete a user (out of every group; their name stays refused until provisioned again); ``Unknown``."""
        user = self.user(user_id)
        with self._db() as db:
            db.execute("DELETE FROM members WHERE user_id = ?", (user_id,))
            db.execute("UPDATE users SET deleted = 1, active = 0, modified = ? WHERE id = ?", (time.time(), user_id))
        return user

    # ----------------------------------------------------------------- groups

    def create_group(self, display_name: str, members: Iterable[str] = (), external_id: str | None = None) -> Group:
        """A new group with these members (user ids); ``Conflict``, or ``Invalid`` for a member that is no user."""
        _name(display_name, "displayName")
        now, group_id = time.time(), secrets.token_hex(16)
        with self._db() as db:
            if db.execute("SELECT 1 FROM groups WHERE display_name = ?", (display_name,)).fetchone():
                raise Conflict(f"a group named {display_name!r} exists")
            row = (group_id, display_name, external_id, now, now)
            db.execute(f"INSERT INTO groups ({_GROUP_COLUMNS}) VALUES (?, ?, ?, ?, ?, 1)", row)
            _add(db, group_id, members)
        return self.group(group_id)

    def group(self, group_id: str) -> Group:
        """The group with this id; ``Unknown`` otherwise."""
        with self._db() as db:
            row = db.execute(f"SELECT {_GROUP_COLUMNS} FROM groups WHERE id = ?", (group_id,)).fetchone()
            if row is None:
                raise Unknown(f"no group {group_id}")
            members = db.execute(
                "SELECT u.id, u.user_name FROM members m JOIN users u ON u.id = m.user_id WHERE m.group_id = ? "
                "ORDER BY u.user_name",
                (group_id,),
            ).fetchall()
        return Group(*row, members=tuple((m[0], m[1]) for m in members))

    def groups(self, display_name: str | None = None) -> list[Group]:
        """The groups, oldest first; only the one named ``display_name`` (any case) when given."""
        if not self.path.exists():
            return []
        where, args = ("WHERE display_name = ?", (display_name,)) if display_name is not None else ("", ())
        with self._db() as db:
            ids = [r[0] for r in db.execute(f"SELECT id FROM groups {where} ORDER BY created, id", args)]
        return [self.group(i) for i in ids]

    def update_group(
        self,
        group_id: str,
        *,
        display_name: str | None = None,
        external_id: str | None = None,
        members: Iterable[str] | None = None,
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
    ) -> Group:
        """Rename, replace the members (``members``), or add and remove some (user ids); ``Unknown``,
        ``Conflict`` on a name another group has, ``Invalid`` for a member that is no user."""
        current = self.group(group_id)
        name = _name(display_name, "displayName") if display_name is not None else current.display_name
        with self._db() as db:
            if db.execute("SELECT 1 FROM groups WHERE display_name = ? AND id != ?", (name, group_id)).fetchone():
                raise Conflict(f"a group named {name!r} exists")
            db.execute(
                "UPDATE groups SET display_name = ?, external_id = ?, modified = ?, version = version + 1 WHERE id = ?",
                (name, current.external_id if external_id is None else external_id, time.time(), group_id),
            )
            if members is not None:
                db.execute("DELETE FROM members WHERE group_id = ?", (group_id,))
                _add(db, group_id, members)
            _add(db, group_id, add)
            db.executemany("DELETE FROM members WHERE group_id = ? AND user_id = ?", [(group_id, u) for u in remove])
        return self.group(group_id)

    def delete_group(self, group_id: str) -> None:
        """Delete a group (its members lose it on their next request); ``Unknown``."""
        with self._db() as db:
            db.execute("DELETE FROM members WHERE group_id = ?", (group_id,))
            if not db.execute("DELETE FROM groups WHERE id = ?", (group_id,)).rowcount:
                raise Unknown(f"no group {group_id}")

    # ---------------------------------------------------------------- reading

    def roster(self) -> Roster:
        """Each active user's groups, and the names of deactivated and deleted users."""
        if not self.path.exists():
            return Roster()
        with self._db() as db:
            rows = db.execute("SELECT user_name, active FROM users").fetchall()
            pairs = db.execute(
                "SELECT u.user_name, g.display_name FROM members m JOIN users u ON u.id = m.user_id "
                "JOIN groups g ON g.id = m.group_id WHERE u.active = 1 ORDER BY g.display_name"
            ).fetchall()
        groups: dict[str, list[str]] = {name: [] for name, active in rows if active}
        for name, group in pairs:
            groups[name].append(group)
        return Roster(groups={k: tuple(v) for k, v in groups.items()}, blocked=frozenset(n for n, a in rows if not a))

    def refused(self, user_name: str) -> bool:
        """Whether ``user_name`` is deactivated or deleted (a name never provisioned is not refused)."""
        if not self.path.exists():
            return False
        with self._db() as db:
            row = db.execute("SELECT active FROM users WHERE user_name = ?", (user_name,)).fetchone()
        return row is not None and not row[0]


def _user(row: Sequence[Any], groups: Sequence[Sequence[str]]) -> User:
    return User(
        row[0], row[1], row[2], bool(row[3]), json.loads(row[4]), row[5], row[6], row[7], tuple((g[0], g[1]) for g in groups)
    )


def _add(db: Any, group_id: str, members: Iterable[str]) -> None:
    """Add users (by id) to a group; ``Invalid`` for an id that is no live user."""
    for user_id in members:
        if db.execute("SELECT 1 FROM users WHERE id = ? AND deleted = 0", (user_id,)).fetchone() is None:
            raise Invalid(f"member {user_id!r} is no user")
        db.execute("INSERT OR IGNORE INTO members (group_id, user_id) VALUES (?, ?)", (group_id, user_id))
