"""The page's events over Gradio's own HTTP API (upload, ``queue/join``, the event stream), as its
frontend sends them, through FastAPI's TestClient on a real assistant (``tiny``): the user of
every event is the one the session cookie names, whatever the request says besides.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ui_support import doc_id, password_users, run_event, upload

pytestmark = [
    pytest.mark.model,  # MiniLM (once per session, for the tiny corpus)
    pytest.mark.filterwarnings("ignore::Warning:gradio.queueing"),  # its pandas summary after each event
]
MASCOT = b"# Office mascot\n\nThe office mascot is a zebra called Quillon.\n"


@pytest.fixture(scope="module")
def app(tiny: Any) -> Any:
    """The page with passwords for ``USERS``; the group ``hr`` may add to the shared collection."""
    from inhouse_ui.server import build_app

    return build_app(tiny, {**password_users(), "shared_writers": ["hr"]})


@pytest.fixture
def groups(tiny: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """``[users.ana] groups = ["hr"]`` and ``[users.bob] groups = ["sales"]`` for one test."""
    from inhouse.config import UserSettings

    users = {"ana": UserSettings(groups=["hr"]), "bob": UserSettings(groups=["sales"])}
    monkeypatch.setattr(tiny.settings.core, "users", users)


def said(chat: list[dict[str, Any]], role: str) -> list[str]:
    """The texts of ``role``'s messages in a Chatbot value (each content is a list of parts)."""
    return ["".join(part.get("text", "") for part in m["content"]) for m in chat if m["role"] == role]


def test_a_personal_upload_is_ingested_for_its_owner_only(as_user: Any, tiny: Any) -> None:
    ana, bob = as_user("ana"), as_user("bob")
    bob.headers["X-Forwarded-User"] = "ana"  # means nothing with passwords
    sent = upload(ana, "mascot.md", MASCOT)
    report, cleared = run_event(ana, "upload", "upload", [[sent], "personal"], "ana-upload")
    assert "mascot.md</span> — added" in report and "your personal collection" in report and cleared is None
    assert (tiny.home / "uploads" / "users" / "ana" / "mascot.md").read_bytes() == MASCOT
    assert not Path(sent["path"]).exists()  # Gradio's cached copy is not kept
    record = tiny.store.document(doc_id(tiny, "mascot.md"))
    assert record.acl == ("user:ana",)
    original = ana.get(f"/files/{record.id}")
    assert original.status_code == 200 and original.content == MASCOT
    assert bob.get(f"/files/{record.id}").status_code == 404


def test_only_shared_writers_add_to_the_shared_collection(as_user: Any, tiny: Any, groups: None) -> None:
    ana, bob = as_user("ana"), as_user("bob")
    refused, _ = run_event(bob, "upload", "upload", [[upload(bob, "bob.md", b"# Bob\n\nBob's note.\n")], "shared"], "bob")
    assert "may not add documents to the shared collection" in refused
    assert not (tiny.home / "uploads" / "shared" / "bob.md").exists()
    note = b"# Bike shed\n\nThe bike shed opens at seven.\n"
    report, _ = run_event(ana, "upload", "upload", [[upload(ana, "bike-shed.md", note)], "shared"], "ana-shared")
    assert "bike-shed.md</span> — added" in report and "the shared collection" in report
    record = tiny.store.document(doc_id(tiny, "bike-shed.md"))
    assert record.acl == ("*",) and bob.get(f"/files/{record.id}").content == note


def test_a_question_runs_as_the_signed_in_user(as_user: Any, echo_model: Any) -> None:
    ana, bob = as_user("ana"), as_user("bob")
    bob.headers["X-Forwarded-User"] = "ana"
    question = "When is Ana's salary review with the manager?"
    [chat, _, _] = run_event(ana, "question", "submit", [question, "auto"], "ana-chat")
    sent = json.dumps(echo_model.requests[-1].body)
    assert "14th of March" in sent  # her personal document reached the model for her
    assert said(chat, "user") == [question] and "cite-chip" in json.dumps(chat[1])
    before = len(echo_model.requests)
    [chat, _, _] = run_event(bob, "question", "submit", [question, "auto"], "bob-chat")
    assert "14th of March" not in json.dumps([r.body for r in echo_model.requests[before:]])  # not for bob
    assert "The documents do not answer this." in json.dumps(chat)
    assert said(chat, "user") == [question]  # only his own turn
    assert "14th of March" not in json.dumps(chat)


def test_gradio_api_needs_a_session(app: Any) -> None:
    with TestClient(app) as nobody:
        assert nobody.get("/config").status_code == 401
        files = [("files", ("x.md", b"# x\n", "text/markdown"))]
        assert nobody.post("/gradio_api/upload", files=files).status_code == 401
        body = {"data": ["hi", "auto"], "fn_index": 0, "session_hash": "s", "event_data": None}
        assert nobody.post("/gradio_api/queue/join", json=body).status_code == 401
