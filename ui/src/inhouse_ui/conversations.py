"""Each user's conversations on the page: every finished answer is stored in the core
``ConversationStore`` (``<home>/conversations.sqlite3``) under the page's user, so
conversations survive a restart and the HTTP API and the SDK reach the same ones; what only
the page needs is kept in memory: the conversation each user has open, the answer streaming
now, images, feedback ids and the rendered HTML.

The user is the one the request names (``Auth.user``: the signed-in name, or ``visitor-…`` for
an anonymous visitor), never anything the page sends, so nobody sees, reopens or deletes
another person's conversation.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from inhouse.conversations import ConversationInfo, ConversationStore, StoredTurn
from inhouse.types import Answer


@dataclass
class Turn:
    """One question and what became of it."""

    question: str
    id: int = 0  # unique in the process: the page's source buttons name it
    mode: str | None = None
    partial: str = ""  # the text streamed so far
    answer: Answer | None = None
    error: str = ""
    images: list[str] = field(default_factory=list)  # ids served at images/{id}
    feedback_id: int | None = None
    started: float = field(default_factory=time.time)
    rendered: Any = None  # the chatbot content of the finished answer (cached)
    stored: int | None = None  # the id of the stored turn, once the answer is stored

    @property
    def done(self) -> bool:
        """Whether the turn has its answer or its error."""
        return self.answer is not None or bool(self.error)


@dataclass
class Open:
    """The conversation a user has open on the page: its stored id (None for a new conversation
    until its first answer is stored) and its turns, those of this server's life included."""

    id: str | None = None
    turns: list[Turn] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class Conversations:
    """The users' stored conversations, and the one each has open (kept for the ``max_open``
    most recently active users; the others reopen their latest from the store)."""

    def __init__(self, store: ConversationStore, max_turns: int = 200, max_open: int = 5000, listed: int = 50):
        self.store = store
        self.max_turns = max_turns
        self.max_open = max_open
        self.listed = listed
        self._open: OrderedDict[str, Open] = OrderedDict()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def open(self, user: str) -> Open:
        """The conversation ``user`` has open; on a server that has none for them yet, their most
        recently continued one (or a new one when they have none)."""
        with self._lock:
            current = self._open.get(user)
            if current is not None:
                self._open.move_to_end(user)
                return current
        latest = self.store.list(user, limit=1)
        return self._set(user, self._load(user, latest[0].id) if latest else Open(), replace=False)

    def reopen(self, user: str, conversation_id: str) -> Open | None:
        """Open ``user``'s stored conversation; None when it does not exist or is not theirs."""
        if self.store.get(user, conversation_id) is None:
            return None
        return self._set(user, self._load(user, conversation_id))

    def new(self, user: str) -> Open:
        """Start a new conversation for ``user`` (stored when its first answer is)."""
        return self._set(user, Open())

    def refresh(self, user: str) -> Open:
        """The open conversation with the turns stored elsewhere since (the API, the SDK, another
        tab of a server process) added after the known ones; a new one when it was deleted."""
        current = self.open(user)
        if current.id is None:
            return current
        info = self.store.get(user, current.id)
        if info is None:
            return self.new(user)
        with current.lock:
            if info.turns == sum(t.stored is not None for t in current.turns):
                return current
        stored = self.store.turns(user, current.id)
        with current.lock:
            known = {t.stored: t for t in current.turns if t.stored is not None}
            live = [t for t in current.turns if t.stored is None]
            current.turns[:] = ([known.get(s.id) or self._turn(s) for s in stored] + live)[-self.max_turns :]
        return current

    def add(self, conversation: Open, turn: Turn) -> None:
        """Append a new (unanswered) turn to ``conversation`` and give it an id."""
        with conversation.lock:
            turn.id = next(self._ids)
            conversation.turns.append(turn)
            del conversation.turns[: max(0, len(conversation.turns) - self.max_turns)]

    def keep(self, user: str, conversation: Open, turn: Turn) -> None:
        """Store ``turn``'s answer in ``conversation``, which is stored at its first answer; a
        conversation deleted meanwhile (another tab, the API) continues as a new one."""
        assert turn.answer is not None
        with conversation.lock:
            if conversation.id is None:
                conversation.id = self.store.create(user).id
            try:
                stored = self.store.append(user, conversation.id, turn.question, turn.answer)
            except KeyError:
                conversation.id = self.store.create(user).id
                stored = self.store.append(user, conversation.id, turn.question, turn.answer)
            turn.stored = stored.id

    def history(self, user: str, conversation: Open) -> list[dict[str, str]]:
        """The stored turns of ``conversation`` as ``Assistant.stream(history=...)``, each with
        the residency its answer was produced under (``ConversationStore.history``)."""
        return self.store.history(user, conversation.id) if conversation.id is not None else []

    def find(self, user: str, turn_id: int) -> Turn | None:
        """The turn with this id of the conversation ``user`` has open (None when it is not there)."""
        return next((t for t in self.open(user).turns if t.id == turn_id), None)

    def delete(self, user: str, conversation_id: str) -> bool:
        """Delete ``user``'s stored conversation (a new one opens if it was open); False when it
        is not theirs."""
        deleted = self.store.delete(user, conversation_id)
        if deleted and self.open(user).id == conversation_id:
            self.new(user)
        return deleted

    def listing(self, user: str) -> list[ConversationInfo]:
        """``user``'s conversations, the most recently continued first."""
        return self.store.list(user, limit=self.listed)

    def _set(self, user: str, conversation: Open, *, replace: bool = True) -> Open:
        with self._lock:
            if not replace and user in self._open:
                conversation = self._open[user]
            self._open[user] = conversation
            self._open.move_to_end(user)
            while len(self._open) > self.max_open:
                self._open.popitem(last=False)
            return conversation

    def _load(self, user: str, conversation_id: str) -> Open:
        stored = self.store.turns(user, conversation_id)[-self.max_turns :]
        return Open(conversation_id, [self._turn(s) for s in stored])

    def _turn(self, stored: StoredTurn) -> Turn:
        return Turn(stored.question, id=next(self._ids), answer=stored.answer, started=stored.created, stored=stored.id)
