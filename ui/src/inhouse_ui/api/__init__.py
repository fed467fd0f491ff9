"""The HTTP API: a FastAPI app that ``inhouse_ui.server.build_app`` mounts at ``/v1``, beside
the page, on the same server (``inhouse serve``).

- OpenAI-compatible (``api.openai``): ``/v1/chat/completions``, ``/v1/models``, ``/v1/embeddings``.
- Native (``api.native``, ``api.documents``): ``/v1/ask``, ``/v1/search``, ``/v1/documents``,
  ``/v1/jobs/{id}``, ``/v1/conversations``.
- ``/v1/openapi.json``: the OpenAPI document of all of them.

Every route runs as the caller of ``api.common.caller`` (an API key's user, or the local user
for a client on this machine while no key exists); errors have the OpenAI shape. The app's
``state`` holds what routes use: ``assistant``, ``settings`` (``[api]``), ``ui`` (``[ui]``),
``keys``, ``limiter``, ``conversations``, ``uploads`` (the page's) and ``jobs`` (uploads through the API).
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI

from inhouse.conversations import ConversationStore
from inhouse.keys import KeyStore
from inhouse_ui.api import documents, native, openai
from inhouse_ui.api.common import ERROR_RESPONSES, BodyLimit, RateLimiter, caller, install_error_handlers
from inhouse_ui.api.jobs import Jobs
from inhouse_ui.api.settings import APISettings
from inhouse_ui.settings import UISettings

DESCRIPTION = """\
The inhouse HTTP API. Send `Authorization: Bearer <key>` (keys: `inhouse keys create --user NAME`);
while no key exists, only clients on the server's machine are served, as the local user.
Every error is `{"error": {"message", "type", "param", "code"}}`.
"""


def build_api(assistant: Any, ui: UISettings, uploads: Any, settings: APISettings | None = None) -> FastAPI:
    """The API of ``assistant`` (to mount at ``/v1``): ``ui`` is the ``[ui]`` table (shared
    writers), ``uploads`` the page's ``inhouse_ui.uploads.Uploads``, ``settings`` the ``[api]``
    table (else read from the assistant's configuration)."""
    settings = settings or APISettings.from_config(assistant.settings)
    app = FastAPI(
        title="inhouse",
        description=DESCRIPTION,
        version="1",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        responses=ERROR_RESPONSES,
        dependencies=[Depends(caller)],  # every route: a route that forgets to ask for the caller is still guarded
    )
    app.state.assistant = assistant
    app.state.settings = settings
    app.state.ui = ui
    app.state.keys = KeyStore(assistant.home)
    app.state.limiter = RateLimiter()
    app.state.conversations = ConversationStore(assistant.home)
    app.state.uploads = uploads
    app.state.jobs = Jobs()
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_kb * 1024)
    app.include_router(openai.router)
    app.include_router(native.router)
    app.include_router(documents.router)
    openai.document_models(app)
    return app
