"""Uploads under attack, over Gradio's own HTTP API (``queue/join`` and the event stream) with a
TestClient on a real assistant (``tiny``): events that name server files (finding 1), shared
documents overwritten by anyone or lost to a failed replacement (finding 6), one slow upload
holding up everyone's (the upload queue), and exception text shown to the reader (finding 9).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ui_support import doc_id, password_users, run_event, upload

pytestmark = [
    pytest.mark.model,  # MiniLM (once per session, for the tiny corpus)
    pytest.mark.filterwarnings("ignore::Warning:gradio.queueing"),  # its pandas summary after each event
]
SECRET = "# Vault\n\nThe vault code is 4321-ZEBRA.\n"


@pytest.fixture(scope="module")
def app(tiny: Any) -> Any:
    """The page with passwords for ``USERS``; the group ``hr`` may write to the shared collection."""
    from inhouse_ui.server import build_app

    return build_app(tiny, {**password_users(), "shared_writers": ["hr"]})


@pytest.fixture
def groups(tiny: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``[users.ana] groups = ["hr"]``, ``[users.bob] groups = ["sales"]`` for one test."""
    from inhouse.config import UserSettings

    monkeypatch.setattr(tiny.settings.core, "users", {"ana": UserSettings(groups=["hr"]), "bob": UserSettings(groups=["sales"])})


def join(client: TestClient, elem_id: str, event: str, data: list[Any]) -> Any:
    """``POST /gradio_api/queue/join`` for the handler of ``event`` on ``elem_id``; the response."""
    config = client.get("/config").json()
    [component] = [c for c in config["components"] if c.get("props", {}).get("elem_id") == elem_id]
    [dependency] = [d for d in config["dependencies"] if [component["id"], event] in [list(t) for t in d["targets"]]]
    body = {"data": data, "fn_index": dependency["id"], "trigger_id": component["id"], "session_hash": "s1", "event_data": None}
    return client.post("/gradio_api/queue/join", json=body)


def file_data(path: str, name: str = "notes.md") -> dict[str, Any]:
    """A ``FileData`` as the page's frontend sends it, naming ``path``."""
    return {"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}


def nothing_read(tiny: Any, name: str) -> None:
    """No document ``name`` was stored, and no upload folder holds it."""
    assert not [d for d in tiny.store.documents().values() if d.source.endswith(name)]
    assert not list((tiny.home / "uploads").rglob(name))


# ------------------------------------------------------------- finding 1: server files


def test_an_event_naming_a_server_file_is_refused_and_nothing_is_read(as_user: Any, tiny: Any, tmp_path: Path) -> None:
    secret = tmp_path / "vault.md"
    secret.write_text(SECRET, encoding="utf-8")
    ana = as_user("ana")
    for path in (str(secret), "/etc/passwd", f"{ana.app.state.page.uploads.folder}/../../{secret}"):
        refused = join(ana, "upload", "upload", [[file_data(path, "vault.md")], "personal"])
        assert refused.status_code == 400, (path, refused.text)
        assert refused.json()["detail"] == "refused: only files uploaded to this page can be added"
    nothing_read(tiny, "vault.md")
    nothing_read(tiny, "passwd")
    assert "4321-ZEBRA" not in json.dumps([ana.get(f"/files/{d}").text for d in tiny.store.documents()])
    smuggled = join(ana, "question", "submit", [file_data(str(secret)), "auto"])  # a file where text belongs
    assert smuggled.status_code == 400


def test_a_device_or_a_pipe_is_refused_at_once(as_user: Any, tiny: Any) -> None:
    ana = as_user("ana")
    folder = Path(ana.app.state.page.uploads.folder)
    pipe = folder / "guard-test" / "pipe.md"
    pipe.parent.mkdir(parents=True, exist_ok=True)
    pipe.unlink(missing_ok=True)
    os.mkfifo(pipe)
    outcome: dict[str, Any] = {}
    cases = {"/dev/zero": "only files uploaded to this page", str(pipe): "only regular files"}

    def post() -> None:
        outcome.update({path: join(ana, "upload", "upload", [[file_data(path)], "personal"]) for path in cases})

    worker = threading.Thread(target=post, daemon=True)
    worker.start()
    worker.join(30)
    assert not worker.is_alive(), "the server hung on a device or a pipe"
    for path, reason in cases.items():
        assert outcome[path].status_code == 400 and reason in outcome[path].json()["detail"], path
    pipe.unlink()


def test_a_link_in_the_upload_folder_is_refused(as_user: Any, tiny: Any, tmp_path: Path) -> None:
    secret = tmp_path / "vault.md"
    secret.write_text(SECRET, encoding="utf-8")
    ana = as_user("ana")
    link = Path(ana.app.state.page.uploads.folder) / "guard-test" / "vault.md"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.unlink(missing_ok=True)
    link.symlink_to(secret)
    try:
        refused = join(ana, "upload", "upload", [[file_data(str(link), "vault.md")], "personal"])
        assert refused.status_code == 400 and refused.json()["detail"] == "refused: an upload may not be a link"
    finally:
        link.unlink()
    nothing_read(tiny, "vault.md")


def test_gradio_file_routes_serve_no_server_file(as_user: Any, tmp_path: Path) -> None:
    secret = tmp_path / "vault.md"
    secret.write_text(SECRET, encoding="utf-8")
    ana = as_user("ana")
    for path in ("/etc/passwd", str(secret)):
        for route in (f"/gradio_api/file={path}", f"/gradio_api/file/{path}", f"/file={path}"):
            response = ana.get(route)
            assert response.status_code in (403, 404), (route, response.status_code)
            assert "4321-ZEBRA" not in response.text and "root:" not in response.text


# ---------------------------------------------------- finding 6: shared documents


def test_only_a_writer_replaces_a_shared_document(as_user: Any, tiny: Any, groups: None) -> None:
    ana, bob = as_user("ana"), as_user("bob")
    original = b"# Expenses\n\nExpenses are filed within 30 days.\n"
    report, _ = run_event(ana, "upload", "upload", [[upload(ana, "expenses.md", original)], "shared"], "ana-expenses")
    assert "expenses.md</span> — added" in report
    forged = b"# Expenses\n\nSend expenses to attacker@example.com.\n"
    refused, _ = run_event(bob, "upload", "upload", [[upload(bob, "expenses.md", forged)], "shared"], "bob-expenses")
    assert "may not add documents to the shared collection" in refused
    shared = tiny.home / "uploads" / "shared" / "expenses.md"
    assert shared.read_bytes() == original
    mine, _ = run_event(bob, "upload", "upload", [[upload(bob, "expenses.md", forged)], "personal"], "bob-own")
    assert "expenses.md</span> — added" in mine and shared.read_bytes() == original  # his own copy only
    record = next(d for d in tiny.store.documents().values() if d.root == str(shared.parent) and d.source == "expenses.md")
    assert bob.get(f"/files/{record.id}").content == original


def test_a_failed_replacement_keeps_the_original(as_user: Any, tiny: Any, groups: None) -> None:
    ana = as_user("ana")
    original = b"# Travel\n\nTrain tickets are booked through the travel desk.\n"
    run_event(ana, "upload", "upload", [[upload(ana, "travel.md", original)], "shared"], "ana-travel")
    record_id = doc_id(tiny, "travel.md")
    report, _ = run_event(ana, "upload", "upload", [[upload(ana, "travel.md", b"   \n")], "shared"], "ana-travel-2")
    assert "travel.md</span> — not replaced, the original is kept: " in report, report
    assert (tiny.home / "uploads" / "shared" / "travel.md").read_bytes() == original
    assert ana.get(f"/files/{record_id}").content == original
    assert not list((tiny.home / "uploads" / "replaced").rglob("travel.md"))  # nothing left aside
    updated = b"# Travel\n\nTrain tickets are booked in the travel app.\n"
    report, _ = run_event(ana, "upload", "upload", [[upload(ana, "travel.md", updated)], "shared"], "ana-travel-3")
    assert "travel.md</span> — updated" in report
    assert ana.get(f"/files/{doc_id(tiny, 'travel.md')}").content == updated


# ------------------------------------------------------------ the upload queue


def test_one_slow_upload_does_not_hold_up_another_users(as_user: Any, app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    uploads = app.state.page.uploads
    ingest = uploads._ingest
    entered, release = threading.Event(), threading.Event()

    def slow_for_ana(folder: Path, acl: list[str], progress: Any) -> Any:
        """Ana's ingestion waits until the test releases it (a file that takes long to parse)."""
        if folder.name == "ana":
            entered.set()
            release.wait(120)
        return ingest(folder, acl, progress)

    monkeypatch.setattr(uploads, "_ingest", slow_for_ana)
    ana, bob = as_user("ana"), as_user("bob")
    slow = threading.Thread(
        target=run_event, args=(ana, "upload", "upload", [[upload(ana, "big.md", b"# Big\n\nA big file.\n")], "personal"], "a")
    )
    slow.start()
    try:
        assert entered.wait(60), "ana's upload did not start"
        result: list[Any] = []
        quick = threading.Thread(
            target=lambda: result.append(
                run_event(bob, "upload", "upload", [[upload(bob, "small.md", b"# Small\n\nA small file.\n")], "personal"], "b")
            ),
            daemon=True,
        )
        quick.start()
        quick.join(60)
        assert result and "small.md</span> — added" in result[0][0], "bob's upload waited behind ana's"
    finally:
        release.set()
        slow.join(60)


# ------------------------------------------------------------ finding 9: errors


def test_a_failure_shows_an_error_id_not_its_text_and_the_log_has_no_question(
    as_user: Any, tiny: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(question: str, **kwargs: Any) -> Any:
        """A provider failing with an internal address and a server path in its message."""
        raise RuntimeError("cannot reach http://10.20.30.40:8080/v1 (config /srv/inhouse/secrets.toml)")
        yield  # pragma: no cover

    monkeypatch.setattr(tiny, "stream", broken)
    question = "What is the canteen budget for the merger with Globex?"
    with caplog.at_level(logging.DEBUG):
        [chat, *_] = run_event(as_user("ana"), "question", "submit", [question, "auto"], "ana-broken")
    shown = json.dumps(chat)
    assert "10.20.30.40" not in shown and "/srv/inhouse" not in shown and "RuntimeError" not in shown
    assert "the answer failed (error " in shown
    error_id = shown.split("(error ", 1)[1][:8]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert error_id in logged and "10.20.30.40" in logged  # the details are in the server log ...
    assert "Globex" not in logged and "canteen budget" not in caplog.text  # ... the question is not
