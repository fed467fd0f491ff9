"""Past conversations in a real browser (headless Chromium): two conversations asked, the server
restarted on the same home (a new app, as ``inhouse serve`` gives after a restart), the latest
shown again, the other reopened from the list with its answer and source buttons, continued
with its history, and one deleted. See conftest.py for the server's assistant and the browser;
screenshots go to tests/artifacts/ui/.
"""

from __future__ import annotations

from typing import Any

import pytest

from inhouse.conversations import ConversationStore
from ui_support import BOT, Server, ask, password_users, serving, shot, sign_in_page

pytestmark = [
    pytest.mark.model,
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::Warning:gradio.queueing"),  # its pandas summary after each event
]
GUS = {"gus": "gus-pw"}  # a user of this test's own: the other browser tests' users keep their conversations
LEAVE = "How many vacation days do I get?"
PHISHING = "How do I report a phishing email?"


def titles(page: Any) -> list[str]:
    """The titles the list of past conversations shows, in order."""
    return page.locator("#conversation-list .conversation-title").all_inner_texts()


def test_a_conversation_survives_a_restart_and_reopens_from_the_list(server: Server, browser: Any) -> None:
    from inhouse_ui.server import build_app

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    with serving(build_app(server.assistant, password_users(GUS))) as url:
        sign_in_page(page, url, "gus", GUS["gus"])
        ask(page, LEAVE)
        page.locator("#new-chat").click()
        page.wait_for_function("document.querySelectorAll('#chat [data-testid=\"user\"]').length === 0")
        ask(page, PHISHING)
        page.locator("#conversation-list li", has_text=LEAVE).wait_for()
        assert titles(page) == [PHISHING, LEAVE]

    with serving(build_app(server.assistant, password_users(GUS))) as url:  # the restart
        page.goto(url)  # the session cookie signs gus in again: its secret is in the home
        page.locator("#conversation-list li.current", has_text=PHISHING).wait_for()
        assert titles(page) == [PHISHING, LEAVE]
        assert page.locator('#chat [data-testid="user"]').all_inner_texts() == [PHISHING]  # the latest, open again
        current = page.locator("#conversation-list [aria-current=true] .conversation-title")
        assert current.inner_text() == PHISHING

        page.locator("#conversation-list .conversation-open", has_text=LEAVE).click()
        page.locator("#conversation-list li.current", has_text=LEAVE).wait_for()
        page.locator('#chat [data-testid="user"]', has_text=LEAVE).wait_for()
        assert page.locator('#chat [data-testid="user"]').count() == 1
        answer = page.locator(BOT).first
        assert answer.locator(".answer-meta .kind").inner_text() == "Quoted from the documents"
        answer.locator("button.cite-chip").first.click()
        page.locator("#citation-panel .passage-text", has_text="26 days").wait_for()
        shot(page, "conversation-reopened")

        ask(page, "and how many can I carry over?")
        call = server.calls[-1]
        assert call["user"] == "gus" and [h["content"] for h in call["history"]][:1] == [LEAVE]
        assert {h["residency"] for h in call["history"]} == {"local"}
        assert titles(page) == [LEAVE, PHISHING]  # continued: listed first

        page.once("dialog", lambda dialog: dialog.accept())
        page.locator("#conversation-list li", has_text=PHISHING).get_by_role("button", name=f"Delete “{PHISHING}”").click()
        page.locator("#conversation-list li", has_text=PHISHING).wait_for(state="detached")
        assert titles(page) == [LEAVE] and page.locator('#chat [data-testid="user"]').count() == 2
        assert [c.title for c in ConversationStore(server.assistant.home).list("gus")] == [LEAVE]
        shot(page, "conversations")
    context.close()
