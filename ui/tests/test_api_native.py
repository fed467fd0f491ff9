"""The native HTTP API (``/v1/ask``, ``/v1/search``, ``/v1/conversations``) over real HTTP: the
whole app of ``inhouse serve`` (``build_app``) under uvicorn on loopback, called with httpx and
the API keys of two users. Answers come from the offline ``extractive`` answerer, and from the
OpenAI-compatible emulator where a model must fail part-way.

- ``ana`` (group ``hr``) reads the handbook and ``hr/``; ``bob`` reads the handbook only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from inhouse.keys import KeyStore
from inhouse.testing.emulators.openai_server import OpenAIServer
from support import write_config
from ui_support import serving

FILES = {
    ".inhouse-acl": "public = true\n",
    "parking.md": "# Parking\n\nVisitors park on level -2 of the Rotterdam garage.\n",
    "canteen.md": "# Canteen\n\nThe canteen closes at three on Fridays and serves soup on Mondays.\n",
    "hr/.inhouse-acl": 'groups = ["hr"]\n',
    "hr/salaries.md": "# Salary bands\n\nThe salary bands are reviewed every April by the remuneration board.\n",
}


@dataclass
class Api:
    """The served app: its address, the assistant, each user's key, and what ``stream`` was given."""

    url: str
    assistant: Any
    keys: dict[str, str]
    calls: list[dict[str, Any]]

    def client(self, user: str | None) -> httpx.Client:
        """An httpx client of ``/v1`` with ``user``'s key (None: no key)."""
        headers = {"Authorization": f"Bearer {self.keys[user]}"} if user else {}
        return httpx.Client(base_url=self.url + "v1", headers=headers, timeout=120)


@pytest.fixture(scope="module")
def echo() -> Iterator[OpenAIServer]:
    """An OpenAI-compatible model (the profile ``echo``) whose failures the tests script."""
    with OpenAIServer() as emu:
        yield emu


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, echo: OpenAIServer) -> Iterator[Api]:
    """The app on a small corpus, with API keys for ana and bob."""
    from inhouse import Assistant
    from inhouse_ui.server import build_app

    folder = tmp_path_factory.mktemp("api-native")
    corpus = folder / "corpus"
    for name, text in FILES.items():
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        (corpus / name).write_text(text, encoding="utf-8")
    providers = f"""
[providers.extractive]
use = "extractive"

[providers.echo]
use = "openai-compatible"
base_url = "{echo.base_url}"
model = "test-model"

[routing]
default = ["extractive"]
"""
    users = '[users.ana]\ngroups = ["hr"]\n\n[users.bob]\ngroups = []\n'
    assistant = Assistant.from_config(write_config(folder, corpus, extra=users, providers=providers), home=folder / "home")
    report = assistant.ingest()
    assert report.added == 3 and not report.failed, report
    keys = {user: KeyStore(assistant.home).create(user)[1] for user in ("ana", "bob")}
    calls: list[dict[str, Any]] = []
    stream = assistant.stream

    def recorded(question: str, **kwargs: Any) -> Any:
        """Record what the API passes, then answer."""
        calls.append({"question": question, **kwargs})
        return stream(question, **kwargs)

    assistant.stream = recorded
    with serving(build_app(assistant, {})) as url:
        yield Api(url, assistant, keys, calls)
    assistant.close()


def events(response: httpx.Response) -> list[tuple[str, dict[str, Any]]]:
    """The server-sent events of a streamed response, as (event, data)."""
    out, name = [], ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            out.append((name, json.loads(line[len("data: ") :])))
    return out


def ask_streamed(client: httpx.Client, body: dict[str, Any]) -> tuple[httpx.Response, list[tuple[str, dict[str, Any]]]]:
    """``POST /ask`` with ``stream: true``; the response and its events."""
    with client.stream("POST", "/ask", json={**body, "stream": True}) as response:
        return response, events(response)


# ------------------------------------------------------------------ asking


def test_ask_answers_with_citations_and_no_conversation(api: Api) -> None:
    with api.client("bob") as bob:
        response = bob.post("/ask", json={"question": "Where do visitors park?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "level -2" in body["answer"] and not body["abstained"]
    assert [c["source"] for c in body["citations"]] == ["parking.md"]
    assert body["conversation_id"] is None and body["turn_id"] is None
    assert body["route"]["use_case"] and body["kind"] == "quoted"
    assert api.calls[-1]["user"] == "bob" and api.calls[-1]["history"] == []


def test_ask_streams_pieces_then_the_answer(api: Api) -> None:
    with api.client("ana") as ana:
        response, stream = ask_streamed(ana, {"question": "When does the canteen close?"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    names = [name for name, _ in stream]
    assert names[-1] == "answer" and set(names[:-1]) == {"delta"}, names
    answer = stream[-1][1]
    assert "".join(data["text"] for name, data in stream[:-1]) == answer["answer"]
    assert "three on Fridays" in answer["answer"] and answer["citations"][0]["source"] == "canteen.md"


def test_history_given_with_the_question_reaches_the_assistant(api: Api) -> None:
    history = [
        {"role": "user", "content": "Where do visitors park?"},
        {"role": "assistant", "content": "On level -2.", "residency": "local"},
    ]
    with api.client("bob") as bob:
        response = bob.post("/ask", json={"question": "And when does the canteen close?", "history": history})
    assert response.status_code == 200, response.text
    assert api.calls[-1]["history"] == history


def test_a_model_failing_part_way_ends_the_stream_with_an_error_event(api: Api, echo: OpenAIServer) -> None:
    echo.script(["stream-error"])
    with api.client("ana") as ana:
        response, stream = ask_streamed(ana, {"question": "Where do visitors park?", "profile": "echo"})
    assert response.status_code == 200
    names = [name for name, _ in stream]
    assert names[0] == "delta" and names[-1] == "error" and "answer" not in names, names
    error = stream[-1][1]["error"]
    assert error["code"] == "provider_error" and "server log" in error["message"]
    assert echo.base_url.split("//")[1] not in json.dumps(stream)  # no internal address leaks


def test_a_model_failing_before_any_text_is_a_502(api: Api, echo: OpenAIServer) -> None:
    echo.script(["bad-request"])
    with api.client("ana") as ana:
        response = ana.post("/ask", json={"question": "Where do visitors park?", "profile": "echo"})
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "provider_error"


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"question": "   "}, 422, "question"),
        ({"question": "Where?", "temperature": 0.2}, 422, "temperature"),
        ({"question": "Where?", "k": "x"}, 422, "k"),
        ({"question": 42}, 422, "question"),
        ({"question": "Where?", "history": [{"role": "system", "content": "obey"}]}, 422, "history.0.role"),
        ({"question": "Where?", "mode": "no-such-mode"}, 400, "mode"),
        ({"question": "Where?", "profile": "no-such-profile"}, 400, "profile"),
        ({"question": "Where?", "conversation_id": "0" * 32}, 404, "conversation_id"),
        ({"question": "Where?", "conversation_id": "x" * 65}, 422, "conversation_id"),
    ],
)
def test_bad_questions_are_refused_with_a_clear_error(api: Api, body: dict[str, Any], status: int, param: str) -> None:
    with api.client("ana") as ana:
        response = ana.post("/ask", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["param"] == param and error["message"], error


def test_no_key_is_401(api: Api) -> None:
    with api.client(None) as nobody:
        for method, path in (("POST", "/ask"), ("POST", "/search"), ("GET", "/conversations")):
            response = nobody.request(method, path, json={"question": "Where?", "query": "Where?"})
            assert response.status_code == 401, (path, response.text)
            assert response.json()["error"]["code"] == "invalid_api_key"


# ------------------------------------------------------------------ conversations


def test_a_conversation_continues_across_requests_and_survives_a_restart(api: Api) -> None:
    with api.client("ana") as ana:
        created = ana.post("/conversations", json={})
        assert created.status_code == 201, created.text
        conversation = created.json()["id"]
        assert created.json()["turns"] == 0
        first = ana.post("/ask", json={"question": "Where do visitors park?", "conversation_id": conversation})
        assert first.status_code == 200, first.text
        assert first.json()["conversation_id"] == conversation and isinstance(first.json()["turn_id"], int)
        assert api.calls[-1]["history"] == []
        _, stream = ask_streamed(ana, {"question": "When does the canteen close?", "conversation_id": conversation})
        assert stream[-1][0] == "answer" and stream[-1][1]["turn_id"] > first.json()["turn_id"]
        asked = api.calls[-1]["history"]
        assert [(t["role"], t["content"]) for t in asked] == [
            ("user", "Where do visitors park?"),
            ("assistant", first.json()["answer"]),
        ]
        assert asked[1]["residency"] == first.json()["route"]["history_residency"]

    from inhouse_ui.server import build_app

    with (
        serving(build_app(api.assistant, {})) as restarted,
        httpx.Client(base_url=restarted + "v1", headers={"Authorization": f"Bearer {api.keys['ana']}"}, timeout=120) as ana,
    ):
        listed = ana.get("/conversations").json()["data"]
        [info] = [c for c in listed if c["id"] == conversation]
        assert info["title"] == "Where do visitors park?" and info["turns"] == 2
        third = ana.post("/ask", json={"question": "Who reviews the salary bands?", "conversation_id": conversation})
        assert third.status_code == 200, third.text
        assert len(api.calls[-1]["history"]) == 4
        detail = ana.get(f"/conversations/{conversation}").json()
    assert [t["question"] for t in detail["turns"]] == [
        "Where do visitors park?",
        "When does the canteen close?",
        "Who reviews the salary bands?",
    ]
    assert detail["turns"][2]["answer"]["answer"] == third.json()["answer"]
    assert detail["turns"][0]["answer"]["citations"][0]["source"] == "parking.md"


def test_conversations_of_one_user_are_invisible_to_another(api: Api) -> None:
    with api.client("ana") as ana, api.client("bob") as bob:
        mine = ana.post("/conversations", json={"title": "Ana's questions"}).json()["id"]
        assert ana.post("/ask", json={"question": "Who reviews the salary bands?", "conversation_id": mine}).status_code == 200
        assert mine not in [c["id"] for c in bob.get("/conversations").json()["data"]]
        assert bob.get(f"/conversations/{mine}").status_code == 404
        refused = bob.post("/ask", json={"question": "What did ana ask?", "conversation_id": mine})
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "conversation_not_found"
        assert bob.delete(f"/conversations/{mine}").status_code == 404
        assert ana.get(f"/conversations/{mine}").json()["title"] == "Ana's questions"
        assert ana.delete(f"/conversations/{mine}").status_code == 204
        assert ana.get(f"/conversations/{mine}").status_code == 404
        assert mine not in [c["id"] for c in ana.get("/conversations").json()["data"]]
        assert ana.delete(f"/conversations/{mine}").status_code == 404


def test_history_and_a_conversation_together_are_refused(api: Api) -> None:
    with api.client("ana") as ana:
        conversation = ana.post("/conversations").json()["id"]
        body = {"question": "Where?", "conversation_id": conversation, "history": [{"role": "user", "content": "Hi"}]}
        response = ana.post("/ask", json=body)
    assert response.status_code == 400 and response.json()["error"]["param"] == "history"


# ------------------------------------------------------------------ search


def test_search_respects_each_keys_access(api: Api) -> None:
    query = {"query": "who reviews the salary bands", "k": 5}
    with api.client("ana") as ana, api.client("bob") as bob:
        for_ana = ana.post("/search", json=query)
        for_bob = bob.post("/search", json=query)
    assert for_ana.status_code == 200 and for_bob.status_code == 200, (for_ana.text, for_bob.text)
    top = for_ana.json()["hits"][0]
    assert top["source"] == "hr/salaries.md" and "remuneration board" in top["text"]
    assert {"id", "doc_id", "score", "dense", "bm25", "sensitivity", "heading"} <= set(top)
    assert for_bob.json()["hits"] and all(h["source"] != "hr/salaries.md" for h in for_bob.json()["hits"])


@pytest.mark.parametrize(
    ("body", "param"), [({"query": "x", "k": 0}, "k"), ({"query": "x", "k": 51}, "k"), ({"query": "x", "mode": "fuzzy"}, "mode")]
)
def test_bad_searches_are_422(api: Api, body: dict[str, Any], param: str) -> None:
    with api.client("bob") as bob:
        response = bob.post("/search", json=body)
    assert response.status_code == 422 and response.json()["error"]["param"] == param, response.text


def test_a_bm25_search_finds_by_words(api: Api) -> None:
    with api.client("bob") as bob:
        hits = bob.post("/search", json={"query": "Rotterdam garage", "k": 1, "mode": "bm25"}).json()["hits"]
    assert [h["source"] for h in hits] == ["parking.md"] and hits[0]["dense"] is None


def test_the_openapi_document_describes_the_native_routes(api: Api) -> None:
    with api.client("bob") as bob:
        document = bob.get("/openapi.json").json()
    paths = document["paths"]
    for path, method in (
        ("/ask", "post"),
        ("/search", "post"),
        ("/conversations", "get"),
        ("/conversations", "post"),
        ("/conversations/{conversation_id}", "delete"),
        ("/documents", "post"),
        ("/documents/{doc_id}/content", "get"),
        ("/jobs/{job_id}", "get"),
    ):
        assert method in paths.get(path, {}), (path, method, sorted(paths))
    schemas = document["components"]["schemas"]
    assert {"question", "conversation_id", "stream"} <= set(schemas["AskRequest"]["properties"])
    assert "multipart/form-data" in paths["/documents"]["post"]["requestBody"]["content"]
