"""One FastAPI app: ``/health``, ``/files/{doc_id}``, ``/images/{id}``, ``/api`` (to come) and
the chat page at ``/``; and ``serve``, which ``inhouse serve`` calls."""

from __future__ import annotations

import logging
import os
import re
import socket
import sys
import threading
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
from fastapi import FastAPI, Response
from gradio.route_utils import BUILD_PATH_LIB
from starlette.staticfiles import StaticFiles

from inhouse_ui import api, files
from inhouse_ui.auth import Auth
from inhouse_ui.page import Page, asset, theme
from inhouse_ui.settings import UISettings

log = logging.getLogger("inhouse_ui")
IDLE_POLL_S = 0.005


def build_app(assistant: Any, settings: UISettings | dict[str, Any] | None = None) -> FastAPI:
    """The app for ``assistant``; ``settings`` is the ``[ui]`` table (a dict, or ``UISettings``)."""
    ui = UISettings.from_mapping(settings)
    auth = Auth(ui)
    page = Page(assistant, ui, auth)
    app = FastAPI(title=ui.title, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.assistant = assistant
    app.state.page = page
    app.state.auth = auth

    @app.get("/health", include_in_schema=False)
    def health() -> dict[str, Any]:
        return {"status": "ok", "warm": bool(getattr(app.state, "warm", False))}

    # Routes before the mount: the page at "/" answers every path it is given.
    app.mount("/assets", CachedAssets(directory=BUILD_PATH_LIB), name="assets")
    app.include_router(files.router(lambda: assistant.store, auth, page.images))
    app.include_router(api.router)
    blocks = page.build()
    blocks.queue(default_concurrency_limit=ui.concurrency)
    _lighten(blocks)
    max_mb = assistant.settings.core.ingest.max_file_mb
    gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        footer_links=[],
        run_history=False,
        mcp_server=False,
        ssr_mode=False,
        enable_monitoring=False,
        show_error=True,
        max_file_size=f"{int(max_mb * 1024)}kb",
        theme=theme(),
        css=asset("page.css"),
        head=f"<script>{asset('page.js')}</script>",
        **auth.gradio_kwargs(),
    )
    auth.bind(_gradio_app(app))
    return app


def _lighten(blocks: gr.Blocks) -> None:
    """Two of Gradio's queue habits that cost CPU a small server needs for the model (attributes
    of Gradio 6's queue; skipped if they change):

    - it polls every 1 ms when idle (5-10% of a core); 5 ms adds at most 5 ms to a question;
    - after every event it summarises up to 10,000 past events with pandas, for the monitoring
      dashboard, which this app leaves off.
    """
    queue = getattr(blocks, "_queue", None)
    if queue is None:
        return
    if getattr(queue, "sleep_when_free", 1.0) < IDLE_POLL_S:
        queue.sleep_when_free = IDLE_POLL_S
    if hasattr(queue, "ANAYLTICS_CACHE_FREQUENCY"):
        queue.ANAYLTICS_CACHE_FREQUENCY = sys.maxsize
    if hasattr(queue, "ANALYTICS_MAX_EVENTS"):
        queue.ANALYTICS_MAX_EVENTS = 100


class CachedAssets(StaticFiles):
    """Gradio's compiled frontend with a year of browser caching (the names carry a content hash):
    Gradio's own route sends no Cache-Control, so every visit revalidates some 60 files."""

    def file_response(self, full_path: Any, stat_result: os.stat_result, scope: Any, status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        hashed = _HASHED.search(os.path.basename(str(full_path)))
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable" if hashed else "no-cache"
        return response


_HASHED = re.compile(r"-[A-Za-z0-9_-]{8,}\.(?:js|css|woff2?|svg|png)$")


def _gradio_app(app: FastAPI) -> Any:
    from gradio.routes import App

    for route in app.routes:
        inner = getattr(route, "app", None)
        if isinstance(inner, App):
            return inner
    raise RuntimeError("the Gradio page is not mounted")


def _listen(host: str, port: int) -> socket.socket:
    from inhouse.errors import InhouseError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise InhouseError(f"cannot listen on {host}:{port} ({exc.strerror or exc}): pick another --port or --host") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def url(host: str, port: int) -> str:
    """The page's address (IPv6 hosts in brackets)."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(config: Path | None, home: Path | None, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Build the assistant of ``config`` / ``home``, warm it up in a thread, and serve the page until Ctrl-C."""
    import uvicorn

    from inhouse import Assistant

    sock = _listen(host, port)  # fail before loading anything when the port is taken
    try:
        assistant = Assistant.from_config(config, home)
        app = build_app(assistant, UISettings.from_config(assistant.settings))

        def warm() -> None:
            try:
                assistant.warm_up()
                app.state.warm = True
            except Exception as exc:  # the first question then loads the models itself
                print(f"inhouse: warming up failed ({exc}); the first answer will be slower", file=sys.stderr)

        threading.Thread(target=warm, daemon=True, name="inhouse-warm-up").start()
        print(f"inhouse is serving on {url(host, port)}", flush=True)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=3))
        try:
            server.run(sockets=[sock])
        finally:
            assistant.close()
    finally:
        sock.close()
