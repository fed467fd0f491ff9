"""One FastAPI app: ``/health``, ``/healthz`` and ``/readyz``, ``/metrics`` (``inhouse_ui.metrics``), ``/login`` and ``/logout``
(password sign-in, or OpenID Connect with ``/oidc/callback``),
``/files/{doc_id}``, ``/images/{id}``, ``/admin/audit``, ``/admin/sync``,
the admin console (``/admin``, ``inhouse_ui.console``),
the HTTP API at ``/v1`` (``inhouse_ui.api``, its own app with API keys) and the chat page at
``/``; and ``serve``, which ``inhouse serve`` calls: it also runs the connectors' scheduled
syncs (``inhouse.scheduler``) while it serves.

Gradio is used through its public API only: the page gets the app's own user of each request
through ``mount_gradio_app(auth_dependency=...)``, and nothing here changes process-wide
settings (the page's Blocks pass ``analytics_enabled=False``). Middleware around the app:
``UploadGuard`` (events may name only files uploaded to Gradio's upload folder),
``SecurityHeaders`` (a Content-Security-Policy on every response), and in the anonymous mode
``VisitorCookie`` (each browser its own visitor; not for the API and the probes, which use no cookies).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import socket
import sys
import threading
from pathlib import Path
from typing import Any

import gradio as gr
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from gradio.route_utils import BUILD_PATH_LIB
from starlette.datastructures import MutableHeaders
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inhouse.keys import KeyStore
from inhouse_ui import admin, console, files, metrics, oidc_routes, scim, signin
from inhouse_ui.api import build_api
from inhouse_ui.api.settings import APISettings
from inhouse_ui.auth import Auth, VisitorCookie
from inhouse_ui.look import asset, theme
from inhouse_ui.page import Page
from inhouse_ui.settings import LOOPBACK, UISettings
from inhouse_ui.upload_guard import UploadGuard

#: The page's policy: nothing from other sites (no remote images an answer could name), no
#: framing. Gradio's frontend needs inline styles and scripts and 'unsafe-eval' (it does not start without it).
CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; frame-src 'none'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
API_PATH = "/v1"
log = logging.getLogger("inhouse_ui.server")
NO_COOKIES = (API_PATH + "/", scim.PATH + "/", "/healthz", "/readyz", "/metrics")  # paths a visitor cookie is not set on
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def build_app(
    assistant: Any, settings: UISettings | dict[str, Any] | None = None, api_settings: APISettings | None = None
) -> FastAPI:
    """The app for ``assistant``; ``settings`` is the ``[ui]`` table (a dict, or ``UISettings``),
    ``api_settings`` the ``[api]`` table (else the assistant's configuration's).
    With ``users`` the session secret is read from (or made in) ``<assistant.home>/ui-secret``."""
    ui = UISettings.from_mapping(settings)
    api_settings = api_settings or APISettings.from_config(assistant.settings)
    auth = Auth(ui, Path(assistant.home), vouch=assistant.vouched.vouch if ui.oidc else None)
    page = Page(assistant, ui, auth)
    app = FastAPI(title=ui.title, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.assistant = assistant
    app.state.page = page
    app.state.auth = auth

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, Any]:
        """Up, and whether the models are loaded (no sign-in needed)."""
        return {"status": "ok", "warm": bool(getattr(app.state, "warm", False))}

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """The process is up (a liveness probe: no key, no sign-in)."""
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        """200 once the models are loaded and the store answers, else 503 (a readiness probe)."""
        if not getattr(app.state, "warm", False):
            return JSONResponse({"status": "warming up"}, status_code=503, headers={"Retry-After": "5"})
        try:
            assistant.store.count()
        except Exception as exc:  # the store's own error type varies by plugin; its message may name hosts: not sent
            log.warning("readiness: the store is unreachable: %s", exc)
            return JSONResponse({"status": "store unreachable"}, status_code=503, headers={"Retry-After": "5"})
        return JSONResponse({"status": "ready"})

    # Routes before the mount: the page at "/" answers every path it is given.
    app.mount("/assets", CachedAssets(directory=BUILD_PATH_LIB), name="assets")
    if auth.mode == "password":
        app.include_router(signin.router(auth, ui.title))
        app.add_middleware(signin.SignInRedirect, auth=auth)
    if auth.mode == "oidc":
        app.include_router(oidc_routes.router(auth, ui.title))
        app.add_middleware(signin.SignInRedirect, auth=auth)
    app.include_router(files.router(assistant.open_document, auth, page.images))
    app.include_router(admin.router(assistant, auth, ui.admins))
    if ui.scim:
        app.mount(scim.PATH, scim.build(assistant, ui.scim))  # provisioning by the identity provider, its own token
    app.include_router(console.router(assistant, auth, ui.admins, page.feedback))
    if api_settings.enabled:
        api = build_api(assistant, ui, page.uploads, api_settings)
        api.state.oidc = auth.provider  # bearer JWTs of [ui.oidc]'s provider sign API callers in too
        app.mount(API_PATH, api)
        metrics.install(app, api, assistant)  # /metrics, guarded as the API is
    blocks = page.build()
    upload_folder = blocks.GRADIO_CACHE  # where Gradio's upload route writes: GRADIO_TEMP_DIR, else <tmp>/gradio
    page.uploads.folder = upload_folder
    app.add_middleware(UploadGuard, folder=upload_folder)
    if auth.mode == "anonymous":
        app.add_middleware(VisitorCookie, auth=auth, exempt=NO_COOKIES)
    app.add_middleware(SecurityHeaders)
    blocks.queue(default_concurrency_limit=ui.concurrency)
    max_mb = assistant.settings.core.ingest.max_file_mb
    gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        auth_dependency=auth.user_of_http,
        auth_message="Sign in first.",
        footer_links=[],
        run_history=False,
        mcp_server=False,
        ssr_mode=False,
        enable_monitoring=False,
        show_error=False,  # a gr.Error's message only: exceptions stay in the server log
        max_file_size=f"{int(max_mb * 1024)}kb",
        theme=theme(),
        css=asset("page.css"),
        head=f"<script>{asset('page.js')}</script>",
    )
    return app


class SecurityHeaders:
    """ASGI middleware: ``HEADERS`` on every response that does not set its own policy
    (``/files`` sandboxes active originals, ``/login`` has a stricter one)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def exposure_warnings(ui: UISettings, host: str) -> list[str]:
    """What is at risk when the page listens on ``host``: every sign-in mode but passwords is
    for one machine or a trusted proxy, so a non-loopback address gets a warning for each."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if loopback or ui.users or ui.oidc:
        return []
    if not ui.trusted_header:
        return [
            f"inhouse: warning: listening on {host} with no sign-in: anyone who can reach this address can ask "
            "questions, read every shared document and add documents. Set [ui] users (passwords) or "
            "[ui] trusted_header behind a reverse proxy."
        ]
    if ui.trusted_proxies == list(LOOPBACK):
        return [
            f"inhouse: warning: listening on {host} with [ui] trusted_header but [ui] trusted_proxies left at "
            "loopback only: the header is believed only from this machine. Name your reverse proxy's address "
            "in [ui] trusted_proxies, and let nothing but the proxy reach this port."
        ]
    return []


class CachedAssets(StaticFiles):
    """Gradio's compiled frontend with a year of browser caching (the names carry a content hash):
    Gradio's own route sends no Cache-Control, so every visit revalidates some 60 files."""

    def file_response(self, full_path: Any, stat_result: os.stat_result, scope: Any, status_code: int = 200) -> Response:
        """Starlette's response with ``Cache-Control``: a year for hashed names, else revalidate."""
        response = super().file_response(full_path, stat_result, scope, status_code)
        hashed = _HASHED.search(os.path.basename(str(full_path)))
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable" if hashed else "no-cache"
        return response


_HASHED = re.compile(r"-[A-Za-z0-9_-]{8,}\.(?:js|css|woff2?|svg|png)$")


def _listen(host: str, port: int) -> socket.socket:
    from inhouse.errors import InhouseError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on connections accepted from
    # such a socket; without it each reply sent in pieces waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InhouseError(f"cannot listen on {host}:{port} ({exc.strerror or exc}): pick another --port or --host") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def api_notice(assistant: Any, base: str) -> str:
    """What ``inhouse serve`` says at start about the HTTP API: off, keys in force, or loopback only."""
    if not APISettings.from_config(assistant.settings).enabled:
        return "inhouse: the HTTP API is off ([api] enabled = false)"
    if KeyStore(Path(assistant.home)).active():
        return f"inhouse: HTTP API at {base}{API_PATH}: API keys are in force, every request needs Authorization: Bearer <key>"
    return (
        f"inhouse: HTTP API at {base}{API_PATH}: no API keys, so it serves clients on this machine only, as the local user "
        "(make a key with `inhouse keys create --user NAME`)"
    )


def url(host: str, port: int) -> str:
    """The page's address (IPv6 hosts in brackets)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(config: Path | None, home: Path | None, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Build the assistant of ``config`` / ``home``, warm it up in a thread, and serve the page until Ctrl-C."""
    import uvicorn

    from inhouse import Assistant, SyncScheduler

    sock = _listen(host, port)  # fail before loading anything when the port is taken
    try:
        assistant = Assistant.from_config(config, home)
        ui = UISettings.from_config(assistant.settings)
        for warning in exposure_warnings(ui, host):
            print(warning, file=sys.stderr, flush=True)
        app = build_app(assistant, ui)

        def warm() -> None:
            try:
                assistant.warm_up()
                app.state.warm = True
            except Exception as exc:  # the first question then loads the models itself
                print(f"inhouse: warming up failed ({exc}); the first answer will be slower", file=sys.stderr)

        threading.Thread(target=warm, daemon=True, name="inhouse-warm-up").start()
        print(f"inhouse is serving on {url(host, port)}", flush=True)
        print(api_notice(assistant, url(host, port)), flush=True)
        scheduler = SyncScheduler(assistant)
        if scheduler.start():
            print(f"inhouse: syncing {', '.join(sorted(scheduler.schedules))} on schedule (see /admin/sync)", flush=True)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=3))
        try:
            server.run(sockets=[sock])
        finally:
            scheduler.stop()
            assistant.close()
    finally:
        sock.close()
