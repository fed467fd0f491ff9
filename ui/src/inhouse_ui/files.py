"""Read-only routes for what answers point to: ``/files/{doc_id}`` (an ingested original) and
``/images/{id}`` (an image a model made for this user).

``/files`` serves a document only when the store knows it, the reader may see it (its ACL),
its connector root is a folder (or file) on this machine, and the resolved path is still
inside that root (no ``..``, no symlink out). Anything else is a plain 404, so the route
says nothing about what exists.
"""

from __future__ import annotations

import mimetypes
import re
import secrets
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Response
from fastapi.responses import FileResponse

from inhouse.plugins import DocumentRecord
from inhouse_ui.auth import Auth, require

_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
# Types a browser would run as a page of this site: served in a CSP sandbox (no scripts, no cookies).
ACTIVE = {"text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml"}
MIME_FIXES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}


def readable(record: DocumentRecord, user: str) -> bool:
    """The store's ACL rule: public (empty ACL) or naming the user."""
    return not record.acl or user in record.acl


def document_path(record: DocumentRecord) -> Path | None:
    """The original file of ``record``, or None unless it is a file inside its connector's root."""
    root = Path(record.root)
    if not root.is_absolute():
        return None  # not a filesystem connector
    try:
        root = root.resolve(strict=True)
        if root.is_file():
            return root if record.source == root.name else None
        candidate = (root / record.source).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


def content_type(path: Path) -> str:
    """The media type of ``path`` from its extension (``application/octet-stream`` when unknown)."""
    suffix = path.suffix.lower()
    mime = MIME_FIXES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"{mime}; charset=utf-8" if mime.startswith("text/") else mime


class Images:
    """Images models made, in memory (the most recent ``limit``), each readable by its owner only."""

    def __init__(self, limit: int = 256):
        self.limit = limit
        self._items: OrderedDict[str, tuple[bytes, str, str]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, data: bytes, mime: str, owner: str) -> str:
        image_id = secrets.token_urlsafe(16)
        with self._lock:
            self._items[image_id] = (data, mime, owner)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)
        return image_id

    def get(self, image_id: str) -> tuple[bytes, str, str] | None:
        with self._lock:
            return self._items.get(image_id)


EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


def router(store: Any, auth: Auth, images: Images) -> APIRouter:
    """The routes; ``store`` is a callable returning the assistant's store (built on first use)."""
    routes = APIRouter()
    signed_in = require(auth)

    @routes.get("/files/{doc_id}", include_in_schema=False)
    def original(doc_id: str, user: str = Depends(signed_in)) -> Response:
        if not _ID.match(doc_id):
            raise HTTPException(404, "not found")
        record = store().document(doc_id)
        path = document_path(record) if record is not None and readable(record, user) else None
        if path is None:
            raise HTTPException(404, "not found")
        mime = content_type(path)
        headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-cache"}
        if mime.split(";")[0] in ACTIVE:
            headers["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"
        return FileResponse(path, media_type=mime, filename=path.name, content_disposition_type="inline", headers=headers)

    @routes.get("/images/{image_id}", include_in_schema=False)
    def image(image_id: str, download: bool = False, user: str = Depends(signed_in)) -> Response:
        item = images.get(image_id) if _ID.match(image_id) else None
        if item is None or item[2] != user:
            raise HTTPException(404, "not found")
        data, mime, _ = item
        name = f"inhouse-{image_id[:8]}.{EXTENSIONS.get(mime, 'bin')}"
        disposition = "attachment" if download else "inline"
        headers = {
            "Content-Disposition": f'{disposition}; filename="{name}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=86400",
        }
        return Response(data, media_type=mime, headers=headers)

    return routes
