"""``/files``, ``/images`` and ``/health`` through FastAPI's TestClient on a real assistant
(``tiny``), signed in with the app's own session cookie; and what importing the UI leaves alone.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from inhouse.errors import AccessDenied
from inhouse.plugins import DocumentRecord
from ui_support import USERS, doc_id, password_users, sign_in_client

pytestmark = pytest.mark.model  # MiniLM (once per session, for the tiny corpus)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture(scope="module")
def app(tiny: Any) -> Any:
    """The page with passwords for ``USERS``."""
    from inhouse_ui.server import build_app

    return build_app(tiny, password_users())


@pytest.fixture
def as_user(app: Any) -> Any:
    """``as_user("ana")``: a TestClient signed in as ana."""

    def client(user: str) -> TestClient:
        c = TestClient(app)
        assert sign_in_client(c, user, USERS[user]).status_code == 303
        return c

    return client


def test_a_readable_original_is_served_inline_with_its_type(as_user: Any, tiny: Any) -> None:
    response = as_user("bob").get(f"/files/{doc_id(tiny, 'parking.md')}")
    assert response.status_code == 200
    assert response.content == (Path(tiny.store.document(doc_id(tiny, "parking.md")).root) / "parking.md").read_bytes()
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    assert response.headers["content-disposition"] == 'inline; filename="parking.md"'
    assert response.headers["x-content-type-options"] == "nosniff"
    assert not response.headers["content-security-policy"].startswith("sandbox")  # the page's policy, no sandbox


def test_a_name_that_is_not_plain_ascii_is_encoded(as_user: Any, tiny: Any) -> None:
    response = as_user("bob").get(f"/files/{doc_id(tiny, 'café menu.md')}")
    assert response.status_code == 200 and response.text.startswith("# Café menu")
    assert response.headers["content-disposition"] == "inline; filename*=utf-8''caf%C3%A9%20menu.md"


def test_html_is_served_in_a_csp_sandbox(as_user: Any, tiny: Any) -> None:
    response = as_user("bob").get(f"/files/{doc_id(tiny, 'notice.html')}")
    assert response.status_code == 200 and "<script>" in response.text  # the original, as it is ...
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    policy = response.headers["content-security-policy"]
    assert policy.startswith("sandbox;") and "default-src 'none'" in policy  # ... but it cannot run
    assert response.headers["x-content-type-options"] == "nosniff"


def test_someone_elses_document_is_a_404_like_an_unknown_id(as_user: Any, tiny: Any) -> None:
    private = f"/files/{doc_id(tiny, 'salary-ana.md')}"
    ana, bob = as_user("ana"), as_user("bob")
    assert ana.get(private).status_code == 200 and "14th of March" in ana.get(private).text
    theirs, unknown = bob.get(private), bob.get("/files/0123456789abcdef0123")
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.content == unknown.content and "March" not in theirs.text  # nothing tells them apart
    assert TestClient(ana.app).get(private).status_code == 401  # and nobody signed in gets a 401


@pytest.mark.parametrize(
    "path",
    [
        "/files/..%2F..%2Fetc%2Fpasswd",
        "/files/%2Fetc%2Fpasswd",
        "/files/%2E%2E",
        "/files/parking.md",
        "/files/" + "a" * 129,
        "/files/a%00b",
        "/files/%E2%80%AE",
        "/files/..%5C..%5Cetc%5Cpasswd",
    ],
)
def test_ids_that_look_like_paths_are_404(as_user: Any, path: str) -> None:
    response = as_user("ana").get(path)
    assert response.status_code == 404, (path, response.status_code)
    assert "root:" not in response.text


def test_a_record_pointing_out_of_its_root_is_404(
    as_user: Any, tiny: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("# Secret\n\nnot for the page\n", encoding="utf-8")
    root = tmp_path / "root"
    root.mkdir()
    (root / "link.md").symlink_to(secret)
    public = tiny.store.document(doc_id(tiny, "parking.md"))
    forged = {
        "dotdot": replace(public, id="dotdot", root=str(root), source="../secret.md"),
        "absolute": replace(public, id="absolute", root=str(root), source=str(secret)),
        "symlink": replace(public, id="symlink", root=str(root), source="link.md"),
        "relative": replace(public, id="relative", root="docs", source="secret.md"),
    }
    document = tiny.store.document
    monkeypatch.setattr(tiny.store, "document", lambda i: forged.get(i) or document(i))
    ana = as_user("ana")
    for forged_id in forged:
        response = ana.get(f"/files/{forged_id}")
        assert response.status_code == 404, forged_id
        assert "not for the page" not in response.text


def test_images_are_served_to_their_owner_only(app: Any, as_user: Any) -> None:
    image_id = app.state.page.images.add(PNG, "image/png", "ana")
    ana = as_user("ana")
    inline = ana.get(f"/images/{image_id}")
    assert inline.status_code == 200 and inline.content == PNG and inline.headers["content-type"] == "image/png"
    assert inline.headers["content-disposition"].startswith("inline;")
    assert inline.headers["x-content-type-options"] == "nosniff"
    download = ana.get(f"/images/{image_id}?download=1")
    assert download.headers["content-disposition"] == f'attachment; filename="inhouse-{image_id[:8]}.png"'
    assert as_user("bob").get(f"/images/{image_id}").status_code == 404
    assert ana.get("/images/no-such-image").status_code == 404
    assert ana.get("/images/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert TestClient(app).get(f"/images/{image_id}").status_code == 401


def test_health_needs_no_sign_in(app: Any) -> None:
    response = TestClient(app).get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok", "warm": False}


def test_every_page_response_sends_a_content_security_policy(app: Any, as_user: Any) -> None:
    """Finding 5: the page had no policy, so an image an answer named was fetched from anywhere."""
    ana = as_user("ana")
    for response in (ana.get("/"), ana.get("/config"), TestClient(app).get("/login")):
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy, policy
    policy = ana.get("/").headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["img-src"] == "'self' data: blob:" and directives["connect-src"] == "'self'"
    assert directives["default-src"] == "'self'" and directives["object-src"] == "'none'"


def test_gradio_assets_are_cached_for_a_year(tiny: Any) -> None:
    from inhouse_ui.server import build_app

    client = TestClient(build_app(tiny, None))
    name = re.search(r"assets/([\w.-]+-[\w-]{8,}\.js)", client.get("/").text).group(1)
    cached = client.get(f"/assets/{name}")
    assert cached.status_code == 200 and "immutable" in cached.headers["cache-control"]


def _router_app(name: str, data: bytes = b"<x/>") -> TestClient:
    """An app with only the files routes, serving one document called ``name`` to ``reader``
    (named by a trusted header, from a loopback client)."""
    from inhouse_ui import files
    from inhouse_ui.auth import Auth
    from inhouse_ui.settings import UISettings

    record = DocumentRecord("doc1", f"folder/{name}", "/nowhere", "t", "h", 0.0)

    def open_document(document: str, user: str) -> tuple[DocumentRecord, bytes]:
        """``Assistant.open_document``'s contract: one document, readable by ``reader``."""
        if document != "doc1" or user != "reader":
            raise AccessDenied("no such document")
        return record, data

    app = FastAPI()
    auth = Auth(UISettings(trusted_header="X-User"), Path("/nowhere"))
    app.include_router(files.router(open_document, auth, files.Images()))
    return TestClient(app, client=("127.0.0.1", 50000), headers={"X-User": "reader"})


@pytest.mark.parametrize(
    ("name", "mime", "sandboxed"),
    [
        ("logo.svg", "image/svg+xml", True),
        ("feed.xml", "application/xml", True),
        ("page.xhtml", "application/xhtml+xml", True),
        ("page.HTM", "text/html; charset=utf-8", True),
        ("guide.pdf", "application/pdf", False),
        ("notes.txt", "text/plain; charset=utf-8", False),
        ("archive.unknownext", "application/octet-stream", False),
    ],
)
def test_the_type_comes_from_the_file_name_and_active_types_are_sandboxed(name: str, mime: str, sandboxed: bool) -> None:
    response = _router_app(name).get("/files/doc1")
    assert response.status_code == 200 and response.headers["content-type"] == mime
    assert response.headers.get("content-security-policy", "").startswith("sandbox;") == sandboxed
    assert response.headers["x-content-type-options"] == "nosniff"


def test_a_hostile_file_name_cannot_break_the_disposition_header() -> None:
    response = _router_app('a"b\r\nSet-Cookie: x=1;.txt').get("/files/doc1")
    assert response.status_code == 200 and "set-cookie" not in response.headers
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("inline; filename*=utf-8''") and '"' not in disposition and "\r" not in disposition


def test_importing_the_ui_changes_no_process_settings(app: Any) -> None:
    code = "import os, inhouse_ui.server, inhouse_ui.page\nprint(sorted(k for k in os.environ if k.startswith('GRADIO_')))"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRADIO_")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, check=True)
    assert out.stdout.strip() == "[]"
    assert app.state.page.build().analytics_enabled is False  # Gradio is told through its parameter


def test_the_audit_log_is_shown_to_admins_only_escaped_and_verified(tiny: Any, tmp_path: Path) -> None:
    """``/admin/audit``: members of an ``[ui] admins`` group see the records and whether the
    chain verifies (an edited record shows as broken); anyone else gets a plain 404."""
    import json

    from inhouse import Assistant
    from inhouse_ui.server import build_app

    users = '\n[users.ana]\ngroups = ["auditors"]\n[users.bob]\ngroups = ["staff"]\n'
    (tmp_path / "plugins.toml").write_text(Path(tiny.settings.source).read_text(encoding="utf-8") + users, encoding="utf-8")
    with Assistant.from_config(tmp_path / "plugins.toml", home=tmp_path / "home") as assistant:
        assistant.ingest()
        assistant.ask("Where do I park my bike?", user="<b>bob</b>")
        app = build_app(assistant, {**password_users(), "admins": ["auditors"]})
        ana, bob = TestClient(app), TestClient(app)
        assert sign_in_client(ana, "ana", USERS["ana"]).status_code == 303
        assert sign_in_client(bob, "bob", USERS["bob"]).status_code == 303
        shown = ana.get("/admin/audit")
        assert shown.status_code == 200 and "The chain verifies" in shown.text
        assert "&lt;b&gt;bob&lt;/b&gt;" in shown.text and "<b>bob</b>" not in shown.text
        assert "Where do I park" not in shown.text  # only the question's hash is kept
        assert bob.get("/admin/audit").status_code == 404
        assert TestClient(app).get("/admin/audit").status_code == 401
        log = tmp_path / "home" / "audit.jsonl"
        lines = log.read_text(encoding="utf-8").splitlines()
        edited = {**json.loads(lines[0]), "user": "someone else"}
        log.write_text("\n".join([json.dumps(edited), *lines[1:]]) + "\n", encoding="utf-8")
        assert "The chain is broken" in ana.get("/admin/audit").text
