"""``inhouse serve``, added to the ``inhouse`` command line through the ``inhouse.commands``
entry point (gradio is imported when the command runs, not when the CLI starts)."""

from __future__ import annotations

from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""

    @app.command()
    def serve(
        host: Annotated[str, typer.Option(help="address to listen on (loopback by default)")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="port")] = 7860,
    ) -> None:
        """Start the chat page (and, later, the HTTP API) on one server."""
        from inhouse.cli import context
        from inhouse_ui.server import serve as run_server

        run_server(context().config, context().home, host, port)
