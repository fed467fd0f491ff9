"""Conversations on the page are stored per user (``<home>/conversations.sqlite3``) through the
page's own events over Gradio's HTTP API, on a real assistant (``tiny``): every answer is
stored, a new app on the same home (a restart) lists them and reopens them with their answers
and source buttons, a follow-up in a reopened conversation gets its history with each turn's
residency, the list reopens and deletes, nobody reaches another user's conversations, and the
HTTP API (``/v1``, with the user's API key) reaches the same ones as the page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi.testclient import TestClient

from inhouse.conversations import ConversationStore
from inhouse.keys import KeyStore
from ui_support import USERS, password_users, run_event, sign_in_client

pytestmark = [
    pytest.mark.model,  # MiniLM (once per session, for the tiny corpus)
    pytest.mark.filterwarnings("ignore::Warning:gradio.queueing"),  # its pandas summary after each event
]
PARKING = "Where do visitors park in Rotterdam?"
CANTEEN = "When does the canteen close on Fridays?"
CAFE = "What does the café serve on Wednesdays?"
MINE = {**USERS, "hal": "hal-pw"}  # hal: a user only this module's tests sign in as
LISTED = re.compile(r'data-action="open" data-conversation="([0-9a-f]{32})"')


def build(tiny: Any, settings: dict[str, Any] | None = None) -> Any:
    """A new app for ``tiny`` (a fresh page: what a restart of the server gives, on the same home)."""
    from inhouse_ui.server import build_app

    return build_app(tiny, password_users(MINE) if settings is None else settings)


@pytest.fixture
def clients() -> Iterator[Any]:
    """``clients(app, "ana")``: a TestClient of ``app`` (lifespan running) signed in as ana,
    or (user None) an anonymous visitor."""
    with ExitStack() as stack:

        def client(app: Any, user: str | None) -> TestClient:
            c = stack.enter_context(TestClient(app))
            if user is not None:
                assert sign_in_client(c, user, MINE[user]).status_code == 303
            return c

        yield client


@pytest.fixture
def calls(tiny: Any, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What the page passes to ``Assistant.stream`` during one test."""
    seen: list[dict[str, Any]] = []
    stream = tiny.stream

    def spy(question: str, **kwargs: Any) -> Any:
        seen.append({"question": question, **kwargs})
        return stream(question, **kwargs)

    monkeypatch.setattr(tiny, "stream", spy)
    return seen


def load(client: TestClient, session: str) -> list[Any]:
    """The page's load event, as the frontend runs it (``run/predict``): header, chat, list, …"""
    config = client.get("/config").json()
    [dependency] = [d for d in config["dependencies"] if any(t[1] == "load" for t in d["targets"])]
    body = {"data": [], "fn_index": dependency["id"], "session_hash": session, "event_data": None}
    response = client.post("/gradio_api/run/predict", json=body)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def ask(client: TestClient, question: str, session: str) -> tuple[list[dict[str, Any]], str]:
    """Send ``question``; the chat and the list of conversations after the answer."""
    chat, _, listed = run_event(client, "question", "submit", [question, "auto"], session)
    return chat, listed


def press(client: TestClient, key: str, session: str) -> tuple[list[dict[str, Any]], str]:
    """What the list's buttons send (``open-ID``, ``delete-ID``); the chat and the list after."""
    chat, listed, *_ = run_event(client, "conversation-go", "click", [key], session)
    return chat, listed


def said(chat: list[dict[str, Any]], role: str) -> list[str]:
    """The texts of ``role``'s messages in a Chatbot value."""
    return ["".join(part.get("text", "") for part in m["content"]) for m in chat if m["role"] == role]


def test_answers_survive_a_restart_and_a_reopened_conversation_continues(tiny: Any, clients: Any, calls: list[Any]) -> None:
    store = ConversationStore(tiny.home)
    cleo = clients(build(tiny), "cleo")
    _, listed = ask(cleo, PARKING, "cleo-1")
    [info] = store.list("cleo")
    assert info.title == PARKING and info.turns == 1 and LISTED.findall(listed) == [info.id]
    assert 'aria-current="true"' in listed and "1 question" in listed
    ask(cleo, CANTEEN, "cleo-1")
    assert calls[-1]["history"] == store.history("cleo", info.id)[:2]  # the first turn, stored
    [stored_first, stored_second] = store.turns("cleo", info.id)
    assert stored_second.question == CANTEEN and "three on Fridays" in json.dumps(stored_second.answer.to_dict())

    # A restart: a new app on the same home. The conversation reopens with its answers and sources.
    cleo = clients(build(tiny), "cleo")
    _, chat, listed = load(cleo, "cleo-2")[:3]
    assert said(chat, "user") == [PARKING, CANTEEN] and LISTED.findall(listed) == [info.id]
    assert "level -2" in said(chat, "assistant")[0] and "cite-chip" in said(chat, "assistant")[0]
    assert 'aria-current="true"' in listed and "2 questions" in listed
    cite = re.search(r"cite-(\d+)-1", said(chat, "assistant")[1])
    assert cite is not None
    [panel, close] = run_event(cleo, "cite-open", "click", [cite.group(0)], "cleo-2")
    assert "canteen closes at three on Fridays" in panel and close["visible"] is True

    # A follow-up gets the reopened conversation's history, each turn with its residency.
    ask(cleo, CAFE, "cleo-2")
    history = calls[-1]["history"]
    residency = stored_first.answer.route["history_residency"]
    assert residency == stored_first.answer.route["residency"] == "self-hosted" and history[:2] == [
        {"role": "user", "content": PARKING, "residency": residency},
        {"role": "assistant", "content": stored_first.answer.text, "residency": residency},
    ]
    assert [h["content"] for h in history[::2]] == [PARKING, CANTEEN] and calls[-1]["user"] == "cleo"
    assert [t.question for t in store.turns("cleo", info.id)] == [PARKING, CANTEEN, CAFE]
    assert [c.id for c in store.list("cleo")] == [info.id]


def test_the_list_starts_reopens_and_deletes_conversations(tiny: Any, clients: Any, calls: list[Any]) -> None:
    store = ConversationStore(tiny.home)
    dev = clients(build(tiny), "dev")
    ask(dev, PARKING, "dev")
    chat, listed, panel, close, feedback, note = run_event(dev, "new-chat", "click", [], "dev")
    assert chat == [] and 'aria-current="true"' not in listed and "Choose a numbered source" in panel
    assert close["visible"] is False and feedback["visible"] is False and note == ""
    hostile = "<img src=x onerror=alert(1)> " + CANTEEN
    _, listed = ask(dev, hostile, "dev")
    assert calls[-1]["history"] == []  # a new conversation starts without the old one's history
    [second, first] = store.list("dev")
    assert LISTED.findall(listed) == [second.id, first.id]  # the most recently continued first
    assert "<img" not in listed and "&lt;img src=x onerror=alert(1)&gt;" in listed

    chat, listed = press(dev, f"open-{first.id}", "dev")
    assert said(chat, "user") == [PARKING] and f'data-conversation="{first.id}" aria-current="true"' in listed
    ask(dev, CAFE, "dev")
    assert [h["content"] for h in calls[-1]["history"][::2]] == [PARKING]
    assert [c.id for c in store.list("dev")] == [first.id, second.id]  # continued: first again

    chat, listed = press(dev, f"delete-{second.id}", "dev")  # not the open one: the chat stays
    assert said(chat, "user") == [PARKING, CAFE] and LISTED.findall(listed) == [first.id]
    assert store.get("dev", second.id) is None and store.turns("dev", second.id) == []
    chat, listed = press(dev, f"delete-{first.id}", "dev")  # the open one: a new conversation
    assert chat == [] and store.list("dev") == [] and "Your conversations will be listed here." in listed
    _, chat, _ = load(dev, "dev-again")[:3]
    assert chat == []


def test_nobody_sees_opens_or_deletes_another_users_conversations(tiny: Any, clients: Any) -> None:
    store = ConversationStore(tiny.home)
    app = build(tiny)
    erin, fay = clients(app, "erin"), clients(app, "fay")
    fay.headers["X-Forwarded-User"] = "erin"  # means nothing with passwords
    ask(erin, PARKING, "erin")
    [theirs] = store.list("erin")
    for key in (f"open-{theirs.id}", f"delete-{theirs.id}", f"open-{theirs.id}x", "open-../erin", f" delete-{theirs.id.upper()}"):
        chat, listed = press(fay, key, "fay")
        assert chat == [] and theirs.id not in listed and PARKING not in listed, key
    assert store.get("erin", theirs.id) is not None and store.list("fay") == []
    _, chat, listed = load(clients(build(tiny), "fay"), "fay-2")[:3]  # after a restart too
    assert chat == [] and theirs.id not in listed
    assert run_event(fay, "cite-open", "click", ["cite-1-1"], "fay")[1]["visible"] is False


def test_an_anonymous_visitor_is_a_user_of_their_own(tiny: Any, clients: Any) -> None:
    from inhouse_ui.auth import VISITOR
    from inhouse_ui.sessions import VISITOR_COOKIE

    store = ConversationStore(tiny.home)
    app = build(tiny, {})
    first, second = clients(app, None), clients(app, None)
    ask(first, PARKING, "visitor-1")
    visitor = VISITOR + app.state.auth.visitors.visitor(first.cookies[VISITOR_COOKIE])
    assert [c.title for c in store.list(visitor)] == [PARKING] and store.list(None) == []
    _, chat, listed = load(second, "visitor-2")[:3]
    assert chat == [] and PARKING not in listed  # another browser, another visitor
    again = clients(build(tiny, {}), None)  # a restart: the same browser is the same visitor
    again.cookies.set(VISITOR_COOKIE, first.cookies[VISITOR_COOKIE])
    _, chat, listed = load(again, "visitor-3")[:3]
    assert said(chat, "user") == [PARKING] and PARKING in listed


def test_the_api_reaches_the_same_conversations_as_the_page(tiny: Any, clients: Any) -> None:
    keys = KeyStore(tiny.home)
    hal_key, hal_secret = keys.create("hal")
    fay_key, fay_secret = keys.create("fay")
    try:
        app = build(tiny)
        hal = clients(app, "hal")
        ask(hal, PARKING, "hal")
        api = clients(app, None)
        mine, theirs = {"Authorization": f"Bearer {hal_secret}"}, {"Authorization": f"Bearer {fay_secret}"}
        [listed] = api.get("/v1/conversations", headers=mine).json()["data"]
        assert listed["title"] == PARKING and listed["turns"] == 1
        assert api.get("/v1/conversations", headers=theirs).json()["data"] == []
        assert api.get(f"/v1/conversations/{listed['id']}", headers=theirs).status_code == 404
        body = {"question": CANTEEN, "conversation_id": listed["id"]}
        assert api.post("/v1/ask", json=body, headers=theirs).status_code == 404
        answered = api.post("/v1/ask", json=body, headers=mine)
        assert answered.status_code == 200 and answered.json()["conversation_id"] == listed["id"]

        _, chat, shown = load(hal, "hal")[:3]  # the page shows the turn the API added
        assert said(chat, "user") == [PARKING, CANTEEN] and "2 questions" in shown
        assert "three on Fridays" in said(chat, "assistant")[1] and "cite-chip" in said(chat, "assistant")[1]
        assert api.delete(f"/v1/conversations/{listed['id']}", headers=mine).status_code == 204
        _, chat, shown = load(hal, "hal")[:3]  # deleted through the API: gone from the page
        assert chat == [] and listed["id"] not in shown
    finally:
        keys.revoke(hal_key.id)
        keys.revoke(fay_key.id)


def test_a_reopened_image_answer_says_its_image_is_not_kept() -> None:
    from inhouse.types import Answer, Usage
    from inhouse_ui import render
    from inhouse_ui.conversations import Turn

    made = Answer("", [], False, "stability", usage=Usage(images=1), route={"use_case": "image"}, kind="generated")
    reopened = Turn("A zebra in the atrium", answer=Answer.from_dict(made.to_dict()), stored=1)
    assert "The image is not kept" in render.answer_content(reopened)
    live = Turn("A zebra in the atrium", answer=made, images=["abc"])
    html = render.answer_content(live)
    assert '<img src="images/abc"' in html and "not kept" not in html
