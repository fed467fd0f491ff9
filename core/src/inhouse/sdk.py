"""What the in-process ``Assistant`` and the remote ``inhouse.Client`` share: the async variants
(``aask``, ``astream``, ``asearch``) and ``Conversation``, a stored conversation continued
question by question.

The ``Assistant`` runs its sync methods in threads for the async variants (``LocalSDK``); the
``Client`` speaks HTTP with ``httpx.AsyncClient`` itself. A conversation lives in the data
folder (``inhouse.conversations``), so the chat page, the HTTP API, the ``Client`` and the
``Assistant`` of the same data folder reach the same ones.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol, TypeVar

from inhouse.conversations import ConversationInfo, ConversationStore, StoredTurn
from inhouse.errors import AccessDenied, InhouseError
from inhouse.plugins import SearchMode
from inhouse.types import Answer, Hit

T = TypeVar("T")
#: Earlier turns of a conversation: ``{"role", "content", "residency"?}`` dicts or ``(role, content)`` pairs.
History = Sequence[dict[str, str]] | Sequence[tuple[str, str]]


def as_messages(history: History) -> list[dict[str, str]]:
    """History as ``{"role", "content"}`` turns, each keeping the ``"residency"`` it was produced
    under when it has one (``Answer.route["history_residency"]``: see ``inhouse.policy``)."""
    out = []
    for turn in history:
        if isinstance(turn, dict):
            kept = {"role": str(turn["role"]), "content": str(turn["content"])}
            if turn.get("residency"):
                kept["residency"] = str(turn["residency"])
            out.append(kept)
        else:
            role, content = turn
            out.append({"role": str(role), "content": str(content)})
    return out


def final_answer(items: Iterable[str | Answer]) -> Answer:
    """The ``Answer`` that ends a stream of text pieces."""
    answer = None
    for item in items:
        if isinstance(item, Answer):
            answer = item
    if answer is None:
        raise InhouseError("the answer stream ended without an answer")
    return answer


async def afinal_answer(items: AsyncIterator[str | Answer]) -> Answer:
    """The ``Answer`` that ends an async stream of text pieces."""
    answer = None
    async for item in items:
        if isinstance(item, Answer):
            answer = item
    if answer is None:
        raise InhouseError("the answer stream ended without an answer")
    return answer


async def iterate_in_thread(make: Callable[[], Iterator[T]]) -> AsyncIterator[T]:
    """The items of the sync iterator ``make()``, produced in a thread of its own.

    When the consumer stops early (``break``, ``aclose()``, a cancelled task), the thread
    stops at the next item and closes the iterator (its ``finally`` blocks run there), so no
    generator thread outlives its consumer by more than one item."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
    stop = threading.Event()

    def put(kind: str, value: Any) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))
        except RuntimeError:  # the event loop is closed: nobody is listening any more
            stop.set()

    def pump() -> None:
        try:
            iterator = make()
            try:
                for item in iterator:
                    if stop.is_set():
                        return
                    put("item", item)
            finally:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()
        except BaseException as exc:  # handed to the consumer, raised there
            put("error", exc)
        else:
            put("end", None)

    thread = threading.Thread(target=pump, daemon=True, name="inhouse-astream")
    thread.start()
    try:
        while True:
            kind, value = await queue.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()


# --------------------------------------------------------------------------- conversations


class ConversationBackend(Protocol):
    """Where a ``Conversation`` lives: the data folder (``StoredConversations``) or a server (the ``Client``)."""

    def info(self, conversation_id: str) -> ConversationInfo:
        """The conversation now; ``AccessDenied`` when it does not exist or is not the caller's."""
        ...

    def stream(self, conversation_id: str, question: str, mode: str | None, profile: str | None) -> Iterator[str | Answer]:
        """Answer ``question`` with the conversation's turns as history and store the turn."""
        ...

    def astream(self, conversation_id: str, question: str, mode: str | None, profile: str | None) -> AsyncIterator[str | Answer]:
        """``stream``, async."""
        ...

    def turns(self, conversation_id: str) -> list[StoredTurn]:
        """Its questions and answers, in order."""
        ...

    def delete(self, conversation_id: str) -> bool:
        """Delete it; False when there was none of the caller's."""
        ...


class Conversation:
    """A conversation stored in the data folder: each question is answered with the earlier
    turns as history, and the turn is kept.

    >>> chat = assistant.conversation()            # or client.conversation(); pass id= to continue one
    >>> chat.ask("Which wifi should my visitors join?").text
    >>> chat.ask("And what is the password?").text  # "the password" of that wifi
    >>> chat.id, len(chat.turns())
    """

    def __init__(self, backend: ConversationBackend, info: ConversationInfo):
        self._backend = backend
        self.id = info.id  #: 32 hex characters: pass it to ``conversation(id=...)`` to continue later

    def __repr__(self) -> str:
        return f"Conversation(id={self.id!r})"

    def info(self) -> ConversationInfo:
        """Its title (the first question), times and number of turns, as stored now."""
        return self._backend.info(self.id)

    def ask(self, question: str, *, mode: str | None = None, profile: str | None = None) -> Answer:
        """Answer ``question`` in this conversation (``mode`` and ``profile`` as for ``ask``)."""
        return final_answer(self.stream(question, mode=mode, profile=profile))

    def stream(self, question: str, *, mode: str | None = None, profile: str | None = None) -> Iterator[str | Answer]:
        """Yield the answer's text as it is generated, then the final ``Answer``; the turn is
        stored once the answer is complete."""
        return self._backend.stream(self.id, question, mode, profile)

    async def aask(self, question: str, *, mode: str | None = None, profile: str | None = None) -> Answer:
        """``ask``, async."""
        return await afinal_answer(self.astream(question, mode=mode, profile=profile))

    def astream(self, question: str, *, mode: str | None = None, profile: str | None = None) -> AsyncIterator[str | Answer]:
        """``stream``, async: ``async for piece in conversation.astream(question)``."""
        return self._backend.astream(self.id, question, mode, profile)

    def turns(self) -> list[StoredTurn]:
        """Its questions and answers (``StoredTurn``: ``id``, ``question``, ``answer``, ``created``), in order."""
        return self._backend.turns(self.id)

    def delete(self) -> bool:
        """Delete the conversation and its turns; False when it was gone already."""
        return self._backend.delete(self.id)


class StoredConversations:
    """The conversations of one user of an ``Assistant`` (``user`` None: the local caller), in
    its data folder's ``ConversationStore``."""

    def __init__(self, assistant: Any, user: str | None):
        self.assistant, self.user = assistant, user
        self.store: ConversationStore = assistant.conversation_store

    def info(self, conversation_id: str) -> ConversationInfo:
        """The stored conversation; ``AccessDenied`` alike for an unknown id and another user's."""
        info = self.store.get(self.user, conversation_id)
        if info is None:
            raise AccessDenied(f"no such conversation: {conversation_id!r}")
        return info

    def stream(self, conversation_id: str, question: str, mode: str | None, profile: str | None) -> Iterator[str | Answer]:
        """Answer with the stored turns as history; the turn is appended once the answer is complete."""
        self.info(conversation_id)
        history = self.store.history(self.user, conversation_id)
        for item in self.assistant.stream(question, user=self.user, history=history, mode=mode, profile=profile):
            if isinstance(item, Answer):
                try:
                    self.store.append(self.user, conversation_id, question, item)
                except KeyError:
                    raise AccessDenied(f"conversation {conversation_id!r} was deleted while answering") from None
            yield item

    def astream(self, conversation_id: str, question: str, mode: str | None, profile: str | None) -> AsyncIterator[str | Answer]:
        """``stream`` in a thread."""
        return iterate_in_thread(lambda: self.stream(conversation_id, question, mode, profile))

    def turns(self, conversation_id: str) -> list[StoredTurn]:
        """The stored turns ([] for an unknown id or another user's)."""
        return self.store.turns(self.user, conversation_id)

    def delete(self, conversation_id: str) -> bool:
        """Delete the stored conversation."""
        return self.store.delete(self.user, conversation_id)


# ------------------------------------------------------------------- the Assistant's share


class LocalSDK:
    """The async variants and the conversations of the in-process ``Assistant``, built on its
    sync ``ask``, ``stream`` and ``search`` (the ``Client`` has the same methods over HTTP)."""

    home: Path  # and ask, stream and search: the Assistant's own

    async def aask(self, question: str, user: str | None = None, history: History = (), mode: str | None = None,
                   images: Sequence[bytes] = (), profile: str | None = None) -> Answer:  # fmt: skip
        """``ask``, async (answered in a thread; cancelling it stops the answer at its next piece)."""
        return await afinal_answer(self.astream(question, user, history, mode, images, profile))

    def astream(self, question: str, user: str | None = None, history: History = (), mode: str | None = None,
                images: Sequence[bytes] = (), profile: str | None = None) -> AsyncIterator[str | Answer]:  # fmt: skip
        """``stream``, async: ``async for piece in assistant.astream(question)`` yields the text
        pieces, then the ``Answer``. The answer is generated in a thread that stops at the next
        piece when the loop is left early or the task is cancelled."""
        return iterate_in_thread(lambda: self.stream(question, user, history, mode, images, profile))

    async def asearch(self, query: str, k: int = 5, user: str | None = None, *, filters: dict[str, Any] | None = None,
                      mode: SearchMode | None = None) -> list[Hit]:  # fmt: skip
        """``search``, async (in a thread)."""
        return await asyncio.to_thread(self.search, query, k, user, filters=filters, mode=mode)

    @cached_property
    def conversation_store(self) -> ConversationStore:
        """Every user's conversations, in ``<home>/conversations.sqlite3``."""
        return ConversationStore(self.home)

    def conversation(self, id: str | None = None, user: str | None = None) -> Conversation:
        """A new conversation of ``user`` (None: the local caller), or their conversation ``id``
        (``AccessDenied`` when it does not exist or is someone else's)."""
        backend = StoredConversations(self, user)
        info = self.conversation_store.create(user) if id is None else backend.info(id)
        return Conversation(backend, info)

    def conversations(self, user: str | None = None, limit: int = 50) -> list[ConversationInfo]:
        """``user``'s conversations, the most recently continued first."""
        return self.conversation_store.list(user, limit)
