"""The chat page in a real browser (headless Chromium driven by Playwright) against a real
server: the sample corpus, the local MiniLM embedder and the local chat model, plus the
Bedrock emulator for images.

One server per module (uvicorn in a thread, a free loopback port, a tmp home where the
handbook is ingested once). Screenshots of the main states go to tests/artifacts/ui/.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from inhouse.testing.emulators.bedrock import BedrockEmulator
from support import EXAMPLES, REPO, write_config

pytestmark = [pytest.mark.model, pytest.mark.browser]

playwright_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("inhouse_ui")

CHROMIUM = os.environ.get("INHOUSE_TEST_CHROMIUM", "/usr/bin/chromium")  # never `playwright install`
if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (set INHOUSE_TEST_CHROMIUM)", allow_module_level=True)
ARTIFACTS = REPO / "tests" / "artifacts" / "ui"
USERS = {"ana": "ana-pw", "bob": "bob-pw", "cleo": "cleo-pw", "dev": "dev-pw", "erin": "erin-pw"}
ANSWER_MS = 90_000  # ms: the longest a local answer may take on a slow 2-core machine
BOT = '#chat [data-testid="bot"]'


@dataclass
class Server:
    url: str
    assistant: Any
    app: Any
    calls: list[dict[str, Any]]
    config: Path

    @property
    def page(self) -> Any:
        return self.app.state.page


@pytest.fixture(scope="module")
def emulator() -> Iterator[BedrockEmulator]:
    with BedrockEmulator() as emu:
        yield emu


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, emulator: BedrockEmulator) -> Iterator[Server]:
    import uvicorn

    from inhouse import Assistant
    from inhouse_ui.server import build_app

    folder = tmp_path_factory.mktemp("ui")
    providers = f"""
[providers.local]
use = "local"

[providers.stability]
use = "bedrock-image"
endpoint_url = "{emulator.endpoint_url}"
region = "us-east-1"

[routing]
default = ["local"]
image = ["stability"]
private = ["local"]
"""
    config = write_config(folder, EXAMPLES, providers=providers, extra="[answer]\nmax_tokens = 60\n")
    assistant = Assistant.from_config(config, home=folder / "home")
    report = assistant.ingest()
    assert not report.failed, report.failed
    assistant.warm_up()
    calls: list[dict[str, Any]] = []
    stream = assistant.stream

    def spy(question: str, **kwargs: Any) -> Any:  # records what the page passes to the SDK
        calls.append({"question": question, **kwargs})
        return stream(question, **kwargs)

    assistant.stream = spy
    app = build_app(assistant, {"users": [{"name": n, "password": p} for n, p in USERS.items()]})
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    uv = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uv.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield Server(f"http://127.0.0.1:{port}/", assistant, app, calls, config)
    uv.should_exit = True
    thread.join(10)
    sock.close()
    assistant.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


@pytest.fixture
def sign_in(server: Server, browser: Any) -> Iterator[Callable[..., Any]]:
    """``sign_in("ana")`` -> a page of a fresh browser context, signed in as ana."""
    contexts = []

    def open_page(user: str, width: int = 1280, height: int = 900) -> Any:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(server.url)
        page.get_by_label("username").fill(user)
        page.get_by_label("password").fill(USERS[user])
        page.get_by_role("button", name="Login").click()
        page.locator("#question textarea").wait_for()
        page.locator("#header .who").wait_for()
        return page

    yield open_page
    for context in contexts:
        context.close()


def shot(page: Any, name: str, full_page: bool = False) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full_page)


def ask(page: Any, question: str, *, keyboard: bool = True) -> Any:
    """Type ``question``, send it (Enter, or the Send button) and wait for the finished answer."""
    before = page.locator(BOT).count()
    box = page.locator("#question textarea")
    box.fill(question)
    if keyboard:
        box.press("Enter")
    else:
        page.locator("#send").click()
    answer = page.locator(BOT).nth(before)
    answer.locator(".answer-meta, .error").first.wait_for(timeout=ANSWER_MS)
    return answer


def watch_stream(page: Any) -> None:
    """Record each text the newest answer shows while it streams (``window.__snaps``)."""
    page.evaluate(
        """() => {
        const start = document.querySelectorAll('#chat [data-testid="bot"]').length;
        window.__snaps = [];
        new MutationObserver(() => {
            const bots = document.querySelectorAll('#chat [data-testid="bot"]');
            if (bots.length <= start) return;
            const text = bots[bots.length - 1].innerText;
            if (window.__snaps[window.__snaps.length - 1] !== text) window.__snaps.push(text);
        }).observe(document.querySelector('#chat'), {subtree: true, childList: true, characterData: true});
    }"""
    )


# --------------------------------------------------------------------------------------- tests


def test_an_answer_streams_with_numbered_sources_that_open_the_passage(server: Server, sign_in: Callable[..., Any]) -> None:
    page = sign_in("ana")
    shot(page, "empty")
    watch_stream(page)
    answer = ask(page, "How many vacation days do I get?")
    snaps = page.evaluate("window.__snaps")
    assert len(snaps) >= 3, f"the answer did not stream: {snaps}"  # partial texts, then the final answer
    chips = answer.locator("button.cite-chip")
    assert chips.count() >= 1
    assert "Annual Leave" in chips.first.inner_text()
    meta = answer.locator(".answer-meta").inner_text()
    assert "local" in meta and "tokens" in meta and " s" in meta
    assert server.calls[-1]["user"] == "ana" and server.calls[-1]["mode"] is None
    shot(page, "answer")

    chips.first.click()
    panel = page.locator("#citation-panel")
    panel.locator(".passage-text").wait_for()
    assert "Annual Leave" in panel.locator("h2").inner_text()
    assert "annual-leave.md" in panel.locator(".path").inner_text()
    assert "26 days" in panel.locator(".passage-text").inner_text()
    assert page.evaluate("document.activeElement.tagName") == "H2"  # focus moved to the passage
    link = panel.get_by_role("link", name="Open the original (annual-leave.md)")
    href = link.get_attribute("href")
    assert href.startswith("files/")
    original = page.request.get(server.url + href)
    assert original.status == 200 and original.headers["content-type"].startswith("text/markdown")
    assert original.text() == (EXAMPLES / "people" / "annual-leave.md").read_text(encoding="utf-8")
    shot(page, "citation-panel")

    page.locator("#citation-close").click()
    panel.locator(".empty").wait_for()


def test_a_follow_up_sends_the_conversation_as_history(server: Server, sign_in: Callable[..., Any]) -> None:
    page = sign_in("bob")
    first = ask(page, "How much can I spend on food per day when travelling?")
    ask(page, "and for hotels?", keyboard=False)
    call = server.calls[-1]
    assert call["question"] == "and for hotels?" and call["user"] == "bob"
    first_text = server.page.conversations.turns("user:bob")[0].answer.text
    assert call["history"] == [
        {"role": "user", "content": "How much can I spend on food per day when travelling?"},
        {"role": "assistant", "content": first_text},
    ]
    assert page.locator(BOT).count() == 2 and first.locator(".answer-meta").count() == 1
    shot(page, "follow-up")


def test_a_question_the_documents_do_not_answer_says_so(sign_in: Callable[..., Any]) -> None:
    page = sign_in("cleo")
    answer = ask(page, "Who painted the Mona Lisa?")
    assert "The documents do not answer this." in answer.locator(".abstained").inner_text()
    assert answer.locator("button.cite-chip").count() == 0
    shot(page, "abstained")


def test_phone_width_and_keyboard_only(sign_in: Callable[..., Any]) -> None:
    page = sign_in("dev", width=375, height=812)
    assert page.evaluate("document.activeElement.closest('#question') !== null")  # the question box has focus
    page.keyboard.type("Which wifi should my visitors join?")
    page.keyboard.press("Enter")
    answer = page.locator(BOT).first
    answer.locator(".answer-meta").wait_for(timeout=ANSWER_MS)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # nothing wider than the phone
    # Tab from the question box wraps round to the answer's source buttons; Enter opens one.
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('cite-chip')"):
            break
    else:
        pytest.fail("no source button is reachable with Tab")
    page.keyboard.press("Enter")
    page.locator("#citation-panel .passage-text").wait_for()
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll('button, input, textarea, select, a[href]')]
        .filter(e => e.getClientRects().length)
        .filter(e => !((e.getAttribute('aria-label') || e.innerText || e.getAttribute('title') || '').trim()
                       || (e.labels && [...e.labels].some(l => l.innerText.trim()))))
        .map(e => e.outerHTML.slice(0, 120))"""
    )
    assert unnamed == [], unnamed
    shot(page, "phone", full_page=True)


def test_thumbs_and_a_comment_are_stored(server: Server, sign_in: Callable[..., Any]) -> None:
    page = sign_in("erin")
    ask(page, "How do I report a phishing email?")
    page.locator("#chat").get_by_role("button", name="Dislike").first.click()
    page.locator("#feedback-comment textarea").wait_for()
    page.locator("#feedback-comment textarea").fill("It should name the security mailbox.")
    shot(page, "feedback")
    page.locator("#feedback-send").click()
    page.get_by_text("Thanks, your comment was saved.").wait_for()
    [row] = [r for r in server.page.feedback.rows() if r["user"] == "erin"]
    assert row["rating"] == -1 and row["comment"] == "It should name the security mailbox."
    assert row["question"] == "How do I report a phishing email?" and row["provider"] == "local"
    assert row["answer"] and row["sources"] and row["sources"][0]["source"].endswith(".md") and row["time"]


def test_an_uploaded_file_is_ingested_and_cited_only_for_its_owner(
    server: Server, sign_in: Callable[..., Any], tmp_path: Path
) -> None:
    doc = tmp_path / "office-mascot.md"
    doc.write_text(
        "# Office mascot\n\nThe office mascot of Northwind Lattice is a zebra called Quillon. "
        "Quillon the zebra lives in the Rotterdam atrium and is fed by the facilities team.\n",
        encoding="utf-8",
    )
    page = sign_in("ana")
    page.locator("#upload input[type=file]").set_input_files([str(doc)])
    report = page.locator("#upload-status .upload-report")
    report.wait_for(timeout=60_000)
    assert "office-mascot.md — added" in report.inner_text()
    assert "personal collection" in report.inner_text()
    shot(page, "upload")
    saved = server.assistant.home / "uploads" / "users" / "ana" / "office-mascot.md"
    assert saved.is_file()

    answer = ask(page, "What is the office mascot called?")
    titles = [c.inner_text() for c in answer.locator("button.cite-chip").all()]
    assert any("Office mascot" in t for t in titles), titles
    answer.locator("button.cite-chip", has_text="Office mascot").first.click()
    page.locator("#citation-panel .passage-text", has_text="Quillon").wait_for()
    href = page.locator("#citation-panel a").get_attribute("href")
    assert page.request.get(server.url + href).text().startswith("# Office mascot")

    other = sign_in("bob")  # a personal collection is personal
    answer = ask(other, "What is the office mascot called?")
    assert not any("Office mascot" in c.inner_text() for c in answer.locator("button.cite-chip").all())
    assert other.request.get(server.url + href).status == 404


def test_a_bad_upload_shows_its_reason(server: Server, sign_in: Callable[..., Any], tmp_path: Path) -> None:
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\nthis is not really a PDF\n")
    good = tmp_path / "parking.md"
    good.write_text("# Parking\n\nVisitors park on level -2 of the Rotterdam garage.\n", encoding="utf-8")
    page = sign_in("cleo")
    page.locator("#collection").get_by_label("Shared: everyone").check()
    page.locator("#upload input[type=file]").set_input_files([str(broken), str(good)])
    report = page.locator("#upload-status .upload-report")
    report.wait_for(timeout=60_000)
    text = report.inner_text()
    assert "parking.md — added" in text and "shared collection" in text
    assert "Could not add 1 file" in text
    bad = report.locator("li.bad").inner_text()
    assert bad.startswith("broken.pdf — ") and len(bad) > len("broken.pdf — ") + 5, bad
    shot(page, "bad-upload")
    shared = server.assistant.home / "uploads" / "shared"
    assert (shared / "parking.md").is_file() and not (shared / "broken.pdf").exists()


def test_image_mode_shows_the_image(server: Server, sign_in: Callable[..., Any], aws_credentials: None) -> None:
    page = sign_in("dev")
    page.locator("#mode").get_by_label("Image").check()
    answer = ask(page, "A lighthouse at dusk, in watercolour")
    image = answer.locator("figure.answer-image img")
    image.wait_for()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    assert server.calls[-1]["mode"] == "image"
    meta = answer.locator(".answer-meta").inner_text()
    assert "in-account" in meta and "stability" in meta and "1 image" in meta
    href = answer.locator("figure.answer-image a").get_attribute("href")
    download = page.request.get(server.url + href)
    assert download.status == 200 and download.body().startswith(b"\x89PNG")
    assert download.headers["content-disposition"].startswith("attachment")
    shot(page, "image")
    other = sign_in("erin")  # an image is its owner's
    assert other.request.get(server.url + href).status == 404


def test_each_user_sees_only_their_own_history(server: Server, sign_in: Callable[..., Any]) -> None:
    ana = sign_in("ana")
    bob = sign_in("bob")
    ask(ana, "Who should I contact when my laptop breaks?")
    ask(bob, "How long is parental leave?")
    for page, mine, theirs in ((ana, "laptop breaks", "parental leave"), (bob, "parental leave", "laptop breaks")):
        page.reload()
        page.locator("#chat").get_by_text(mine).first.wait_for()
        assert theirs not in page.locator("#chat").inner_text()
    shot(ana, "history-ana")
    # A new conversation starts empty and stays empty after a reload.
    bob.locator("#new-chat").click()
    bob.wait_for_function("document.querySelectorAll('#chat [data-testid=\"user\"]').length === 0")
    bob.reload()
    bob.locator("#question textarea").wait_for()
    bob.wait_for_timeout(500)
    assert bob.locator('#chat [data-testid="user"]').count() == 0


def test_the_files_route_serves_only_readable_originals_inside_their_roots(
    server: Server, sign_in: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from inhouse.plugins import DocumentRecord

    store = server.assistant.store
    documents = store.documents()
    [pdf] = [r for r in documents.values() if r.source == "travel/expense-policy.pdf"]
    page = sign_in("bob")
    get = page.request.get
    ok = get(f"{server.url}files/{pdf.id}")
    assert ok.status == 200 and ok.headers["content-type"] == "application/pdf" and ok.body().startswith(b"%PDF")

    secret = tmp_path / "secret.txt"
    secret.write_text("not for the page", encoding="utf-8")
    root = tmp_path / "root"
    root.mkdir()
    (root / "link.txt").symlink_to(secret)
    forged = {
        "dotdot": replace(pdf, id="dotdot", root=str(root), source="../secret.txt"),
        "absolute": replace(pdf, id="absolute", root=str(root), source=str(secret)),
        "symlink": replace(pdf, id="symlink", root=str(root), source="link.txt"),
        "relative-root": replace(pdf, id="relative-root", root="docs", source="secret.txt"),
        "private": DocumentRecord("private", "annual-leave.md", str(EXAMPLES / "people"), "t", "h", 0.0, ("ana",)),
    }
    monkeypatch.setattr(store, "document", {**documents, **forged}.get)
    for doc_id in [*forged, "no-such-doc", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd"]:
        response = get(f"{server.url}files/{doc_id}")
        assert response.status == 404, (doc_id, response.status)
        assert "not for the page" not in response.text()
    assert get(f"{server.url}files/../../etc/passwd").status == 404
    # ana may read her own document; nobody signed in may read anything
    assert sign_in("ana").request.get(f"{server.url}files/private").status == 200
    assert page.context.browser.new_context().request.get(f"{server.url}files/{pdf.id}").status == 401
    assert get(f"{server.url}health").json()["status"] == "ok"


def test_a_trusted_header_or_nobody_signs_users_in(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from inhouse.plugins import DocumentRecord
    from inhouse_ui.server import build_app

    store = server.assistant.store
    documents = store.documents()
    [public] = [r for r in documents.values() if r.source == "people/annual-leave.md"]
    private = DocumentRecord("private", "annual-leave.md", str(EXAMPLES / "people"), "t", "h", 0.0, ("ana",))
    monkeypatch.setattr(store, "document", {**documents, "private": private}.get)

    proxied = TestClient(build_app(server.assistant, {"trusted_header": "X-Forwarded-User"}))
    assert proxied.get("/").status_code == 401  # no header: nobody
    page = proxied.get("/", headers={"X-Forwarded-User": "ana"})
    assert page.status_code == 200 and '"username":"ana"' in page.text.replace(" ", "")
    assert proxied.get("/files/private", headers={"X-Forwarded-User": "ana"}).status_code == 200
    assert proxied.get("/files/private", headers={"X-Forwarded-User": "bob"}).status_code == 404
    assert proxied.get(f"/files/{public.id}").status_code == 401

    anonymous = TestClient(build_app(server.assistant, None))
    assert anonymous.get("/").status_code == 200
    assert anonymous.get(f"/files/{public.id}").status_code == 200
    assert anonymous.get("/files/private").status_code == 404  # someone's personal document stays theirs
    cached = anonymous.get("/assets/" + _an_asset(anonymous.get("/").text))
    assert cached.status_code == 200 and "immutable" in cached.headers["cache-control"]


def _an_asset(html: str) -> str:
    return re.search(r"assets/([\w.-]+-[\w-]{8,}\.js)", html).group(1)


def test_inhouse_serve_prints_its_address_and_refuses_a_taken_port(server: Server, tmp_path: Path) -> None:
    port = int(server.url.rsplit(":", 1)[1].strip("/"))
    base = [sys.executable, "-m", "inhouse", "--config", str(server.config), "--home", str(tmp_path / "home"), "serve"]
    env = {**os.environ, "INHOUSE_DEBUG": ""}
    taken = subprocess.run([*base, "--port", str(port)], capture_output=True, text=True, timeout=120, env=env)
    assert taken.returncode != 0 and "pick another --port" in taken.stdout + taken.stderr

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    proc = subprocess.Popen([*base, "--port", str(free)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.strip() == f"inhouse is serving on http://127.0.0.1:{free}", line
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{free}/health", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.2)
        assert health.status_code == 200 and health.json()["status"] == "ok"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
