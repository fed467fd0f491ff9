"""Applying a drive's delta pages (``GET /drives/{id}/root/delta``) to what the connector remembers.

Graph's delta answer holds the items that changed since the delta link (all of them on a
first call), each in its current state, the last occurrence winning; a removed item comes
with the ``deleted`` facet. Items carry ``parentReference.id`` but not the path (delta never
sends it: a renamed folder does not list its descendants), so folders are remembered and
paths rebuilt from them.

The requests ask for sharing changes (``Prefer: deltashowsharingchanges, hierarchicalsharing``):
an item whose permissions changed comes back with ``@microsoft.graph.sharedChanged``, and with
``hierarchicalsharing`` only the top of a changed hierarchy does. So the permissions of
every file below a folder that comes back shared-changed, renamed or moved are read again,
besides those of every file that comes back itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from inhouse_sharepoint.state import DriveState, FileEntry

PREFER = "deltashowremovedasdeleted, deltatraversepermissiongaps, deltashowsharingchanges, hierarchicalsharing"
SHARED_CHANGED = "@microsoft.graph.sharedChanged"


def apply(drive: DriveState, items: Iterable[Mapping[str, Any]]) -> set[str]:
    """Apply the items of a delta answer to ``drive``; returns the ids of the files whose
    permissions must be read again (those that came back, and those below a folder whose
    sharing, name or place changed). Packages (OneNote notebooks) and other non-files are skipped."""
    reread: set[str] = set()
    moved_folders: set[str] = set()
    for item in items:
        item_id = str(item.get("id", ""))
        if not item_id:
            continue
        if item.get("deleted") is not None:
            drive.files.pop(item_id, None)
            drive.folders.pop(item_id, None)
            reread.discard(item_id)
        elif item.get("root") is not None:
            drive.root = item_id
        elif item.get("folder") is not None:
            place = (str(item.get("name", "")), _parent(item))
            before = drive.folders.get(item_id)
            drive.folders[item_id] = place
            if _shared_changed(item) or (before is not None and before != place):
                moved_folders.add(item_id)
        elif item.get("file") is not None:
            before_file = drive.files.get(item_id)
            drive.files[item_id] = _file(item, before_file)
            reread.add(item_id)
    return reread | drive.under(moved_folders)


def _file(item: Mapping[str, Any], before: FileEntry | None) -> FileEntry:
    file_facet = item.get("file") or {}
    return FileEntry(
        name=str(item.get("name", "")),
        parent=_parent(item),
        ctag=str(item.get("cTag") or item.get("eTag") or ""),
        size=int(item.get("size") or 0),
        modified=_timestamp(item.get("lastModifiedDateTime")),
        mime=str(file_facet.get("mimeType", "")) if isinstance(file_facet, Mapping) else "",
        url=str(item.get("webUrl", "")),
        grants=before.grants if before is not None else None,
    )


def _parent(item: Mapping[str, Any]) -> str:
    parent = item.get("parentReference") or {}
    return str(parent.get("id", "")) if isinstance(parent, Mapping) else ""


def _shared_changed(item: Mapping[str, Any]) -> bool:
    return str(item.get(SHARED_CHANGED, "")).lower() == "true"


def _timestamp(value: Any) -> float:
    try:
        return datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        return 0.0
