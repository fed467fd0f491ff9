"""Each user's conversation, kept on the server (never taken from the page).

A conversation is keyed by the signed-in user (or, for the anonymous user, by browser
session), so nobody sees another person's questions. It lives in memory: a restart or
"New conversation" starts afresh.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

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

    @property
    def done(self) -> bool:
        """Whether the turn has its answer or its error."""
        return self.answer is not None or bool(self.error)


class Conversations:
    """Turns by conversation key; the least recently used conversations are dropped past ``max_keys``."""

    def __init__(self, max_turns: int = 200, max_keys: int = 5000):
        self.max_turns = max_turns
        self.max_keys = max_keys
        self._data: OrderedDict[str, list[Turn]] = OrderedDict()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def turns(self, key: str) -> list[Turn]:
        """The conversation of ``key`` (the live list; append with ``add``)."""
        with self._lock:
            turns = self._data.get(key)
            if turns is None:
                turns = self._data[key] = []
                while len(self._data) > self.max_keys:
                    self._data.popitem(last=False)
            self._data.move_to_end(key)
            return turns

    def add(self, key: str, turn: Turn) -> int:
        """Append ``turn`` and give it an id; returns its index (turns beyond ``max_turns`` are forgotten)."""
        turns = self.turns(key)
        with self._lock:
            turn.id = next(self._ids)
            turns.append(turn)
            if len(turns) > self.max_turns:
                del turns[: len(turns) - self.max_turns]
            return len(turns) - 1

    def find(self, key: str, turn_id: int) -> Turn | None:
        """The turn of ``key``'s conversation with this id (None if it is not theirs)."""
        return next((t for t in self.turns(key) if t.id == turn_id), None)

    def clear(self, key: str) -> None:
        """Forget the conversation of ``key``."""
        with self._lock:
            self._data.pop(key, None)

    def history(self, key: str) -> list[dict[str, str | None]]:
        """The finished turns as ``[{"role", "content", "residency"}, ...]`` for
        ``Assistant.stream(history=...)``: each question and answer carries the residency of
        that exchange (``route["history_residency"]``: where it was answered, or, when no model
        answered, the most private residency its use case allows), so a private turn is never
        sent to a less private provider. An exchange without one is kept out (unknown)."""
        out: list[dict[str, str | None]] = []
        for turn in self.turns(key):
            if turn.answer is not None and turn.answer.route.get("use_case") != "image":
                residency = turn.answer.route.get("history_residency")
                if residency is None:
                    continue
                out += [
                    {"role": "user", "content": turn.question, "residency": residency},
                    {"role": "assistant", "content": turn.answer.text, "residency": residency},
                ]
        return out
