"""The chat page in a real browser (headless Chromium driven by Playwright) against a real
server (``server`` in conftest.py: the sample corpus, the local MiniLM embedder, quoted answers
by default and the local chat model in the Generative mode): signing in and out, quoted
answers with sources that open highlighted, a streamed generated answer, abstentions with the
closest passages, history, feedback, the keyboard and a phone's width. Screenshots of the main states go to tests/artifacts/ui/.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from support import EXAMPLES
from ui_support import ANSWER_MS, BOT, USERS, Server, ask, shot, watch_stream

pytestmark = [
    pytest.mark.model,
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::Warning:gradio.queueing"),  # its pandas summary after each event
]


def test_the_sign_in_page_signs_in_and_out(server: Server, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(server.url)
    assert page.url == server.url + "login"  # the page sends a stranger to the sign-in form
    assert page.evaluate("document.activeElement.id") == "name"
    shot(page, "sign-in")
    page.get_by_label("Name").fill("ana")
    page.get_by_label("Password").fill("not-her-password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text() == "Wrong name or password."
    assert page.url == server.url + "login" and page.get_by_label("Name").input_value() == "ana"
    page.get_by_label("Password").fill(USERS["ana"])
    page.get_by_label("Password").press("Enter")
    page.locator("#question textarea").wait_for()
    assert page.url == server.url and "Signed in as ana" in page.locator("#header .who").inner_text()
    [cookie] = context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
    assert page.evaluate("document.cookie") == ""  # the page's scripts cannot read the session
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(server.url + "login")
    assert context.cookies() == []
    page.goto(server.url)
    assert page.url == server.url + "login"
    assert page.request.get(server.url + "health").json()["status"] == "ok"
    context.close()


def test_a_quoted_answer_has_numbered_sources_that_open_the_passage_highlighted(
    server: Server, sign_in: Callable[..., Any]
) -> None:
    page = sign_in("ana")
    shot(page, "empty")
    answer = ask(page, "How many vacation days do I get?")
    chips = answer.locator("button.cite-chip")
    assert chips.count() >= 1
    assert "Annual Leave" in chips.first.inner_text()
    meta = answer.locator(".answer-meta")
    assert meta.locator(".kind").inner_text() == "Quoted from the documents"
    assert "local" in meta.inner_text() and "extractive" in meta.inner_text() and " ms" in meta.inner_text()
    assert server.calls[-1]["user"] == "ana" and server.calls[-1]["mode"] is None
    shot(page, "answer")

    chips.first.click()
    panel = page.locator("#citation-panel")
    panel.locator(".passage-text").wait_for()
    assert "Annual Leave" in panel.locator("h2").inner_text()
    assert "annual-leave.md" in panel.locator(".path").inner_text()
    assert "26 days" in panel.locator(".passage-text").inner_text()
    marks = panel.locator(".passage-text mark")
    assert marks.count() >= 1 and " ".join(marks.first.inner_text().split()) in " ".join(answer.inner_text().split())
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


def test_the_generative_mode_streams_a_written_answer(server: Server, sign_in: Callable[..., Any]) -> None:
    page = sign_in("fay")  # a user of her own: the phone test counts on dev's empty conversation
    page.locator("#mode").get_by_label("Generative").check()
    watch_stream(page)
    answer = ask(page, "How many vacation days do I get?")
    snaps = page.evaluate("window.__snaps")
    assert len(snaps) >= 3, f"the answer did not stream: {snaps}"  # partial texts, then the final answer
    meta = answer.locator(".answer-meta")
    assert meta.locator(".kind").inner_text() == "Written by local"
    assert "tokens" in meta.inner_text() and " s" in meta.inner_text()
    assert server.calls[-1]["mode"] == "generative"
    shot(page, "generated")


def test_a_follow_up_sends_the_conversation_as_history(server: Server, sign_in: Callable[..., Any]) -> None:
    page = sign_in("bob")
    before = page.locator(BOT).count()  # bob may have asked already in this session
    first = ask(page, "How much can I spend on food per day when travelling?")
    ask(page, "and for hotels?", keyboard=False)
    call = server.calls[-1]
    assert call["question"] == "and for hotels?" and call["user"] == "bob"
    answered = server.page.conversations.open("bob").turns[-2].answer
    assert answered.route["residency"] == "local"
    assert call["history"][-2:] == [  # each turn carries where it ran
        {"role": "user", "content": "How much can I spend on food per day when travelling?", "residency": "local"},
        {"role": "assistant", "content": answered.text, "residency": "local"},
    ]
    assert page.locator(BOT).count() == before + 2 and first.locator(".answer-meta").count() == 1
    shot(page, "follow-up")


def test_a_question_the_documents_do_not_answer_says_so(sign_in: Callable[..., Any]) -> None:
    page = sign_in("cleo")
    answer = ask(page, "Who painted the Mona Lisa?")
    assert "The documents do not answer this." in answer.locator(".abstained").inner_text()
    assert "I looked at" in answer.locator(".abstained-detail").inner_text()
    assert answer.locator(".answer-meta .kind").count() == 0
    assert answer.locator(".sources:not(.related)").count() == 0  # nothing is cited
    closest = answer.locator(".sources.related")
    assert closest.locator(".sources-label").inner_text() == "Closest passages"
    chip = closest.locator("button.cite-chip").first
    title = chip.inner_text().split(" — ")[0].rstrip("…")
    chip.click()
    panel = page.locator("#citation-panel .passage.related")
    panel.wait_for()
    assert title in panel.locator("h2").inner_text() and "A closest passage" in panel.inner_text()
    assert panel.locator("mark").count() == 0
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
    assert row["question"] == "How do I report a phishing email?" and row["provider"] == "extractive"
    assert row["answer"] and row["sources"] and row["sources"][0]["source"].endswith(".md") and row["time"]


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
