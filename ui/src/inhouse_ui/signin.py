"""The password sign-in pages: ``GET /login`` (the form), ``POST /login`` (checks ``[ui] users``
and sets the session cookie), ``GET``/``POST /logout`` (removes it), and ``SignInRedirect``,
which sends a browser that is not signed in from the page at ``/`` to ``/login``.

Everything a client sends is hostile: the form body is read up to a small limit and parsed
here, failed attempts per name are limited (``Throttle``), the name typed is echoed only
escaped, and a form posted from another site (``Sec-Fetch-Site: cross-site``) is refused.
After signing in the browser always goes to the page (no caller-chosen redirect).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from html import escape
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from inhouse_ui.auth import Auth
from inhouse_ui.sessions import COOKIE

MAX_BODY = 8192  # bytes of a sign-in form
MAX_FAILURES = 10  # wrong passwords per name ...
WINDOW_S = 300.0  # ... in this many seconds, then 429 until the oldest leaves the window
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}
STYLE = (
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;background:#f8fafc;color:#0f172a;"
    "margin:0;display:flex;min-height:100vh;align-items:center;justify-content:center}"
    "main{background:#fff;border:1px solid #cbd5e1;border-radius:10px;padding:2rem;width:min(22rem,90vw)}"
    "h1{font-size:1.4rem;margin:0 0 .3rem}p{margin:.2rem 0 1rem;color:#475569}"
    "label{display:block;font-weight:600;margin:.8rem 0 .3rem}"
    "input{width:100%;box-sizing:border-box;padding:.55rem;font-size:1rem;border:1px solid #94a3b8;border-radius:6px}"
    "button{margin-top:1.2rem;width:100%;padding:.6rem;font-size:1rem;border:0;border-radius:6px;"
    "background:#2563eb;color:#fff;cursor:pointer}button:focus,input:focus{outline:3px solid #93c5fd}"
    ".error{color:#b91c1c;font-weight:600}"
)


class Throttle:
    """Failed sign-ins per name in a sliding window (names are the client's: the table is bounded)."""

    def __init__(self, limit: int = MAX_FAILURES, window_s: float = WINDOW_S, max_names: int = 10_000):
        self.limit = limit
        self.window_s = window_s
        self.max_names = max_names
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, name: str, now: float) -> deque[float]:
        times = self._failures.get(name) or deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return times

    def blocked(self, name: str) -> bool:
        """Whether ``name`` had ``limit`` failures within the window."""
        with self._lock:
            return len(self._recent(name, time.monotonic())) >= self.limit

    def failed(self, name: str) -> None:
        """Count a failure for ``name``."""
        with self._lock:
            now = time.monotonic()
            times = self._recent(name, now)
            times.append(now)
            self._failures[name] = times
            self._failures.move_to_end(name)
            while len(self._failures) > self.max_names:
                self._failures.popitem(last=False)


def login_page(title: str, name: str = "", error: str = "", status_code: int = 200) -> HTMLResponse:
    """The sign-in form (``name`` pre-filled, escaped; ``error`` shown above it)."""
    alert = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in · {escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>'
        f"<body><main><h1>{escape(title)}</h1><p>Sign in with your inhouse name and password.</p>{alert}"
        '<form method="post" action="login">'
        f'<label for="name">Name</label><input id="name" name="name" autocomplete="username" required autofocus'
        f' maxlength="200" value="{escape(name, quote=True)}">'
        '<label for="password">Password</label><input id="password" name="password" type="password"'
        ' autocomplete="current-password" required maxlength="1024">'
        '<button type="submit">Sign in</button></form></main></body></html>'
    )
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)


async def _form(request: Request) -> dict[str, str] | None:
    """The urlencoded form fields (the first of each name; none when there are too many), or
    None when the body is too large."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return None
    try:
        fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=20)
    except ValueError:  # more fields than a sign-in form has
        return {}
    return {key: values[0] for key, values in fields.items()}


def _cross_site(request: Request) -> bool:
    return request.headers.get("sec-fetch-site", "").lower() == "cross-site"


def router(auth: Auth, title: str) -> APIRouter:
    """The routes of password sign-in (include them only in that mode)."""
    assert auth.sessions is not None
    sessions = auth.sessions
    routes = APIRouter()
    throttle = Throttle()

    @routes.get("/login", include_in_schema=False)
    def form(request: Request) -> Response:
        """The sign-in form, or (signed in already) the page."""
        if auth.user_of_http(request) is not None:
            return RedirectResponse("./", status_code=303)
        return login_page(title)

    @routes.post("/login", include_in_schema=False)
    async def sign_in(request: Request) -> Response:
        """Check the name and password; a good one sets the session cookie and goes to the page."""
        if _cross_site(request):
            return JSONResponse({"detail": "sign in from this site's own page"}, status_code=403)
        fields = await _form(request)
        if fields is None:
            return JSONResponse({"detail": "the form is too large"}, status_code=413)
        name = fields.get("name", "").strip()[:200]
        password = fields.get("password", "")[:1024]
        if throttle.blocked(name):
            return login_page(title, name, "Too many wrong passwords: wait a few minutes, then try again.", 429)
        if not name or not auth.check_password(name, password):
            throttle.failed(name)
            return login_page(title, name, "Wrong name or password.", 401)
        response = RedirectResponse("./", status_code=303)
        response.set_cookie(
            COOKIE,
            sessions.issue(name),
            max_age=int(sessions.lifetime_s),
            path="/",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    @routes.api_route("/logout", methods=["GET", "POST"], include_in_schema=False)
    def sign_out(request: Request) -> Response:
        """Remove the session cookie and go to the sign-in form."""
        if _cross_site(request):
            return JSONResponse({"detail": "sign out from this site's own page"}, status_code=403)
        response = RedirectResponse("login", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=request.url.scheme == "https")
        return response

    return routes


class SignInRedirect:
    """ASGI middleware: a browser that is not signed in and asks for the page (``GET /``) is sent
    to ``/login``; every other request passes through untouched (Gradio's API answers 401)."""

    def __init__(self, app: ASGIApp, auth: Auth):
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        page = scope["type"] == "http" and scope["method"] in ("GET", "HEAD") and _path(scope) == "/"
        if page and self.auth.user_of_http(Request(scope)) is None:
            await RedirectResponse("login", status_code=303)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _path(scope: Scope) -> str:
    path, root = scope["path"], scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path or "/"
