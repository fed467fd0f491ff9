"""The employees' chat page for inhouse: one FastAPI app serving a Gradio page at ``/``.

``build_app(assistant, settings)`` returns the app; ``serve(config, home, host, port)`` runs it
(``inhouse serve``). The modules are small and named for what they do: ``page`` (the Gradio
Blocks), ``render`` (the HTML of answers, sources and reports), ``auth`` (the user of a
request, in every sign-in mode), ``sessions`` (signed session cookies), ``signin``
(``/login``, ``/logout``), ``conversations`` (each user's stored conversations, as the page
shows them) and ``conversation_list`` (the list to reopen them), ``uploads``, ``feedback``,
``files`` (``/files/{doc_id}`` and ``/images/{id}``) and ``api`` (the HTTP API at ``/v1``:
OpenAI-compatible and native routes, API keys, rate limits).
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["build_app", "serve"]


def __getattr__(name: str):  # gradio is heavy: import it only when the app is built
    if name in __all__:
        from inhouse_ui import server

        return getattr(server, name)
    raise AttributeError(name)
