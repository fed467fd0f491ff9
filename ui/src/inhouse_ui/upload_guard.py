"""Only files a client uploaded are ever read because an event named them.

A Gradio event carries files as ``FileData`` objects whose ``path`` the client writes. Gradio
checks such paths against its upload folder only in an app it launched itself: in an app
mounted with ``mount_gradio_app`` it copies whatever file a path names (``/etc/passwd``,
``/dev/zero``, which never ends) into its cache before any handler runs. ``UploadGuard``
(ASGI middleware in front of the page) therefore reads the JSON body of every request to
Gradio's API (``/gradio_api/...``) and refuses, with 400 and before Gradio sees it, any
request holding a ``path`` that is not a regular file inside Gradio's upload folder (no
link anywhere on the way, no device, no pipe). ``open_upload`` checks a path the same way
and opens it without following links (``O_NOFOLLOW``, then ``fstat``), for the handler that
copies the file.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 1024 * 1024  # bytes of one event's JSON (questions and comments are 4,000 characters at most)
_PREFIX = "/gradio_api/"


class UploadRefused(ValueError):
    """A path an event named is not a file uploaded to this page; the message says why."""


def _checked(path: Any, folder: str) -> str:
    """The real path of ``path`` when it is a regular file inside ``folder`` reached through no
    link; raises ``UploadRefused`` otherwise. Nothing is opened."""
    if not isinstance(path, str) or not path or "\x00" in path or not folder:
        raise UploadRefused("a file must be uploaded to this page first")
    absolute = os.path.abspath(path)
    real_folder = os.path.realpath(folder)
    for base in dict.fromkeys((os.path.abspath(folder), real_folder)):
        if absolute.startswith(base.rstrip(os.sep) + os.sep):
            real = os.path.join(real_folder, absolute[len(base.rstrip(os.sep)) + 1 :])
            break
    else:
        raise UploadRefused("only files uploaded to this page can be added")
    if os.path.realpath(absolute) != real:
        raise UploadRefused("an upload may not be a link")
    try:
        mode = os.lstat(real).st_mode
    except OSError:
        raise UploadRefused("the uploaded file is gone: upload it again") from None
    if not stat.S_ISREG(mode):
        raise UploadRefused("only regular files can be added")
    return real


def open_upload(path: Any, folder: str | os.PathLike[str]) -> int:
    """A read-only descriptor of the uploaded file ``path`` (inside Gradio's upload ``folder``);
    raises ``UploadRefused`` for anything else, links and special files included."""
    real = _checked(path, os.fspath(folder))
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        raise UploadRefused("the uploaded file cannot be opened: upload it again") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UploadRefused("only regular files can be added")
    return fd


def named_paths(data: Any) -> Iterator[Any]:
    """Every ``path`` value of a dictionary anywhere in ``data`` (how Gradio finds files)."""
    if isinstance(data, dict):
        if "path" in data:
            yield data["path"]
        for value in data.values():
            yield from named_paths(value)
    elif isinstance(data, list):
        for value in data:
            yield from named_paths(value)


class UploadGuard:
    """ASGI middleware: requests to Gradio's API may name only files in its upload ``folder``."""

    def __init__(self, app: ASGIApp, folder: str | os.PathLike[str]):
        self.app = app
        self.folder = os.fspath(folder)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        if scope["type"] != "http" or scope["method"] != "POST" or not path.startswith(_PREFIX) or _multipart(scope):
            await self.app(scope, receive, send)
            return
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_BODY:
                await JSONResponse({"detail": "the request is too large"}, status_code=413)(scope, receive, send)
                return
        refusal = _refusal(bytes(body), self.folder)
        if refusal is not None:
            await JSONResponse({"detail": f"refused: {refusal}"}, status_code=400)(scope, receive, send)
            return
        await self.app(scope, replaying(bytes(body), receive), send)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the app ``body`` (already read by a middleware) as one message,
    then whatever the client sends next (a disconnect)."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _multipart(scope: Scope) -> bool:
    """Gradio's own upload route (multipart bodies): it writes into the folder, names nothing."""
    content_type = dict(scope.get("headers") or []).get(b"content-type", b"")
    return content_type.split(b";", 1)[0].strip().lower() == b"multipart/form-data"


def _refusal(body: bytes, folder: str) -> str | None:
    """Why a JSON body may not reach Gradio (a path it names), or None."""
    try:
        data = json.loads(body) if body.strip() else None
    except ValueError:
        return None  # not JSON: Gradio answers it, and names no files
    for path in named_paths(data):
        try:
            _checked(path, folder)
        except UploadRefused as exc:
            return str(exc)
    return None
