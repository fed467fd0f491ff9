"""The SDK: ``inhouse.Assistant`` (in process) and ``inhouse.Client`` (over the HTTP API of a
real server, uvicorn on 127.0.0.1) answer alike, with the same types; their async variants;
conversations stored in the data folder that both reach; and the Client's errors.

One assistant serves both: the server is ``inhouse_ui.server.build_app`` on it, so the same
question must give the same answer and the same hits through either door. Requests carry an
API key of user ``ana``; the in-process calls name ``user="ana"``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from inhouse import AccessDenied, Answer, Assistant, Client, Conversation, Hit, IngestReport, InhouseError, UploadReport
from inhouse.keys import KeyStore
from inhouse.sdk import iterate_in_thread
from support import EXAMPLES, in_fresh_thread, write_config
from ui_support import free_port, serving

pytestmark = pytest.mark.model
USERS = '[users.ana]\n[users.bob]\n\n[[access.rules]]\nglob = "**"\npublic = true\n'
QUESTIONS = [
    "How many days of annual leave do employees get?",
    "which wifi should my visitors join?",
    "who painted the Mona Lisa?",  # abstains
]


@dataclass
class Deployment:
    """The assistant, the URL of the server on it, and API keys of ana and bob."""

    assistant: Assistant
    url: str
    ana: str
    bob: str


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    from inhouse_ui.server import build_app

    folder = tmp_path_factory.mktemp("sdk")
    assistant = Assistant.from_config(write_config(folder, EXAMPLES, extra=USERS), home=folder / "home")
    report = assistant.ingest()
    assert not report.failed, report.failed
    keys = KeyStore(assistant.home)
    ana, bob = keys.create("ana")[1], keys.create("bob")[1]
    with serving(build_app(assistant)) as url:
        yield Deployment(assistant, url, ana, bob)
    assistant.close()


@pytest.fixture
def client(deployment: Deployment) -> Iterator[Client]:
    with Client(deployment.url, api_key=deployment.ana) as c:
        yield c


def same_answer(a: Answer, b: Answer) -> None:
    assert type(a) is type(b) is Answer
    assert (a.text, a.abstained, a.kind, a.provider) == (b.text, b.abstained, b.kind, b.provider)
    assert [(c.n, c.source, c.text, c.doc_id) for c in a.citations] == [(c.n, c.source, c.text, c.doc_id) for c in b.citations]


def same_hits(a: list[Hit], b: list[Hit]) -> None:
    assert a and all(type(h) is Hit for h in a + b)
    assert [(h.chunk.id, h.chunk.source, h.chunk.text, round(h.score, 6)) for h in a] == [
        (h.chunk.id, h.chunk.source, h.chunk.text, round(h.score, 6)) for h in b
    ]


# ------------------------------------------------------------------ the same through both doors


@pytest.mark.parametrize("question", QUESTIONS)
def test_client_and_assistant_give_the_same_answer(deployment: Deployment, client: Client, question: str) -> None:
    local = deployment.assistant.ask(question, user="ana")
    same_answer(client.ask(question), local)
    assert local.abstained == (question == QUESTIONS[-1])


def test_client_and_assistant_give_the_same_hits(deployment: Deployment, client: Client) -> None:
    for query in ("annual leave days", "guest wifi password"):
        same_hits(client.search(query, k=4), deployment.assistant.search(query, k=4, user="ana"))
    bm25 = client.search("annual leave", k=3, mode="bm25")
    same_hits(bm25, deployment.assistant.search("annual leave", k=3, user="ana", mode="bm25"))
    assert all(h.dense is None and h.bm25 is not None for h in bm25)


def test_streams_give_the_text_in_pieces_then_the_answer(deployment: Deployment, client: Client) -> None:
    question = QUESTIONS[1]
    remote, local = list(client.stream(question)), list(deployment.assistant.stream(question, user="ana"))
    for items in (remote, local):
        *pieces, answer = items
        assert pieces and all(isinstance(p, str) for p in pieces) and isinstance(answer, Answer)
        assert "".join(pieces) == answer.text
    same_answer(remote[-1], local[-1])
    assert "".join(remote[:-1]) == "".join(local[:-1])


def test_history_reaches_the_answer_through_both(deployment: Deployment, client: Client) -> None:
    first = client.ask("which wifi should my visitors join?")
    history = [{"role": "user", "content": "which wifi should my visitors join?"}, ("assistant", first.text)]
    remote = client.ask("and what is the password?", history=history)
    same_answer(remote, deployment.assistant.ask("and what is the password?", user="ana", history=history))
    assert "reception" in remote.text


def test_async_variants_match_the_sync_ones(deployment: Deployment, client: Client) -> None:
    assistant, question = deployment.assistant, QUESTIONS[0]

    async def both() -> list[Any]:
        async def pieces(stream: Any) -> list[Any]:
            return [item async for item in stream]

        async with Client(deployment.url, api_key=deployment.ana) as remote:
            return await asyncio.gather(
                remote.aask(question),
                assistant.aask(question, user="ana"),
                remote.asearch("annual leave", k=3),
                assistant.asearch("annual leave", k=3, user="ana"),
                pieces(remote.astream(question)),
                pieces(assistant.astream(question, user="ana")),
            )

    remote_answer, local_answer, remote_hits, local_hits, remote_items, local_items = in_fresh_thread(asyncio.run, both())
    same_answer(remote_answer, local_answer)
    same_answer(remote_answer, client.ask(question))
    same_hits(remote_hits, local_hits)
    for items in (remote_items, local_items):
        assert "".join(items[:-1]) == items[-1].text == local_answer.text


# ----------------------------------------------------------------------- async in threads


def test_leaving_an_async_stream_early_stops_its_thread() -> None:
    """A consumer that stops after two items ends the producing thread, which closes its iterator."""
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                n += 1
                time.sleep(0.001)
                yield n
        finally:
            closed.set()

    async def first_two() -> list[int]:
        got = []
        stream = iterate_in_thread(endless)
        async for n in stream:
            got.append(n)
            if len(got) == 2:
                break
        await stream.aclose()
        return got

    assert in_fresh_thread(asyncio.run, first_two()) == [1, 2]
    assert closed.wait(5), "the generator thread kept running after its consumer left"
    assert not [t for t in threading.enumerate() if t.name == "inhouse-astream" and t.is_alive()]


def test_a_cancelled_astream_stops_its_thread(deployment: Deployment) -> None:
    async def cancel_after_first_piece() -> None:
        async def consume() -> None:
            async for _ in deployment.assistant.astream(QUESTIONS[0], user="ana"):
                await asyncio.sleep(10)  # cancelled here, after the first piece

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    in_fresh_thread(asyncio.run, cancel_after_first_piece())
    deadline = time.monotonic() + 10
    while any(t.name == "inhouse-astream" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "a cancelled astream left its thread running"
        time.sleep(0.05)


def test_errors_of_the_sync_method_reach_the_async_caller(deployment: Deployment) -> None:
    async def unknown_profile() -> None:
        await deployment.assistant.aask(QUESTIONS[0], profile="no-such-profile")

    with pytest.raises(InhouseError):
        in_fresh_thread(asyncio.run, unknown_profile())


# -------------------------------------------------------------------------- conversations


def test_a_conversation_of_the_client_is_the_assistants_too(deployment: Deployment, client: Client) -> None:
    chat = client.conversation()
    assert isinstance(chat, Conversation) and len(chat.id) == 32
    chat.ask("which wifi should my visitors join?")
    follow_up = chat.ask("and what is the password?")
    assert "reception" in follow_up.text  # the stored first turn was its history
    mine = deployment.assistant.conversation(chat.id, user="ana")
    assert [t.question for t in mine.turns()] == ["which wifi should my visitors join?", "and what is the password?"]
    same_answer(mine.turns()[1].answer, follow_up)
    assert [(t.id, t.question, t.answer.text) for t in mine.turns()] == [(t.id, t.question, t.answer.text) for t in chat.turns()]
    assert chat.info().title == "which wifi should my visitors join?" and chat.info().turns == 2
    for other in ("bob", None):  # another user, the local caller: no such conversation
        with pytest.raises(AccessDenied):
            deployment.assistant.conversation(chat.id, user=other)
    with Client(deployment.url, api_key=deployment.bob) as bob, pytest.raises(AccessDenied):
        bob.conversation(chat.id)
    assert chat.delete() is True and chat.delete() is False
    with pytest.raises(AccessDenied):
        deployment.assistant.conversation(chat.id, user="ana")


def test_a_conversation_of_the_assistant_is_the_clients_too(deployment: Deployment, client: Client) -> None:
    mine = deployment.assistant.conversation(user="ana")
    pieces = list(mine.stream("How many days of annual leave do employees get?"))
    assert isinstance(pieces[-1], Answer) and "26 days" in pieces[-1].text
    remote = client.conversation(mine.id)
    assert [t.question for t in remote.turns()] == ["How many days of annual leave do employees get?"]
    assert mine.id in [info.id for info in client.conversations()]
    assert mine.id in [info.id for info in deployment.assistant.conversations("ana")]
    assert mine.id not in [info.id for info in deployment.assistant.conversations("bob")]

    async def go_on() -> Answer:
        async with Client(deployment.url, api_key=deployment.ana) as c:
            return await c.conversation(mine.id).aask("and how many can I carry over?")

    in_fresh_thread(asyncio.run, go_on())
    assert len(mine.turns()) == 2 and mine.info().turns == 2
    assert remote.delete()
    assert mine.id not in [info.id for info in deployment.assistant.conversations("ana")] and mine.turns() == []


def test_the_local_callers_conversations_survive_a_new_assistant(tmp_path: Path, deployment: Deployment) -> None:
    chat = deployment.assistant.conversation()
    chat.ask("which wifi should my visitors join?")
    again = Assistant(deployment.assistant.settings, deployment.assistant.home)
    assert [t.question for t in again.conversation(chat.id).turns()] == ["which wifi should my visitors join?"]
    assert again.conversation(chat.id).delete()


# ------------------------------------------------------------------------------------ upload


def test_ingest_uploads_files_for_the_keys_user(deployment: Deployment, client: Client, tmp_path: Path) -> None:
    (tmp_path / "offsite.md").write_text("# Offsite\n\nThe team offsite is in Quokkaville on 3 June.\n", encoding="utf-8")
    (tmp_path / "empty.bin").write_bytes(b"\x00\x01")
    progress: list[tuple[int, int, str]] = []
    report = client.ingest(tmp_path, on_progress=lambda *p: progress.append(p))
    assert isinstance(report, UploadReport) and isinstance(report, IngestReport)
    assert report.added == 1 and [f["path"] for f in report.failed + report.skipped] == ["empty.bin"]
    assert {f["name"]: f["status"] for f in report.files}["offsite.md"] == "added" and len(report.jobs) == 1
    assert progress and progress[-1][0] == progress[-1][1]
    assert any("Quokkaville" in h.chunk.text for h in client.search("team offsite Quokkaville", k=3))
    with Client(deployment.url, api_key=deployment.bob) as bob:
        assert not any("Quokkaville" in h.chunk.text for h in bob.search("team offsite Quokkaville", k=3))
    assert client.ingest(tmp_path / "offsite.md").unchanged == 1


# ------------------------------------------------------------------------------------ errors


def test_a_missing_or_wrong_key_says_so(deployment: Deployment) -> None:
    for key in ("", "ih-000000000000-" + "x" * 43, "not-a-key"):
        with Client(deployment.url, api_key=key) as c, pytest.raises(AccessDenied, match="API key missing or wrong") as info:
            c.search("leave")
        assert info.value.status == 401  # type: ignore[attr-defined]


def test_refused_requests_carry_the_servers_message(client: Client, tmp_path: Path) -> None:
    with pytest.raises(AccessDenied, match="404"):
        client.conversation("0" * 32)
    with pytest.raises(InhouseError, match=r"POST /v1/search \(422\)") as info:
        client.search("leave", k=0)
    assert not isinstance(info.value, AccessDenied)
    with pytest.raises(InhouseError, match="no such file or folder"):
        client.ingest(tmp_path / "missing.md")
    with (
        Client(f"http://127.0.0.1:{free_port()}") as nobody,
        pytest.raises(InhouseError, match="cannot reach the inhouse server"),
    ):
        nobody.ask("anything")
    with pytest.raises(InhouseError, match="http://"):
        Client("127.0.0.1:7860")
