"""Documents over the HTTP API (``/v1/documents``, ``/v1/jobs``) on the real app under uvicorn,
called with httpx: an upload is a background job whose progress its owner polls; what it adds
is searchable by its owner only, readable, and deletable from the folder and the index.
Hostile file names stay inside the collection folder; limits and permissions answer 4xx.

- ``ana`` is in ``hr``, a ``[ui] shared_writers`` group; ``bob`` is not; ``[ingest] max_file_mb = 1``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from inhouse.keys import KeyStore
from support import write_config
from ui_support import serving

HANDBOOK = {".inhouse-acl": "public = true\n", "parking.md": "# Parking\n\nVisitors park on level -2 of the Rotterdam garage.\n"}
TRAVEL = b"# Travel\n\nTrain tickets are booked through the travel desk on the third floor.\n"


@dataclass
class Api:
    """The served app: its address, the assistant, its data folder and each user's key."""

    url: str
    assistant: Any
    home: Path
    keys: dict[str, str]

    def client(self, user: str) -> httpx.Client:
        """An httpx client of ``/v1`` with ``user``'s key."""
        return httpx.Client(base_url=self.url + "v1", headers={"Authorization": f"Bearer {self.keys[user]}"}, timeout=120)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The app with uploads, API keys for ana and bob, and ana's group as the shared writers."""
    from inhouse import Assistant
    from inhouse_ui.server import build_app

    folder = tmp_path_factory.mktemp("api-documents")
    corpus = folder / "corpus"
    corpus.mkdir()
    for name, text in HANDBOOK.items():
        (corpus / name).write_text(text, encoding="utf-8")
    extra = '[users.ana]\ngroups = ["hr"]\n\n[users.bob]\ngroups = []\n\n[ingest]\nmax_file_mb = 1\n'
    assistant = Assistant.from_config(write_config(folder, corpus, extra=extra), home=folder / "home")
    assert assistant.ingest().added == 1
    keys = {user: KeyStore(assistant.home).create(user)[1] for user in ("ana", "bob")}
    with serving(build_app(assistant, {"shared_writers": ["hr"]})) as url:
        yield Api(url, assistant, Path(assistant.home), keys)
    assistant.close()


def upload(client: httpx.Client, files: list[tuple[str, bytes]], collection: str | None = None) -> httpx.Response:
    """``POST /documents`` of these (name, bytes) files."""
    data = {"collection": collection} if collection else None
    return client.post("/documents", files=[("files", (name, content)) for name, content in files], data=data)


def finished(client: httpx.Client, job_id: str) -> tuple[dict[str, Any], set[str]]:
    """Poll the job until it is done or failed; its last state and every status seen."""
    seen: set[str] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        response = client.get(f"/jobs/{job_id}")
        assert response.status_code == 200, response.text
        state = response.json()
        seen.add(state["status"])
        if state["status"] in ("done", "failed"):
            return state, seen
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish: {state}")


def added(client: httpx.Client, files: list[tuple[str, bytes]], collection: str | None = None) -> dict[str, Any]:
    """Upload and wait: the finished job."""
    response = upload(client, files, collection)
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "queued"
    return finished(client, response.json()["job_id"])[0]


def doc_ids(client: httpx.Client, query: str) -> dict[str, str]:
    """Source -> document id of what ``query`` finds for the client's user."""
    response = client.post("/search", json={"query": query, "k": 10})
    assert response.status_code == 200, response.text
    return {hit["source"]: hit["doc_id"] for hit in response.json()["hits"]}


def test_an_upload_is_ingested_read_and_deleted_by_its_owner(api: Api) -> None:
    with api.client("ana") as ana, api.client("bob") as bob:
        response = upload(ana, [("travel notes.md", TRAVEL)])
        assert response.status_code == 202, response.text
        job_id = response.json()["job_id"]
        state, seen = finished(ana, job_id)
        assert state["status"] == "done" and state["error"] is None, state
        assert state["results"] == [{"name": "travel notes.md", "status": "added", "reason": ""}]
        assert seen <= {"queued", "running", "done"}
        assert bob.get(f"/jobs/{job_id}").status_code == 404  # someone else's job

        doc_id = doc_ids(ana, "where are train tickets booked")["travel notes.md"]
        assert "travel notes.md" not in doc_ids(bob, "where are train tickets booked")
        info = ana.get(f"/documents/{doc_id}")
        assert info.status_code == 200, info.text
        assert info.json() | {"modified": 0} == {
            "id": doc_id,
            "source": "travel notes.md",
            "title": "Travel",
            "collection": "personal",
            "modified": 0,
            "sensitivity": "internal",
            "media_type": "text/markdown; charset=utf-8",
        }
        content = ana.get(f"/documents/{doc_id}/content")
        assert content.content == TRAVEL and content.headers["x-content-type-options"] == "nosniff"
        for method, path in (
            ("GET", f"/documents/{doc_id}"),
            ("GET", f"/documents/{doc_id}/content"),
            ("DELETE", f"/documents/{doc_id}"),
        ):
            assert bob.request(method, path).status_code == 404, (method, path)

        stored = api.home / "uploads" / "users" / "ana" / "travel notes.md"
        assert stored.read_bytes() == TRAVEL
        assert ana.delete(f"/documents/{doc_id}").status_code == 204
        assert not stored.exists()
        assert "travel notes.md" not in doc_ids(ana, "where are train tickets booked")
        assert api.assistant.store.document(doc_id) is None
        assert ana.get(f"/documents/{doc_id}").status_code == 404
        assert ana.delete(f"/documents/{doc_id}").status_code == 404


def test_a_replacement_updates_the_document(api: Api) -> None:
    with api.client("bob") as bob:
        assert added(bob, [("menu.md", b"# Menu\n\nSoup is served on Mondays.\n")])["results"][0]["status"] == "added"
        state = added(bob, [("menu.md", b"# Menu\n\nSoup is served on Tuesdays.\n")])
        assert state["results"] == [{"name": "menu.md", "status": "updated", "reason": ""}]
        doc_id = doc_ids(bob, "which day is soup served")["menu.md"]
        assert b"Tuesdays" in bob.get(f"/documents/{doc_id}/content").content


def test_hostile_file_names_stay_in_the_collection_folder(api: Api) -> None:
    names = ["../../escape.md", "..\\..\\windows.md", "/etc/passwd.md", ".hidden.md", "~$lock.md", "..", "é" * 300 + ".md"]
    text = b"# Hostile\n\nThe hostile upload test file mentions the word zanzibar.\n"
    with api.client("bob") as bob:
        state = added(bob, [(name, text) for name in names])
    folder = api.home / "uploads" / "users" / "bob"
    results = {r["name"]: r["status"] for r in state["results"]}
    assert state["status"] == "done" and results.pop("upload") == "skipped", state  # "..": a name without a type
    assert set(results.values()) == {"added"}, state
    assert {"escape.md", "windows.md", "passwd.md", "hidden.md", "lock.md"} <= set(results)
    long_name = next(name for name in results if name.startswith("é"))
    assert long_name.endswith(".md") and len(long_name.encode()) <= 200
    written = [p for p in api.home.parent.rglob("*") if p.is_file() and p.read_bytes() == text]
    assert sorted(written) == sorted(folder / name for name in results)  # nothing anywhere else


def test_hostile_ids_are_404(api: Api) -> None:
    with api.client("ana") as ana:
        for doc_id in ("..%2F..%2Fetc%2Fpasswd", "x" * 500, "%00", "' OR 1=1 --"):
            assert ana.get(f"/documents/{doc_id}").status_code == 404, doc_id
            assert ana.get(f"/documents/{doc_id}/content").status_code == 404, doc_id
            assert ana.delete(f"/documents/{doc_id}").status_code == 404, doc_id
        assert ana.get("/jobs/..%2F..%2Fetc").status_code == 404


def test_a_corrupt_file_fails_alone_with_its_reason(api: Api) -> None:
    files = [
        ("broken.pdf", b"%PDF-1.7\nthis is not a PDF at all\n"),
        ("holidays.md", b"# Holidays\n\nThe office shuts on Kingsday.\n"),
    ]
    with api.client("ana") as ana:
        state = added(ana, files)
        results = {r["name"]: r for r in state["results"]}
        assert state["status"] == "done" and results["holidays.md"]["status"] == "added", state
        assert results["broken.pdf"]["status"] == "failed" and results["broken.pdf"]["reason"], state
        assert str(api.home) not in results["broken.pdf"]["reason"]
        assert not (api.home / "uploads" / "users" / "ana" / "broken.pdf").exists()
        assert "holidays.md" in doc_ids(ana, "when does the office shut")


def test_shared_uploads_are_for_shared_writers_and_read_by_everyone(api: Api) -> None:
    with api.client("ana") as ana, api.client("bob") as bob:
        refused = upload(bob, [("memo.md", b"# Memo\n\nA memo.\n")], "shared")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_a_writer"
        state = added(ana, [("bikes.md", b"# Bikes\n\nBikes are parked in the courtyard shed.\n")], "shared")
        assert state["results"][0]["status"] == "added"
        doc_id = doc_ids(bob, "where are bikes parked")["bikes.md"]
        assert bob.get(f"/documents/{doc_id}").json()["collection"] == "shared"
        denied = bob.delete(f"/documents/{doc_id}")
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "not_deletable"
        assert ana.delete(f"/documents/{doc_id}").status_code == 204
        assert "bikes.md" not in doc_ids(bob, "where are bikes parked")


def test_a_configured_source_is_readable_but_not_deletable(api: Api) -> None:
    with api.client("bob") as bob:
        doc_id = doc_ids(bob, "where do visitors park")["parking.md"]
        info = bob.get(f"/documents/{doc_id}").json()
        assert info["collection"] is None and info["source"] == "parking.md" and "root" not in info
        assert bob.delete(f"/documents/{doc_id}").status_code == 403
        assert api.assistant.store.document(doc_id) is not None


def test_someone_elses_personal_document_is_404(api: Api) -> None:
    with api.client("ana") as ana, api.client("bob") as bob:
        added(bob, [("diary.md", b"# Diary\n\nBob waters the office ficus on Thursdays.\n")])
        doc_id = doc_ids(bob, "who waters the ficus")["diary.md"]
        assert "diary.md" not in doc_ids(ana, "who waters the ficus")
        for method, path in (
            ("GET", f"/documents/{doc_id}"),
            ("GET", f"/documents/{doc_id}/content"),
            ("DELETE", f"/documents/{doc_id}"),
        ):
            response = ana.request(method, path)
            assert response.status_code == 404 and response.json()["error"]["code"] == "document_not_found", (
                method,
                response.text,
            )
        assert bob.get(f"/documents/{doc_id}").status_code == 200


@pytest.mark.parametrize(
    ("request_args", "status", "code"),
    [
        ({"files": [("files", ("big.md", b"a" * (1024 * 1024 + 1)))]}, 413, "file_too_large"),
        ({"files": [("files", ("huge.md", b"a" * (3 * 1024 * 1024)))]}, 413, "body_too_large"),
        ({"json": {"files": ["a.md"]}}, 415, "not_multipart"),
        ({"files": [("files", ("a.md", b"# A\n"))], "data": {"collection": "everyone"}}, 422, "invalid_value"),
        ({"files": [("other", ("a.md", b"# A\n"))]}, 422, None),
        ({"files": [("files", ("a.md", b"# A\n"))], "data": {"files": "not a file"}}, 422, "invalid_value"),
    ],
)
def test_uploads_over_the_limits_or_malformed_are_refused(
    api: Api, request_args: dict[str, Any], status: int, code: str | None
) -> None:
    staging = api.home / "uploads" / "staging"
    before = sorted(staging.glob("*"))
    with api.client("bob") as bob:
        response = bob.post("/documents", **request_args)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code and response.json()["error"]["message"]
    assert sorted(staging.glob("*")) == before  # nothing was staged


def test_a_malformed_multipart_body_is_400(api: Api) -> None:
    with api.client("bob") as bob:
        response = bob.post(
            "/documents",
            content=b"--xyz\r\nContent-Disposition: form-data\r\n\r\nno end",
            headers={"Content-Type": "multipart/form-data"},
        )
    assert response.status_code == 400, response.text


def test_uploads_can_be_turned_off(api: Api) -> None:
    from inhouse_ui.server import build_app

    with serving(build_app(api.assistant, {"uploads": False})) as url:
        response = httpx.post(
            url + "v1/documents", files=[("files", ("a.md", b"# A\n"))], headers={"Authorization": f"Bearer {api.keys['ana']}"}
        )
    assert response.status_code == 403 and response.json()["error"]["code"] == "off", response.text


def test_the_local_user_adds_to_a_personal_collection_of_its_own_and_may_share(tmp_path: Path) -> None:
    from inhouse import Assistant
    from inhouse_ui.server import build_app

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "parking.md").write_text(HANDBOOK["parking.md"], encoding="utf-8")
    assistant = Assistant.from_config(write_config(tmp_path, corpus), home=tmp_path / "home")
    with assistant, serving(build_app(assistant, {})) as url, httpx.Client(base_url=url + "v1", timeout=120) as local:
        personal = added(local, [("travel.md", TRAVEL)])
        shared = added(local, [("bikes.md", b"# Bikes\n\nBikes are parked in the courtyard shed.\n")], "shared")
        assert personal["results"][0]["status"] == shared["results"][0]["status"] == "added"
        doc_id = doc_ids(local, "where are train tickets booked")["travel.md"]
        assert local.get(f"/documents/{doc_id}").json()["collection"] == "personal"
        assert local.delete(f"/documents/{doc_id}").status_code == 204
    assert (tmp_path / "home" / "uploads" / "shared" / "bikes.md").is_file()
    assert not (tmp_path / "home" / "uploads" / "users" / "local" / "travel.md").exists()
