"""Who is asking: the app's own password sign-in against ``[ui] users`` (a signed session
cookie, see ``sessions``), a trusted reverse-proxy header, or (with neither) one anonymous user.

``Auth.user_of_http(request)`` is the one place that names the user of a request, in every
mode: the app's routes use it (``require``) and the Gradio page gets it as its
``auth_dependency``, so the page's events carry the same user (``gr.Request.username``). The
name is the principal passed to ``Assistant.stream(user=...)`` and checked against document
ACLs, so it is read from the request on every call, never from the page.

``trusted_header`` is only safe behind a reverse proxy that authenticates every request
and sets (or strips) that header itself: anyone who reaches the server directly can send it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from starlette.requests import HTTPConnection

from inhouse_ui.sessions import COOKIE, Sessions, load_secret
from inhouse_ui.settings import UISettings

ANONYMOUS = "anonymous"
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")
_UNKNOWN = hashlib.sha256(b"\x00no such user").digest()


class Auth:
    """The sign-in mode of one app, and the user of a request in each mode."""

    def __init__(self, settings: UISettings, home: Path):
        self.users = settings.passwords()
        self.header = settings.trusted_header
        self.mode: Literal["password", "header", "anonymous"] = (
            "password" if self.users else "header" if self.header else "anonymous"
        )
        self.sessions = (
            Sessions(load_secret(home), self.users, settings.session_hours * 3600) if self.mode == "password" else None
        )

    def check_password(self, name: str, password: str) -> bool:
        """Whether ``password`` is ``name``'s, in constant time: digests of equal length are
        compared, and an unknown name costs the same as a wrong password."""
        expected = self.users.get(name)
        want = hashlib.sha256(expected.encode()).digest() if expected is not None else _UNKNOWN
        ok = hmac.compare_digest(want, hashlib.sha256(password.encode("utf-8", "replace")).digest())
        return expected is not None and ok

    def user_of_http(self, request: HTTPConnection) -> str | None:
        """The user of a request (the page's and the app's routes alike); None when nobody is
        signed in: no valid session cookie (password), no usable header (header)."""
        if self.mode == "anonymous":
            return ANONYMOUS
        if self.mode == "header":
            assert self.header is not None
            value = (request.headers.get(self.header) or "").strip()
            return value if _NAME.match(value) else None
        assert self.sessions is not None
        return self.sessions.user(request.cookies.get(COOKIE))

    def user(self, request: Any) -> str:
        """The user of a Gradio event (``gr.Request.username``, which Gradio fills in from
        ``user_of_http``); raises PermissionError when there is none."""
        name = getattr(request, "username", None)
        if not name:
            raise PermissionError("sign in first")
        return str(name)

    def session_key(self, request: Any) -> str:
        """Whose conversation this is: the user, or (anonymous) the browser session."""
        if self.mode == "anonymous":
            return f"session:{getattr(request, 'session_hash', None) or 'none'}"
        return f"user:{self.user(request)}"


def require(auth: Auth) -> Callable[[HTTPConnection], str]:
    """A FastAPI dependency: the signed-in user, or 401 (JSON)."""
    from fastapi import HTTPException

    def dependency(request: HTTPConnection) -> str:
        user = auth.user_of_http(request)
        if not user:
            raise HTTPException(status_code=401, detail="sign in first")
        return user

    return dependency
