"""``.inhouse-acl`` files: who may read a folder and below, and the folder's sensitivity label.

A TOML file in any folder under the connector's root::

    groups = ["hr", "finance"]   # group names (group:NAME)
    users = ["alice"]            # optional: people (user:NAME)
    public = true                # optional: everyone (*)
    label = "confidential"       # optional: public, internal, confidential, restricted

A file that has ``groups``, ``users`` or ``public`` sets the ACL of every file in its folder
and below; one with ``label`` sets the label. The deepest file that sets each wins, so a
subfolder's file overrides its parent's. A malformed file is an error for every file it
would cover (never silently public); the files themselves are never ingested.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from inhouse.access import PUBLIC, normalise, user_principal
from inhouse.config import LABELS
from inhouse.errors import ConfigError, IngestError
from inhouse_filesystem.regular import inside, read_regular

ACCESS_FILE = ".inhouse-acl"
KEYS = ("groups", "users", "public", "label")
MAX_BYTES = 64 * 1024

# What one folder's file says: (acl or None, label or None), or the error it raises.
Said = tuple[tuple[str, ...] | None, str | None]


class AccessFiles:
    """The ``.inhouse-acl`` files under one root, each read once per ``fetch``."""

    def __init__(self, root: Path):
        self.root = root.resolve()
        self._folders: dict[str, Said | IngestError] = {}

    def resolve(self, rel: str) -> Said:
        """The ACL and label the access files give the file at ``rel`` (None where none says);
        raises ``IngestError`` naming the malformed file."""
        parts = rel.split("/")[:-1]
        acl, label = None, None
        for n in range(len(parts) + 1):
            said = self._folder("/".join(parts[:n]))
            if isinstance(said, IngestError):
                raise said
            acl = said[0] if said[0] is not None else acl
            label = said[1] if said[1] is not None else label
        return acl, label

    def _folder(self, folder: str) -> Said | IngestError:
        if folder not in self._folders:
            where = f"{folder}/{ACCESS_FILE}" if folder else ACCESS_FILE
            try:
                self._folders[folder] = self._read(self.root / folder / ACCESS_FILE, where)
            except IngestError as exc:
                self._folders[folder] = exc
        return self._folders[folder]

    def _read(self, path: Path, where: str) -> Said:
        if not path.is_symlink() and not path.exists():
            return None, None
        try:
            data = read_regular(inside(path, self.root), MAX_BYTES)
            table = tomllib.loads(data.decode("utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, IngestError) as exc:
            raise IngestError(f"access file {where} cannot be used: {_reason(exc)}") from None
        return parse(table, where)


def parse(table: dict[str, Any], where: str) -> Said:
    """The ACL and label one access file's table gives; raises ``IngestError`` naming ``where``."""
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise IngestError(f"access file {where}: unknown key {', '.join(unknown)} (known: {', '.join(KEYS)})")
    for key in ("groups", "users"):
        names = table.get(key, [])
        if not isinstance(names, list) or not all(isinstance(n, str) and n and ":" not in n and n != PUBLIC for n in names):
            raise IngestError(f'access file {where}: {key} must be a list of names, like {key} = ["hr"]')
    public = table.get("public", False)
    if not isinstance(public, bool):
        raise IngestError(f"access file {where}: public must be true or false")
    label = table.get("label")
    if label is not None and label not in LABELS:
        raise IngestError(f"access file {where}: label must be one of {', '.join(LABELS)}, not {label!r}")
    acl = None
    if {"groups", "users", "public"} & set(table):
        try:
            acl = (
                (PUBLIC,)
                if public
                else normalise(table.get("groups", []), where) + tuple(map(user_principal, table.get("users", [])))
            )
        except ConfigError as exc:
            raise IngestError(str(exc)) from None
    return acl, label


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return f"unreadable ({exc.strerror or exc})"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(exc, tomllib.TOMLDecodeError):
        return f"invalid TOML ({exc})"
    return str(exc)
