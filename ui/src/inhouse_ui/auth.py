"""Who is asking: the app's own password sign-in against ``[ui] users`` (a signed session
cookie, see ``sessions``), OpenID Connect sign-in with ``[ui.oidc]`` (a signed session cookie
carrying the user and the groups of their ID token, see ``oidc_routes``), a trusted
reverse-proxy header, or (with none of these) anonymous
visitors, each with their own signed visitor cookie (``VisitorCookie``) and so their own
personal collection and conversation.

``Auth.user_of_http(request)`` is the one place that names the user of a request, in every
mode: the app's routes use it (``require``) and the Gradio page gets it as its
``auth_dependency``, so the page's events carry the same user (``gr.Request.username``). The
name is the principal passed to ``Assistant.stream(user=...)`` and checked against document
ACLs, so it is read from the request on every call, never from the page.

A user the identity provider deprovisioned (``inhouse.provisioning``, by SCIM) is nobody in
every mode, from their very next request.

``trusted_header`` is only safe behind a reverse proxy that authenticates every request
and sets (or strips) that header itself: the header is believed only from the addresses of
``[ui] trusted_proxies`` (loopback by default) and only when it appears exactly once.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inhouse.provisioning import Provisioning
from inhouse_ui.oidc import Provider
from inhouse_ui.sessions import COOKIE, VISITOR_COOKIE, Sessions, SignedValues, Visitors, load_secret
from inhouse_ui.settings import UISettings

VISITOR = "visitor-"  # the user name of an anonymous visitor: this, then their id
VISITOR_DAYS = 365
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")
_UNKNOWN = hashlib.sha256(b"\x00no such user").digest()
SIGN_IN_S = 600  # seconds an OpenID Connect sign-in (state, nonce, PKCE verifier) may take


class Auth:
    """The sign-in mode of one app, and the user of a request in each mode."""

    def __init__(self, settings: UISettings, home: Path, vouch: Callable[[str, Sequence[str]], None] | None = None):
        """``vouch(user, groups)`` hears the groups of each OpenID Connect request's user
        (``Assistant.vouched.vouch``, so the groups decide what they may read)."""
        self.users = settings.passwords()
        self.header = settings.trusted_header
        self.mode: Literal["password", "oidc", "header", "anonymous"] = (
            "password" if self.users else "oidc" if settings.oidc else "header" if self.header else "anonymous"
        )
        self.proxies = settings.proxies()
        secret = load_secret(home) if self.mode != "header" else b""
        self.sessions = Sessions(secret, self.users, settings.session_hours * 3600) if self.mode == "password" else None
        self.visitors = Visitors(secret) if self.mode == "anonymous" else None
        self.provider = Provider(settings.oidc) if settings.oidc else None
        self.signed_in = SignedValues(secret, "inhouse-ui-oidc-session-v1", settings.session_hours * 3600)
        self.flows = SignedValues(secret, "inhouse-ui-oidc-sign-in-v1", SIGN_IN_S)
        self.vouch = vouch
        self.provisioned = Provisioning(home)  # a user it deprovisioned is refused on every request

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
            assert self.visitors is not None
            visitor = self.visitors.visitor(request.cookies.get(VISITOR_COOKIE))
            return VISITOR + visitor if visitor else None
        if self.mode == "header":
            assert self.header is not None
            values = request.headers.getlist(self.header)
            if len(values) != 1 or not self.from_proxy(request):  # a repeated header is a forgery
                return None
            value = values[0].strip()
            return value if _NAME.match(value) and not self.provisioned.refused(value) else None
        if self.mode == "oidc":
            return self._oidc_user(request.cookies.get(COOKIE))
        assert self.sessions is not None
        user = self.sessions.user(request.cookies.get(COOKIE))
        return user if user is not None and not self.provisioned.refused(user) else None

    def _oidc_user(self, cookie: str | None) -> str | None:
        """The user of an OpenID Connect session cookie (their groups vouched for), or None."""
        session = self.signed_in.read(cookie) if self.mode == "oidc" else None
        user, groups = (session or {}).get("user"), (session or {}).get("groups")
        if not isinstance(user, str) or not _NAME.match(user) or not isinstance(groups, list):
            return None
        if self.provisioned.refused(user):  # deprovisioned (SCIM) since signing in: before vouching for their groups
            return None
        if self.vouch is not None:
            self.vouch(user, [g for g in groups if isinstance(g, str)])
        return user

    def from_proxy(self, request: HTTPConnection) -> bool:
        """Whether the request comes straight from one of ``[ui] trusted_proxies``."""
        try:
            address = ipaddress.ip_address(request.client.host if request.client else "")
        except ValueError:
            return False
        return any(address in network for network in self.proxies)

    def user(self, request: Any) -> str:
        """The user of a Gradio event (``gr.Request.username``, which Gradio fills in from
        ``user_of_http``); raises PermissionError when there is none."""
        name = getattr(request, "username", None)
        if not name:
            raise PermissionError("sign in first")
        return str(name)


class VisitorCookie:
    """ASGI middleware of the anonymous mode: a request without a valid visitor cookie gets a
    new one, both on the request (so this very request has its visitor) and on the response;
    requests for paths starting with one of ``exempt`` (the HTTP API's) pass untouched."""

    def __init__(self, app: ASGIApp, auth: Auth, exempt: tuple[str, ...] = ()):
        self.app = app
        self.visitors = auth.visitors
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.visitors is None or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        if self.visitors.visitor(HTTPConnection(scope).cookies.get(VISITOR_COOKIE)) is not None:
            await self.app(scope, receive, send)
            return
        value = self.visitors.issue()
        cookies = [v.decode("latin-1") for k, v in scope["headers"] if k == b"cookie"] + [f"{VISITOR_COOKIE}={value}"]
        headers = [(k, v) for k, v in scope["headers"] if k != b"cookie"] + [(b"cookie", "; ".join(cookies).encode("latin-1"))]
        carrier = Response()
        carrier.set_cookie(
            VISITOR_COOKIE,
            value,
            max_age=VISITOR_DAYS * 86400,
            path="/",
            httponly=True,
            samesite="lax",
            secure=scope.get("scheme") == "https",
        )
        set_cookie = carrier.headers["set-cookie"]

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("set-cookie", set_cookie)
            await send(message)

        await self.app({**scope, "headers": headers}, receive, send_with_cookie)


def require(auth: Auth) -> Callable[[HTTPConnection], str]:
    """A FastAPI dependency: the signed-in user, or 401 (JSON)."""
    from fastapi import HTTPException

    def dependency(request: HTTPConnection) -> str:
        user = auth.user_of_http(request)
        if not user:
            raise HTTPException(status_code=401, detail="sign in first")
        return user

    return dependency
