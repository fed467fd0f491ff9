"""What the connector remembers between syncs: per drive, its delta link, its folders and its
files (metadata and raw permission grants), in one JSON file.

The file lives at ``<home>/sharepoint/<table name>.json``. It is written atomically (a
temporary file in the same folder, flushed, then ``os.replace``) and only after a ``fetch``
has listed everything, so a crash leaves the previous complete state and the next sync asks
Graph for the changes since then again: nothing is lost, some work is repeated. A file
written for another site, Graph URL or tenant (``key``), unreadable or of an older layout
is ignored: the next sync lists everything.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from inhouse_sharepoint.permissions import Grant

VERSION = 1


@dataclass
class FileEntry:
    """One file of a drive: what Graph said of it and its permissions (None: not read yet, or
    the read failed, with ``error``)."""

    name: str
    parent: str
    ctag: str
    size: int
    modified: float
    mime: str
    url: str
    grants: list[Grant] | None = None
    error: str = ""


@dataclass
class DriveState:
    """One drive (document library): its delta link (empty: never listed) and items by id."""

    id: str
    name: str
    delta: str = ""
    root: str = ""  # the id of the drive's root folder
    folders: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (name, parent id)
    files: dict[str, FileEntry] = field(default_factory=dict)

    def path_of(self, item_id: str, name: str, parent: str) -> str | None:
        """``drive name/folder/.../name`` of an item, or None when its chain of folders does not
        reach the root (an orphan of a deleted folder)."""
        parts, seen = [name], set()
        while parent != self.root:
            if parent in seen or parent not in self.folders:
                return None
            seen.add(parent)
            folder_name, parent = self.folders[parent]
            parts.append(folder_name)
        return "/".join([self.name, *reversed(parts)])

    def under(self, folder_ids: set[str]) -> set[str]:
        """The ids of the files anywhere below any of ``folder_ids``."""
        inside: dict[str, bool] = {self.root: False}

        def below(folder: str, depth: int = 0) -> bool:
            if folder not in inside:
                inside[folder] = False  # a cycle guard while this one is decided
                parent = self.folders.get(folder, ("", self.root))[1]
                inside[folder] = folder in folder_ids or (depth < 500 and below(parent, depth + 1))
            return inside[folder]

        return {fid for fid, entry in self.files.items() if below(entry.parent)}


def load(path: Path | None, key: str) -> dict[str, DriveState]:
    """The drives remembered in ``path`` for ``key``; empty when there is nothing usable."""
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("version") != VERSION or data.get("key") != key:
            return {}
        return {d["id"]: _drive(d) for d in data["drives"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def save(path: Path | None, key: str, drives: dict[str, DriveState]) -> None:
    """Write the state atomically (nothing when the connector has no home folder)."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"version": VERSION, "key": key, "drives": [asdict(d) for d in drives.values()]}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _drive(data: dict[str, Any]) -> DriveState:
    files = {}
    for fid, entry in data["files"].items():
        grants = entry.pop("grants")
        files[fid] = FileEntry(**entry, grants=None if grants is None else [(k, bool(i), tuple(keys)) for k, i, keys in grants])
    folders = {fid: (str(name), str(parent)) for fid, (name, parent) in data["folders"].items()}
    return DriveState(data["id"], data["name"], data["delta"], data["root"], folders, files)
