"""Stored conversations: per user, surviving a new store on the same folder, deleted for good."""

from __future__ import annotations

import threading
from pathlib import Path

from inhouse.conversations import ConversationStore
from inhouse.types import Answer, Citation


def answer(text: str, residency: str = "local") -> Answer:
    cite = Citation(1, "leave.md", "Leave", "Employees get 26 days of annual leave.", heading="Annual leave", doc_id="d1")
    return Answer(text, [cite], False, "quote", route={"history_residency": residency, "use_case": "default"}, kind="quoted")


def test_a_conversation_survives_a_new_store_on_the_same_folder(tmp_path: Path) -> None:
    first = ConversationStore(tmp_path)
    info = first.create("ana")
    first.append("ana", info.id, "How many days of   annual leave\ndo I get?", answer("26 days [1]"))
    first.append("ana", info.id, "And sick leave?", answer("Ten days [1]", residency="self-hosted"))

    again = ConversationStore(tmp_path)
    [listed] = again.list("ana")
    assert (listed.id, listed.title, listed.turns) == (info.id, "How many days of annual leave do I get?", 2)
    turns = again.turns("ana", info.id)
    assert [t.question for t in turns] == ["How many days of   annual leave\ndo I get?", "And sick leave?"]
    assert turns[0].answer.citations[0].heading == "Annual leave" and turns[0].answer.kind == "quoted"
    assert again.history("ana", info.id) == [
        {"role": "user", "content": "How many days of   annual leave\ndo I get?", "residency": "local"},
        {"role": "assistant", "content": "26 days [1]", "residency": "local"},
        {"role": "user", "content": "And sick leave?", "residency": "self-hosted"},
        {"role": "assistant", "content": "Ten days [1]", "residency": "self-hosted"},
    ]


def test_nobody_else_lists_reads_continues_or_deletes_a_conversation(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path)
    info = store.create("ana")
    store.append("ana", info.id, "my salary review?", answer("the 14th of March"))
    for other in ("bob", None, "ANA"):
        assert store.list(other) == [] and store.get(other, info.id) is None
        assert store.turns(other, info.id) == [] and store.history(other, info.id) == []
        assert store.delete(other, info.id) is False
    try:
        store.append("bob", info.id, "and mine?", answer("no"))
        raise AssertionError("bob continued ana's conversation")
    except KeyError:
        pass
    assert store.get("ana", info.id) is not None and len(store.turns("ana", info.id)) == 1


def test_deleting_removes_the_turns_too(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path)
    info = store.create(None, "notes")
    store.append(None, info.id, "q", answer("a"))
    assert store.delete(None, info.id) is True
    assert store.get(None, info.id) is None and store.turns(None, info.id) == []
    import sqlite3

    with sqlite3.connect(store.path) as db:
        assert db.execute("SELECT COUNT(*) FROM turns").fetchone()[0] == 0


def test_the_most_recently_continued_conversation_comes_first(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path)
    old = store.create("ana", "old")
    store.create("ana", "new")
    assert [c.title for c in store.list("ana")] == ["new", "old"]
    store.append("ana", old.id, "again", answer("yes"))
    assert [c.title for c in store.list("ana")] == ["old", "new"]
    assert [c.title for c in store.list("ana", limit=1)] == ["old"]


def test_turns_appended_from_many_threads_are_all_kept(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path)
    info = store.create("ana")
    threads = [threading.Thread(target=store.append, args=("ana", info.id, f"q{i}", answer(f"a{i}"))) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(t.question for t in store.turns("ana", info.id)) == sorted(f"q{i}" for i in range(16))


def test_turns_of_unknown_residency_and_image_turns_are_not_history(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path)
    info = store.create("ana")
    unknown = answer("private text")
    unknown.route.pop("history_residency")
    image = answer("an image")
    image.route["use_case"] = "image"
    store.append("ana", info.id, "secret?", unknown)
    store.append("ana", info.id, "draw it", image)
    store.append("ana", info.id, "leave?", answer("26 days"))
    assert [h["content"] for h in store.history("ana", info.id)] == ["leave?", "26 days"]
