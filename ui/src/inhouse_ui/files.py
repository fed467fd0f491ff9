"""Read-only routes for what answers point to: ``/files/{doc_id}`` (an ingested original) and
``/images/{id}`` (an image a model made for this user).

``/files`` asks the core for the document (``Assistant.open_document``), which checks the
reader against its ACL and reads the original through the connector that yielded it;
wherever the document lives, the route never touches a path itself. An unknown id, a
document the reader may not see and one that cannot be opened are all the same plain 404,
so the route says nothing about what exists. Originals are served inline with their file
name, a media type from that name, ``nosniff``, and (HTML, SVG, XML) a CSP sandbox.
"""

from __future__ import annotations

import mimetypes
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Response

from inhouse.errors import AccessDenied
from inhouse.plugins import DocumentRecord
from inhouse_ui.auth import Auth, require

_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Types a browser would run as a page of this site: served in a CSP sandbox (no scripts, no cookies).
ACTIVE = {"text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml"}
SANDBOX = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'"
MIME_FIXES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
OpenDocument = Callable[[str, str], tuple[DocumentRecord, bytes]]


def file_name(record: DocumentRecord) -> str:
    """The last component of the document's source, without control characters."""
    return _CONTROL.sub("", record.source.replace("\\", "/").rsplit("/", 1)[-1]) or "document"


def content_type(name: str) -> str:
    """The media type of a file called ``name`` (``application/octet-stream`` when unknown)."""
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    mime = MIME_FIXES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return f"{mime}; charset=utf-8" if mime.startswith("text/") else mime


def disposition(kind: str, name: str) -> str:
    """A ``Content-Disposition`` value: a plain quoted name when it is safe ASCII, else RFC 5987."""
    quoted = quote(name, safe="")
    return f'{kind}; filename="{name}"' if quoted == name else f"{kind}; filename*=utf-8''{quoted}"


class Images:
    """Images models made, in memory (the most recent ``limit``), each readable by its owner only."""

    def __init__(self, limit: int = 256):
        self.limit = limit
        self._items: OrderedDict[str, tuple[bytes, str, str]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, data: bytes, mime: str, owner: str) -> str:
        """Keep an image for ``owner``; returns its unguessable id."""
        image_id = secrets.token_urlsafe(16)
        with self._lock:
            self._items[image_id] = (data, mime, owner)
            while len(self._items) > self.limit:
                self._items.popitem(last=False)
        return image_id

    def get(self, image_id: str) -> tuple[bytes, str, str] | None:
        """``(data, mime, owner)`` of an image, or None when it is unknown or was dropped."""
        with self._lock:
            return self._items.get(image_id)


EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


def router(open_document: OpenDocument, auth: Auth, images: Images) -> APIRouter:
    """The routes; ``open_document(doc_id, user)`` is ``Assistant.open_document``."""
    routes = APIRouter()
    signed_in = require(auth)

    @routes.get("/files/{doc_id}", include_in_schema=False)
    def original(doc_id: str, user: str = Depends(signed_in)) -> Response:
        """The original of ``doc_id`` when ``user`` may read it; 404 otherwise."""
        if not _ID.match(doc_id):
            raise HTTPException(404, "not found")
        try:
            record, data = open_document(doc_id, user)
        except AccessDenied:
            raise HTTPException(404, "not found") from None
        name = file_name(record)
        mime = content_type(name)
        headers = {
            "Content-Disposition": disposition("inline", name),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-cache",
        }
        if mime.split(";")[0] in ACTIVE:
            headers["Content-Security-Policy"] = SANDBOX
        return Response(data, media_type=mime, headers=headers)

    @routes.get("/images/{image_id}", include_in_schema=False)
    def image(image_id: str, download: bool = False, user: str = Depends(signed_in)) -> Response:
        """An image the user's answer made (``download`` for an attachment); 404 for anyone else."""
        item = images.get(image_id) if _ID.match(image_id) else None
        if item is None or item[2] != user:
            raise HTTPException(404, "not found")
        data, mime, _ = item
        name = f"inhouse-{image_id[:8]}.{EXTENSIONS.get(mime, 'bin')}"
        headers = {
            "Content-Disposition": disposition("attachment" if download else "inline", name),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=86400",
        }
        return Response(data, media_type=mime, headers=headers)

    return routes
