"""Where the HTTP API will live: routes added to ``router`` are served under ``/api`` by the
same app as the page (``build_app`` includes it before mounting the page at ``/``, which
would otherwise answer every path). Use ``inhouse_ui.auth.require(auth)`` for the caller.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api")
