"""Who is asking: Gradio's sign-in against ``[ui] users``, a trusted reverse-proxy header,
or (with neither) one anonymous user.

The signed-in name is the principal passed to ``Assistant.stream(user=...)`` and checked
against document ACLs, so it is read from the request on every call, never from the page.

``trusted_header`` is only safe behind a reverse proxy that authenticates every request
and sets (or strips) that header itself: anyone who reaches the server directly can send it.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from typing import Any, Literal

from starlette.requests import HTTPConnection

from inhouse_ui.settings import UISettings

ANONYMOUS = "anonymous"
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")


class Auth:
    """The sign-in mode of one app, and the user of a request in each mode."""

    def __init__(self, settings: UISettings):
        self.users = settings.passwords()
        self.header = settings.trusted_header
        self.mode: Literal["password", "header", "anonymous"] = (
            "password" if self.users else "header" if self.header else "anonymous"
        )
        self._gradio_app: Any = None

    # Gradio ------------------------------------------------------------------------------

    def gradio_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``gr.mount_gradio_app``."""
        if self.mode == "password":
            return {"auth": self.check_password, "auth_message": "Sign in with your inhouse name and password."}
        if self.mode == "header":
            return {"auth_dependency": self.from_header}
        return {}

    def check_password(self, name: str, password: str) -> bool:
        """Constant-time comparison; an unknown name costs the same as a wrong password."""
        expected = self.users.get(name)
        ok = hmac.compare_digest((expected or "\x00unknown").encode(), password.encode())
        return expected is not None and ok

    def from_header(self, request: HTTPConnection) -> str | None:
        """The user named by the trusted header, or None (Gradio then answers 401)."""
        assert self.header is not None
        value = (request.headers.get(self.header) or "").strip()
        return value if _NAME.match(value) else None

    def bind(self, gradio_app: Any) -> None:
        """Remember the mounted Gradio app: its sign-in tokens identify users on the other routes."""
        self._gradio_app = gradio_app

    # users -------------------------------------------------------------------------------

    def user(self, request: Any) -> str:
        """The principal of a Gradio event (``gr.Request``); raises PermissionError when nobody is signed in."""
        if self.mode == "anonymous":
            return ANONYMOUS
        name = getattr(request, "username", None)
        if not name:
            raise PermissionError("sign in first")
        return str(name)

    def session_key(self, request: Any) -> str:
        """Whose conversation this is: the user, or (anonymous) the browser session."""
        if self.mode == "anonymous":
            return f"session:{getattr(request, 'session_hash', None) or 'none'}"
        return f"user:{self.user(request)}"

    def user_of_http(self, request: HTTPConnection) -> str | None:
        """The principal of a plain HTTP request (``/files``, ``/images``); None when not signed in."""
        if self.mode == "anonymous":
            return ANONYMOUS
        if self.mode == "header":
            return self.from_header(request)
        app = self._gradio_app
        if app is None:
            return None
        for prefix in ("access-token-", "access-token-unsecure-"):
            token = request.cookies.get(f"{prefix}{app.cookie_id}")
            if token and token in app.tokens:
                return str(app.tokens[token])
        return None


def require(auth: Auth) -> Callable[[HTTPConnection], str]:
    """A FastAPI dependency: the signed-in user, or 401."""
    from fastapi import HTTPException

    def dependency(request: HTTPConnection) -> str:
        user = auth.user_of_http(request)
        if user is None:
            raise HTTPException(status_code=401, detail="sign in first")
        return user

    return dependency
