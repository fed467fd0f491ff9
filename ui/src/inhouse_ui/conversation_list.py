"""The list of a user's past conversations beside the chat, and its events: the most recently
continued first, each titled by its first question, with a button that reopens it and one that
deletes it; and "New conversation".

Each button of the list says what it does in ``data-action`` and ``data-conversation``; the
page's script (``assets/page.js``) writes ``open-ID`` or ``delete-ID`` to a hidden textbox and
presses a hidden button, as the source buttons do. The handler takes the user from the request
and looks the id up among that user's own conversations only. Titles are the users' own text:
escaped.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from html import escape
from typing import Any

import gradio as gr

from inhouse.conversations import ConversationInfo
from inhouse_ui import render
from inhouse_ui.conversations import Conversations

KEY = re.compile(r"^(open|delete)-([0-9a-f]{32})$")
EMPTY = '<p class="conversations-empty">Your conversations will be listed here.</p>'
HEADING = '<h2 class="conversations-title" id="conversations-heading">Conversations</h2>'


def when(timestamp: float, now: float | None = None) -> str:
    """``14:05`` today, ``12 Mar`` earlier this year, ``12 Mar 2024`` before (server time)."""
    at, today = time.localtime(timestamp), time.localtime(now if now is not None else time.time())
    if at[:3] == today[:3]:
        return time.strftime("%H:%M", at)
    return time.strftime("%d %b" if at.tm_year == today.tm_year else "%d %b %Y", at)


def list_html(conversations: Sequence[ConversationInfo], open_id: str | None) -> str:
    """The list: a reopen button (title, when, how many questions) and a delete button per
    conversation; the open one is marked ``aria-current``."""
    if not conversations:
        return f'<nav class="conversations" aria-labelledby="conversations-heading">{HEADING}{EMPTY}</nav>'
    items = []
    for info in conversations:
        ident = escape(info.id)
        title = escape(info.title or "Untitled conversation")
        is_open = info.id == open_id
        current = ' aria-current="true"' if is_open else ""
        count = f"{info.turns} question{'s' if info.turns != 1 else ''}"
        items.append(
            ('<li class="current">' if is_open else "<li>")
            + f'<button type="button" class="conversation-open" data-action="open" data-conversation="{ident}"{current}>'
            f'<span class="conversation-title">{title}</span>'
            f'<span class="conversation-when">{when(info.updated)} · {count}</span></button>'
            f'<button type="button" class="conversation-delete" data-action="delete" data-conversation="{ident}" '
            f'aria-label="Delete “{title}”" title="Delete this conversation">Delete</button></li>'
        )
    return f'<nav class="conversations" aria-labelledby="conversations-heading">{HEADING}<ul>{"".join(items)}</ul></nav>'


class ConversationList:
    """The list beside the chat and the events that change which conversation is open."""

    def __init__(self, conversations: Conversations, user: Callable[[Any], str], origins: Sequence[str]):
        self.conversations = conversations
        self.user = user  # the user of a Gradio request (raises gr.Error when nobody is signed in)
        self.origins = origins

    def build(self) -> None:
        """The list (inside the caller's layout) and the hidden textbox and button its script uses."""
        self.html = gr.HTML(list_html([], None), elem_id="conversation-list", js_on_load=None)
        self.key = gr.Textbox(label="Conversation to open or delete", visible="hidden", elem_id="conversation-key")
        self.go = gr.Button("Open or delete conversation", visible="hidden", elem_id="conversation-go")

    def wire(self, new: gr.Button, chat: gr.Chatbot, resets: Sequence[Any]) -> None:
        """Events: ``new`` starts a conversation, the list's buttons reopen or delete one; each
        shows the open conversation in ``chat``, the list, and empties ``resets`` (the
        passage panel, its close button, the feedback form and its note)."""
        private: dict[str, Any] = {"api_visibility": "private"}
        outputs = [chat, self.html, *resets]
        new.click(self.on_new, None, outputs, show_progress="hidden", **private)
        chat.clear(self.on_new, None, outputs, show_progress="hidden", **private)
        self.go.click(self.on_key, [self.key], outputs, show_progress="hidden", **private).then(
            None, js="() => window.inhouse && window.inhouse.focusQuestion()", **private
        )

    def shown(self, user: str) -> str:
        """The list of ``user``'s conversations, the open one marked."""
        return list_html(self.conversations.listing(user), self.conversations.open(user).id)

    def on_new(self, request: gr.Request) -> tuple[Any, ...]:
        """Start a new conversation (stored at its first answer)."""
        user = self.user(request)
        self.conversations.new(user)
        return self._show(user)

    def on_key(self, key: str, request: gr.Request) -> tuple[Any, ...]:
        """``open-ID`` reopens, ``delete-ID`` deletes one of the user's own conversations; an id
        that is not theirs (or no longer there) changes nothing but the list."""
        user = self.user(request)
        match = KEY.match((key or "").strip())
        if match is not None and match.group(1) == "open":
            self.conversations.reopen(user, match.group(2))
        elif match is not None:
            self.conversations.delete(user, match.group(2))
        return self._show(user)

    def _show(self, user: str) -> tuple[Any, ...]:
        turns = self.conversations.open(user).turns
        resets = (render.PANEL_EMPTY, gr.update(visible=False), gr.update(visible=False), "")
        return (render.chat_messages(turns, self.origins), self.shown(user), *resets)
