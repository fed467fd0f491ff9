"""The chat page (Gradio Blocks): ask, read streamed answers with numbered sources, open a
source's passage beside the chat, rate answers, pick a mode and add documents.

Every handler reads the user from the request (``Auth``) and their conversation from the
server (``Conversations``, stored per user: they survive a restart, and ``conversation_list``
reopens or deletes past ones); the page only sends what was typed or clicked.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import gradio as gr

from inhouse.conversations import ConversationStore
from inhouse.errors import BudgetExceeded, InhouseError
from inhouse.types import Answer
from inhouse_ui import render
from inhouse_ui.auth import Auth
from inhouse_ui.conversation_list import ConversationList
from inhouse_ui.conversations import Conversations, Open, Turn
from inhouse_ui.feedback import Feedback
from inhouse_ui.files import Images
from inhouse_ui.settings import UISettings
from inhouse_ui.upload_guard import UploadRefused
from inhouse_ui.uploads import PERSONAL, SHARED, Uploads

log = logging.getLogger("inhouse_ui")

AUTO = "auto"
#: The modes the page offers, when ``[routing]`` configures them (Auto lets the router choose).
MODES = {
    "generative": "Generative",
    "reasoning": "Reasoning",
    "multilingual": "Multilingual",
    "image": "Image",
    "private": "Private",
}
#: A source button's key: an answer's citation (``cite``) or a closest passage of an abstention (``related``).
_CITE = re.compile(rf"^({render.CITED}|{render.RELATED})-(\d+)-(\d+)$")
STREAM_EVERY_S = 0.03  # at most this often a streamed answer is re-sent (the first piece goes at once)


def mode_choices(routing: dict[str, Any]) -> list[tuple[str, str]]:
    """Auto, then each of Generative, Reasoning, Multilingual, Image, Private that ``[routing]`` configures."""
    return [("Auto", AUTO)] + [(label, key) for key, label in MODES.items() if key in routing]


class Page:
    """The Blocks and their handlers for one assistant."""

    def __init__(
        self,
        assistant: Any,
        ui: UISettings,
        auth: Auth,
        *,
        conversations: Conversations | None = None,
        feedback: Feedback | None = None,
        uploads: Uploads | None = None,
        images: Images | None = None,
    ):
        self.assistant = assistant
        self.ui = ui
        self.auth = auth
        self.conversations = conversations or Conversations(ConversationStore(assistant.home))
        self.history = ConversationList(self.conversations, self._user, ui.allowed_link_origins)
        self.feedback = feedback or Feedback(assistant.home / "feedback.sqlite3")
        self.uploads = uploads or Uploads(assistant, workers=ui.upload_workers)
        self.images = images or Images()
        self.modes = mode_choices(assistant.settings.core.routing)

    # layout -------------------------------------------------------------------------------

    def build(self) -> gr.Blocks:
        """The Blocks: layout and events (each handler below is one event's)."""
        ui = self.ui
        private: dict[str, Any] = {"api_visibility": "private"}
        with gr.Blocks(title=ui.title, analytics_enabled=False, delete_cache=(3600, 86400)) as demo:
            header = gr.HTML(render.header_html(ui.title, "", False, ready=False), elem_id="header", js_on_load=None)
            with gr.Row(equal_height=False, elem_id="main"):
                with gr.Column(scale=3, min_width=320, elem_id="chat-column"):
                    chat = gr.Chatbot(
                        label="Conversation",
                        elem_id="chat",
                        height="62vh",
                        min_height=320,
                        buttons=["copy_all"],
                        feedback_options=("Like", "Dislike"),
                        placeholder="Ask a question about the company's documents: leave, travel, IT, offices…",
                        group_consecutive_messages=False,
                    )
                    with gr.Row(elem_id="ask-row", equal_height=True):
                        question = gr.Textbox(
                            label="Your question",
                            show_label=False,
                            placeholder="Ask a question…",
                            elem_id="question",
                            lines=1,
                            max_lines=6,
                            max_length=4000,
                            autofocus=True,
                            container=False,
                            scale=5,
                            min_width=160,
                        )
                        send = gr.Button("Send", variant="primary", elem_id="send", scale=1, min_width=72)
                    with gr.Row(elem_id="options-row", equal_height=True):
                        mode = gr.Radio(
                            self.modes,
                            value=AUTO,
                            label="Mode",
                            elem_id="mode",
                            visible=len(self.modes) > 1,
                            scale=4,
                            min_width=200,
                        )
                        new = gr.Button("New conversation", elem_id="new-chat", size="sm", scale=1, min_width=140)
                with gr.Column(scale=2, min_width=300, elem_id="side-column"):
                    with gr.Group(elem_id="citation-panel"):
                        panel = gr.HTML(render.PANEL_EMPTY, elem_id="citation-body", js_on_load=None)
                        close = gr.Button("Close source", elem_id="citation-close", size="sm", visible=False, variant="secondary")
                    with gr.Group(visible=False, elem_id="feedback") as feedback_group:
                        feedback_note = gr.HTML("", elem_id="feedback-note", js_on_load=None)
                        comment = gr.Textbox(
                            label="Comment (optional)",
                            elem_id="feedback-comment",
                            lines=2,
                            max_lines=6,
                            max_length=4000,
                            placeholder="What was good or wrong about this answer?",
                        )
                        comment_send = gr.Button("Send comment", elem_id="feedback-send", size="sm")
                    feedback_done = gr.HTML("", elem_id="feedback-done", js_on_load=None)
                    self.history.build()
                    if ui.uploads:
                        with gr.Group(elem_id="uploads"):
                            gr.HTML('<h2 class="uploads-title">Add documents</h2>', elem_id="uploads-title", js_on_load=None)
                            collection = gr.Radio(
                                [("Personal: only you", PERSONAL), ("Shared: everyone", SHARED)],
                                value=PERSONAL,
                                label="Collection",
                                elem_id="collection",
                            )
                            upload = gr.File(
                                label="Documents (drop files here, or choose)",
                                file_count="multiple",
                                type="filepath",
                                elem_id="upload",
                                height=140,
                            )
                            upload_status = gr.HTML("", elem_id="upload-status", js_on_load=None)
            # The source buttons inside answers reach Python through these (see assets/page.js).
            cite_key = gr.Textbox(label="Source to open", visible="hidden", elem_id="cite-key")
            cite_open = gr.Button("Open source", visible="hidden", elem_id="cite-open")
            feedback_turn = gr.State(None)

            load_outputs = [header, chat, self.history.html] + ([collection] if ui.uploads else [])
            demo.load(self.on_load, None, load_outputs, show_progress="hidden", queue=False, **private)
            gr.on(
                [question.submit, send.click],
                self.respond,
                [question, mode],
                [chat, question, self.history.html],
                show_progress="minimal",
                show_progress_on=[chat],
                concurrency_limit=ui.concurrency,
                concurrency_id="answer",
                **private,
            )
            cite_open.click(self.open_citation, [cite_key], [panel, close], show_progress="hidden", **private).then(
                None, js="() => window.inhouse && window.inhouse.showPanel()", **private
            )
            close.click(self.close_citation, None, [panel, close], show_progress="hidden", **private).then(
                None, js="() => window.inhouse && window.inhouse.focusQuestion()", **private
            )
            chat.like(
                self.on_like,
                None,
                [feedback_group, feedback_note, feedback_turn, comment, feedback_done],
                show_progress="hidden",
                **private,
            )
            gr.on(
                [comment_send.click, comment.submit],
                self.on_comment,
                [comment, feedback_turn],
                [feedback_group, feedback_done, comment],
                show_progress="hidden",
                **private,
            )
            self.history.wire(new, chat, [panel, close, feedback_group, feedback_done])
            mode.change(self.on_mode, [mode], None, show_progress="hidden", queue=False, **private)  # never holds up a question
            if ui.uploads:
                upload.upload(
                    self.on_upload,
                    [upload, collection],
                    [upload_status, upload],
                    show_progress="hidden",
                    concurrency_limit=ui.concurrency,
                    **private,
                )
        return demo

    # handlers -----------------------------------------------------------------------------

    def _user(self, request: gr.Request) -> str:
        try:
            return self.auth.user(request)
        except PermissionError:
            raise gr.Error("Sign in first.") from None

    def on_load(self, request: gr.Request) -> tuple[Any, ...]:
        """The header with the user, the conversation they have open (after a restart: their
        latest), the list of their conversations, and the collections they may add to."""
        user = self._user(request)
        header = render.header_html(self.ui.title, user, self.auth.mode in ("password", "oidc"))
        turns = self.conversations.refresh(user).turns
        out: list[Any] = [header, render.chat_messages(turns, self.ui.allowed_link_origins), self.history.shown(user)]
        if self.ui.uploads:
            choices = [("Personal: only you", PERSONAL)]
            if self.may_share(user):
                choices.append(("Shared: everyone", SHARED))
            out.append(gr.update(choices=choices, value=PERSONAL))
        return tuple(out)

    def mode_value(self, mode: str | None) -> str | None:
        """The ``mode=`` for the assistant: None for Auto (or anything not offered)."""
        offered = {value for _, value in self.modes}
        return mode if mode in offered and mode != AUTO else None

    def respond(self, question: str, mode: str, request: gr.Request) -> Iterator[tuple[Any, ...]]:
        """Stream one answer into the chat (the question box is emptied at once), store it in the
        open conversation, and list the conversations again."""
        user = self._user(request)
        question = (question or "").strip()
        if not question:
            yield gr.skip(), gr.skip(), gr.skip()
            return
        use_mode = self.mode_value(mode)
        conversation = self.conversations.open(user)
        history = self.conversations.history(user, conversation)
        turn = Turn(question, mode=use_mode)
        self.conversations.add(conversation, turn)
        origins = self.ui.allowed_link_origins

        def chat() -> Any:  # nothing while the user has another conversation open
            shown = self.conversations.open(user) is conversation
            return render.chat_messages(conversation.turns, origins) if shown else gr.skip()

        yield chat(), "", gr.skip()
        last = 0.0
        try:
            for item in self.assistant.stream(question, user=user, history=history, mode=use_mode):
                if isinstance(item, Answer):
                    turn.images = [self.images.add(a.data, a.mime, user) for a in item.artifacts if a.mime.startswith("image/")]
                    turn.answer = item
                    continue
                turn.partial += item
                now = time.perf_counter()
                if now - last >= STREAM_EVERY_S and turn.partial.strip():
                    last = now
                    yield chat(), gr.skip(), gr.skip()
        except Exception as exc:  # the reader sees an error id; the log has the details (never the question)
            error_id = secrets.token_hex(4)
            log.error("answer %s for %s failed: %s: %s", error_id, user, type(exc).__name__, exc, exc_info=exc)
            what = "the assistant could not answer" if isinstance(exc, InhouseError) else "the answer failed"
            turn.error = f"{what} (error {error_id}; the server log has the details)"
            if isinstance(exc, BudgetExceeded):  # the reader's own limit: what it is and when it resets
                turn.error = str(exc)
        if turn.answer is None and not turn.error:
            turn.error = "the assistant stopped without an answer"
        elif turn.answer is not None and not turn.error:
            self._keep(user, conversation, turn)
        yield chat(), gr.skip(), self.history.shown(user)

    def _keep(self, user: str, conversation: Open, turn: Turn) -> None:
        try:
            self.conversations.keep(user, conversation, turn)
        except Exception as exc:  # the answer is shown all the same; only this conversation misses it
            log.error("storing the answer for %s failed: %s: %s", user, type(exc).__name__, exc, exc_info=exc)

    def open_citation(self, key: str, request: gr.Request) -> tuple[str, Any]:
        """The passage of source ``cite-TURN-N`` (or closest passage ``related-TURN-N``) of the
        user's own conversation, beside the chat."""
        user = self._user(request)
        match = _CITE.match((key or "").strip())
        turn = self.conversations.find(user, int(match.group(2))) if match else None
        answer = turn.answer if turn is not None else None
        if match is None or answer is None:
            return render.PANEL_EMPTY, gr.update(visible=False)
        related = match.group(1) == render.RELATED
        n = int(match.group(3))
        citation = next((c for c in (answer.related if related else answer.citations) if c.n == n), None)
        if citation is None:
            return render.PANEL_EMPTY, gr.update(visible=False)
        return render.passage_html(citation, citation.doc_id or None, related=related), gr.update(visible=True)

    def close_citation(self) -> tuple[str, Any]:
        """Empty the passage panel."""
        return render.PANEL_EMPTY, gr.update(visible=False)

    def on_like(self, data: gr.LikeData, request: gr.Request) -> tuple[Any, ...]:
        """Store a thumbs up or down (or take it back) for one of the user's answers."""
        user = self._user(request)
        index = data.index[0] if isinstance(data.index, list | tuple) else data.index
        turns = self.conversations.open(user).turns
        position = int(index) // 2
        turn = turns[position] if 0 <= position < len(turns) else None
        if turn is None or turn.answer is None:
            return gr.update(visible=False), "", None, "", ""
        rating = 1 if data.liked is True else -1 if data.liked is False else 0
        answer = turn.answer
        fields = ("n", "source", "title", "heading", "page")
        sources = [{**{f: getattr(c, f) for f in fields}, "doc_id": c.doc_id or None} for c in answer.citations]
        turn.feedback_id = self.feedback.rate(
            user=user,
            question=turn.question,
            answer=answer.text,
            sources=sources,
            provider=answer.provider,
            rating=rating,
            mode=answer.route.get("use_case"),
            feedback_id=turn.feedback_id,
        )
        if rating == 0:
            return gr.update(visible=False), "", None, "", render.notice("Rating removed.")
        verdict = "helpful" if rating > 0 else "not helpful"
        note = render.feedback_note(turn.question, verdict)
        return gr.update(visible=True), note, turn.id, "", ""

    def on_comment(self, text: str, turn_id: int | None, request: gr.Request) -> tuple[Any, ...]:
        """Attach a comment to the user's rating of an answer."""
        user = self._user(request)
        turn = self.conversations.find(user, int(turn_id)) if turn_id is not None else None
        if turn is None or turn.feedback_id is None:
            return gr.update(visible=False), "", ""
        if (text or "").strip():
            self.feedback.comment(turn.feedback_id, user, text)
            return gr.update(visible=False), render.notice("Thanks, your comment was saved."), ""
        return gr.update(visible=False), "", ""

    def on_mode(self, mode: str) -> None:
        """Load the chosen mode's first model while the user types."""
        chosen = self.mode_value(mode)
        if chosen is not None and chosen != "image":
            threading.Thread(target=_warm_up, args=(self.assistant, chosen), daemon=True, name="inhouse-ui-warm-up").start()

    def on_upload(self, files: list[str] | None, collection: str, request: gr.Request) -> Iterator[tuple[Any, Any]]:
        """Save the dropped files, ingest them in the background, show progress, then the report."""
        user = self._user(request)
        if not files:
            yield gr.skip(), gr.skip()
            return
        chosen = SHARED if collection == SHARED else PERSONAL
        if chosen == SHARED and not self.may_share(user):
            yield render.upload_message("You may not add documents to the shared collection.", bad=True), None
            return
        paths = [f if isinstance(f, str) else getattr(f, "name", str(f)) for f in files]
        try:
            job = self.uploads.save(paths, user, chosen)
        except UploadRefused as exc:
            yield render.upload_message(f"Not added: {exc}.", bad=True), None
            return
        for path in paths:  # the page's copy in Gradio's upload folder is not needed any more
            with contextlib.suppress(OSError):
                os.unlink(path)
        while not job.finished.wait(0.25):
            yield render.upload_progress(job), gr.skip()
        yield render.upload_report(job), None

    def may_share(self, user: str) -> bool:
        """Whether ``user`` may add to (and so replace in) the shared collection: a member of a
        group of ``[ui] shared_writers``, or the one local person when nobody is configured
        (no ``[users]``, no sign-in)."""
        directory = self.assistant.directory
        if not directory.configured and self.auth.mode == "anonymous" and not self.ui.shared_writers:
            return True
        return not set(directory.groups(user)).isdisjoint(self.ui.shared_writers)


def _warm_up(assistant: Any, mode: str | None) -> None:
    try:
        assistant.warm_up(mode)
    except Exception as exc:  # a cold first answer is the only cost
        log.warning("warming up %s failed: %s", mode or "the default chain", exc)
