"""The native routes of the HTTP API: questions, search and conversations (the documents' routes
are in ``api.documents``), each run as the caller (``api.common.caller``) exactly as the page
runs its user: ``Assistant.stream(..., user=)`` and ``Assistant.search(..., user=)`` apply the
documents' access lists, and a conversation is only ever its owner's.

- ``POST /v1/ask``: the answer as ``Answer.to_dict()`` plus ``conversation_id`` and ``turn_id``;
  with ``stream`` a ``text/event-stream`` of ``delta`` events (``{"text"}``), then one ``answer``
  event (the same dict), or an ``error`` event (``{"error": {...}}``) when it fails after the
  stream started. With ``conversation_id`` the history is the stored conversation's and the
  turn is added to it (``inhouse.conversations.ConversationStore``, shared with the page and the SDK).
- ``POST /v1/search``: the passages the caller may read.
- ``GET``/``POST /v1/conversations``, ``GET``/``DELETE /v1/conversations/{id}``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from inhouse.errors import ConfigError
from inhouse.types import Answer
from inhouse_ui.api.common import ERROR_RESPONSES, ApiError, Caller, caller, failure
from inhouse_ui.api.schemas import QUESTION_CHARS, Residency

CONVERSATION_ID_CHARS = 64  # ids are 32 hex characters: anything longer is not one
TURN_CHARS = 100_000  # the longest history turn


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


class HistoryTurn(BaseModel):
    """An earlier turn given with the question (instead of a stored conversation)."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str = Field(max_length=TURN_CHARS)
    residency: Residency | None = Field(None, description="where an assistant turn was answered (its history_residency)")


class AskRequest(BaseModel):
    """``POST /v1/ask``."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=QUESTION_CHARS)
    mode: str | None = Field(None, max_length=64, description="a use case of [routing] (auto or null: the router chooses)")
    profile: str | None = Field(None, max_length=128, description="answer with this provider profile alone")
    history: list[HistoryTurn] = Field(default_factory=list, max_length=200, description="earlier turns, oldest first")
    conversation_id: str | None = Field(
        None, max_length=CONVERSATION_ID_CHARS, description="continue this stored conversation (then give no history)"
    )
    stream: bool = Field(False, description="answer as text/event-stream: delta events, then one answer event")

    _question = field_validator("question")(_not_blank)


class CitationOut(BaseModel):
    """A numbered source of the answer, with the passage itself."""

    n: int
    source: str
    title: str
    text: str
    heading: str | None = Field(None, description="absent when the passage has a page")
    page: int | None = Field(None, description="absent when the passage has a heading")
    doc_id: str = ""
    highlights: list[str] = Field(default_factory=list, description="sentences of the answer quoted verbatim from it")


class AnswerBody(BaseModel):
    """An answer (``Answer.to_dict()``): its text, citations, the passages the model received,
    the routing decision, usage and timings."""

    answer: str
    abstained: bool
    citations: list[CitationOut]
    provider: str | None
    usage: dict[str, Any]
    cost_usd: float | None
    timings: dict[str, float]
    route: dict[str, Any] = Field(description="use_case, reason, chain, residency, history_residency, policy, ...")
    attempts: list[dict[str, Any]]
    artifacts: list[dict[str, Any]] = Field(description="images made: mime, bytes and meta (not their bytes)")
    context: list[dict[str, Any]] = Field(description="the passages exactly as the model received them")
    kind: str = Field(description="generated, quoted, or empty when it abstained")
    related: list[CitationOut] = Field(description="the closest passages, offered with an abstention")


class AskAnswer(AnswerBody):
    """The answer to ``POST /v1/ask`` (also the data of the stream's ``answer`` event)."""

    conversation_id: str | None = Field(description="the conversation the turn was added to (null: none)")
    turn_id: int | None = Field(description="the stored turn's id (null: no conversation)")


class SearchRequest(BaseModel):
    """``POST /v1/search``."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=QUESTION_CHARS)
    k: int = Field(5, ge=1, le=50, description="how many passages")
    mode: Literal["hybrid", "dense", "bm25"] | None = Field(None, description="null: the configured [retrieval] mode")

    _query = field_validator("query")(_not_blank)


class HitOut(BaseModel):
    """A passage the caller may read, with its fused score and each method's evidence."""

    source: str
    title: str
    heading: str | None = Field(None, description="absent when the passage has a page")
    page: int | None = Field(None, description="absent when the passage has a heading")
    score: float
    text: str
    id: str = Field(description="the passage (chunk) id")
    doc_id: str = Field(description="its document: GET /v1/documents/{doc_id}")
    ordinal: int
    dense: float | None
    bm25: float | None
    sensitivity: str


class SearchResult(BaseModel):
    """The answer to ``POST /v1/search``, best first."""

    hits: list[HitOut]


class ConversationOut(BaseModel):
    """A stored conversation: its title is its first question."""

    id: str
    title: str
    created: float
    updated: float
    turns: int = Field(description="how many questions it has")


class ConversationList(BaseModel):
    """The caller's conversations, the most recently continued first."""

    data: list[ConversationOut]


class NewConversation(BaseModel):
    """``POST /v1/conversations`` (the title is otherwise its first question)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field("", max_length=200)


class TurnOut(BaseModel):
    """A question of a conversation and the answer it got."""

    id: int
    question: str
    answer: AnswerBody
    created: float


class ConversationDetail(BaseModel):
    """A conversation with its turns, oldest first."""

    id: str
    title: str
    created: float
    updated: float
    turns: list[TurnOut]


router = APIRouter()


@router.post(
    "/ask",
    tags=["answers"],
    response_model=AskAnswer,
    response_model_exclude_unset=True,
    responses={
        **ERROR_RESPONSES,
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}, "description": "The answer (or its stream)"},
    },
)
def ask(body: AskRequest, request: Request, who: Caller = Depends(caller)) -> Any:
    """Answer a question from the documents you may read, with citations; with
    ``conversation_id`` it continues that conversation and is stored in it."""
    state = request.app.state
    history: list[dict[str, str]] = [turn.model_dump(exclude_none=True) for turn in body.history]
    if body.conversation_id is not None:
        if body.history:
            raise ApiError(400, "give either history or conversation_id, not both", param="history", code="invalid_value")
        if state.conversations.get(who.user, body.conversation_id) is None:
            raise _no_conversation()
        history = state.conversations.history(who.user, body.conversation_id)
    items = state.assistant.stream(body.question, user=who.user, history=history, mode=body.mode, profile=body.profile)
    try:
        first = next(items)  # a mode or profile that does not exist fails here, before any text
    except ConfigError as exc:  # the request's mode or profile: the message names what exists
        if body.mode is None and body.profile is None:
            raise failure(exc) from None
        param = "mode" if body.profile is None else "profile" if body.mode is None else None
        raise ApiError(400, str(exc), param=param, code="invalid_value") from None
    except Exception as exc:
        raise failure(exc) from None

    def finish(answer: Answer) -> dict[str, Any]:
        """The answer's dict, stored in the conversation first when there is one."""
        turn_id = None
        if body.conversation_id is not None:
            try:
                turn_id = state.conversations.append(who.user, body.conversation_id, body.question, answer).id
            except KeyError:  # deleted while it was being answered: the answer still stands
                turn_id = None
        return {**answer.to_dict(), "conversation_id": body.conversation_id if turn_id is not None else None, "turn_id": turn_id}

    if not body.stream:
        try:
            *_, answer = first, *items
        except Exception as exc:
            raise failure(exc) from None
        assert isinstance(answer, Answer)
        return finish(answer)
    return StreamingResponse(
        _events(first, items, finish),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _events(first: str | Answer, rest: Iterator[str | Answer], finish: Any) -> Iterator[str]:
    """The server-sent events of one answer: ``delta`` per piece of text, then ``answer``;
    ``error`` (and the end) when answering fails part-way."""
    item = first
    try:
        while True:
            if isinstance(item, Answer):
                yield _event("answer", finish(item))
                return
            if item:
                yield _event("delta", {"text": item})
            item = next(rest)
    except StopIteration:
        yield _event("error", failure(RuntimeError("the answer ended without its result")).body())
    except Exception as exc:
        yield _event("error", failure(exc).body())


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.post(
    "/search",
    tags=["answers"],
    response_model=SearchResult,
    response_model_exclude_unset=True,
    responses=ERROR_RESPONSES,
)
def search(body: SearchRequest, request: Request, who: Caller = Depends(caller)) -> Any:
    """The passages best matching ``query`` among the documents you may read."""
    try:
        hits = request.app.state.assistant.search(body.query, k=body.k, user=who.user, mode=body.mode)
    except Exception as exc:
        raise failure(exc, "the search") from None
    return {"hits": [hit.to_dict() for hit in hits]}


@router.get("/conversations", tags=["conversations"], response_model=ConversationList, responses=ERROR_RESPONSES)
def conversations(
    request: Request, limit: int = Query(50, ge=1, le=500, description="the most to list"), who: Caller = Depends(caller)
) -> Any:
    """Your conversations, the most recently continued first."""
    return {"data": [info.to_dict() for info in request.app.state.conversations.list(who.user, limit)]}


@router.post("/conversations", tags=["conversations"], status_code=201, response_model=ConversationOut, responses=ERROR_RESPONSES)
def new_conversation(request: Request, body: NewConversation | None = None, who: Caller = Depends(caller)) -> Any:
    """Start an empty conversation: ask in it with ``POST /v1/ask`` and its ``conversation_id``."""
    return request.app.state.conversations.create(who.user, body.title if body else "").to_dict()


@router.get(
    "/conversations/{conversation_id}",
    tags=["conversations"],
    response_model=ConversationDetail,
    response_model_exclude_unset=True,
    responses=ERROR_RESPONSES,
)
def conversation(conversation_id: str, request: Request, who: Caller = Depends(caller)) -> Any:
    """One of your conversations with its questions and answers."""
    store = request.app.state.conversations
    info = store.get(who.user, conversation_id) if len(conversation_id) <= CONVERSATION_ID_CHARS else None
    if info is None:
        raise _no_conversation()
    return {**info.to_dict(), "turns": [turn.to_dict() for turn in store.turns(who.user, conversation_id)]}


@router.delete(
    "/conversations/{conversation_id}",
    tags=["conversations"],
    status_code=204,
    response_class=Response,
    responses=ERROR_RESPONSES,
)
def delete_conversation(conversation_id: str, request: Request, who: Caller = Depends(caller)) -> Response:
    """Delete one of your conversations and its turns."""
    if len(conversation_id) > CONVERSATION_ID_CHARS or not request.app.state.conversations.delete(who.user, conversation_id):
        raise _no_conversation()
    return Response(status_code=204)


def _no_conversation() -> ApiError:
    return ApiError(404, "no conversation of yours has this id", param="conversation_id", code="conversation_not_found")
