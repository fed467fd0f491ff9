"""``/admin/sync``: each connector's schedule and last sync (``inhouse.sync``), for members of
an ``[ui] admins`` group only, every value escaped; and ``serve`` runs the scheduled syncs."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from inhouse import Assistant
from inhouse.sync import sync
from support import write_config
from ui_support import USERS, password_users, sign_in_client

pytestmark = pytest.mark.model  # MiniLM


def test_the_sync_view_shows_each_connector_to_admins_only(tmp_path: Path) -> None:
    from inhouse_ui.server import build_app

    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "parking.md").write_text("# Parking\n\nVisitors park on level -2.\n")
    (corpus / "<b>bad.md").write_bytes(bytes(range(256)) * 4)  # fails: binary, with a hostile name
    users = '[users.ana]\ngroups = ["admins"]\n[users.bob]\ngroups = ["staff"]\n'
    extra = f'{users}[connectors.wiki]\nuse = "filesystem"\npath = "{tmp_path / "wiki"}"\nschedule = "15m"\n'
    (tmp_path / "wiki").mkdir()
    with Assistant.from_config(write_config(tmp_path, corpus, extra), tmp_path / "home") as assistant:
        [docs, _wiki] = sync(assistant)
        assert docs.state == "ok" and docs.failed == 1
        app = build_app(assistant, {**password_users(), "admins": ["admins"]})
        ana, bob = TestClient(app), TestClient(app)
        assert sign_in_client(ana, "ana", USERS["ana"]).status_code == 303
        assert sign_in_client(bob, "bob", USERS["bob"]).status_code == 303
        shown = ana.get("/admin/sync")
        assert shown.status_code == 200
        assert "<td>docs</td><td>`inhouse sync` only</td><td>last sync" in shown.text and "1 added" in shown.text
        assert "<td>wiki</td><td>every 15m</td><td>last sync" in shown.text
        assert "failed &lt;b&gt;bad.md: " in shown.text and "<b>bad" not in shown.text
        assert bob.get("/admin/sync").status_code == 404
        assert TestClient(app).get("/admin/sync").status_code == 401


@pytest.mark.slow
def test_serve_syncs_a_scheduled_connector_and_stops_on_shutdown(tmp_path: Path) -> None:
    """``inhouse serve`` with ``schedule = "1s"``: a file added while it runs is indexed with no
    manual ingest; Ctrl-C stops the scheduler with the server (no sync left running)."""
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    from inhouse import SyncLog
    from ui_support import free_port

    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "a.md").write_text("# A\n\nA document.\n")
    config = write_config(tmp_path, corpus)
    config.write_text(config.read_text().replace('path = "', 'schedule = "1s"\npath = "'))
    home = tmp_path / "home"
    command = [sys.executable, "-m", "inhouse", "--config", str(config), "--home", str(home), "serve", "--port", str(free_port())]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ})
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith("inhouse is serving on")
        said = [proc.stdout.readline() for _ in range(2)]  # the API's keys, then the schedule
        assert any("syncing docs on schedule" in line for line in said), said
        (corpus / "b.md").write_text("# B\n\nThe codeword is qservedx.\n")
        deadline = time.monotonic() + 60
        sources: set[str] = set()
        while sources != {"a.md", "b.md"}:
            assert time.monotonic() < deadline, f"not synced: {sources}"
            time.sleep(0.2)
            try:
                with sqlite3.connect(f"file:{home / 'index' / 'store.sqlite3'}?mode=ro", uri=True) as db:
                    sources = {row[0] for row in db.execute("SELECT source FROM chunks WHERE text != ''")}
            except sqlite3.Error:
                pass
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    assert SyncLog(home).records()["docs"].state in ("ok", "stopped")
