"""The OpenAI-compatible routes: ``POST /v1/chat/completions`` (streamed as server-sent
``chat.completion.chunk`` events ending with ``data: [DONE]``, or not), ``GET /v1/models``
and ``POST /v1/embeddings``. Any OpenAI client library reaches inhouse through them.

``model`` chooses how a question is answered: ``inhouse-auto`` (the router chooses),
``inhouse-<use case>`` for each use case of ``[routing]``, or a provider profile's name
alone. The last message is the question, the earlier ones the conversation so far; the
answer's citations, the passages the model received and the routing decision travel in the
extra field ``inhouse`` (on the last chunk when streaming), which OpenAI clients ignore.

``/v1/embeddings`` uses the configured embedder, and is refused (403) when ``[policy]`` does
not let text of the default label (``[access] default_label``) go to the embedder's residency:
what a client sends is treated like a document nobody labelled.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import StreamingResponse

from inhouse.policy import Policy
from inhouse.types import Answer
from inhouse_ui.api.common import ApiError, Caller, caller, failure
from inhouse_ui.api.schemas import (
    QUESTION_CHARS,
    AssistantMessage,
    ChatCompletion,
    ChatMessage,
    ChatRequest,
    Choice,
    CompletionUsage,
    Embedding,
    EmbeddingList,
    EmbeddingRequest,
    EmbeddingUsage,
    InhouseExtra,
    Model,
    ModelList,
)

AUTO = "inhouse-auto"
USE_CASE = "inhouse-"  # then a use case of [routing]
EMBED = "inhouse-embed"
STREAM_DOC = {
    "description": "With `stream: true`: `data: {chat.completion.chunk}` events, the last one with `inhouse`, "
    'then `data: [DONE]`; a failure after the first chunk is `data: {"error": {...}}`.',
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}

router = APIRouter(tags=["OpenAI-compatible"])


@router.get("/models", response_model=ModelList)
def list_models(request: Request, who: Caller = Depends(caller)) -> ModelList:
    """The names ``model`` accepts: ``inhouse-auto``, one per use case of ``[routing]``, each
    provider profile, and ``inhouse-embed`` (for ``/v1/embeddings``)."""
    return ModelList(data=[Model(id=name) for name in model_names(request.app.state.assistant)])


@router.get("/models/{model}", response_model=Model)
def get_model(model: str, request: Request, who: Caller = Depends(caller)) -> Model:
    """One model name, or 404 when ``model`` accepts no such name."""
    if model not in model_names(request.app.state.assistant):
        raise _unknown_model(model, request.app.state.assistant)
    return Model(id=model)


@router.post("/chat/completions", response_model=ChatCompletion, responses={200: STREAM_DOC})
def chat_completions(body: ChatRequest, request: Request, who: Caller = Depends(caller)) -> Any:
    """Answer the last message from the documents the caller may read, with citations in ``inhouse``."""
    assistant = request.app.state.assistant
    mode, profile = _route(assistant, body.model)
    question, history = _question(body.messages)
    items = assistant.stream(question, user=who.user, history=history, mode=mode, profile=profile)
    try:
        first = next(items, None)  # a failure before the first piece is an error response, not a broken stream
    except Exception as exc:
        raise failure(exc) from None
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        return StreamingResponse(
            _events(first, items, body.model, include_usage),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
    try:
        answer = next((item for item in _chained(first, items) if isinstance(item, Answer)), None)
    except Exception as exc:
        raise failure(exc) from None
    if answer is None:
        raise failure(RuntimeError("the assistant stopped without an answer"))
    return ChatCompletion(
        id=_completion_id(),
        created=int(time.time()),
        model=body.model,
        choices=[Choice(message=AssistantMessage(content=answer.text))],
        usage=_usage(answer),
        inhouse=extra(answer),
    )


@router.post("/embeddings", response_model=EmbeddingList)
def embeddings(body: EmbeddingRequest, request: Request, who: Caller = Depends(caller)) -> EmbeddingList:
    """The configured embedder's vectors of ``input`` (refused when ``[policy]`` keeps text from it)."""
    assistant = request.app.state.assistant
    embedder = assistant.embedder
    if body.model not in (EMBED, embedder.model_id):
        raise ApiError(404, f"no embedding model {body.model!r}: use {EMBED!r} (the embedder {embedder.model_id})",
                       code="model_not_found", param="model")  # fmt: skip
    label = assistant.settings.core.access.default_label
    if not Policy(assistant.settings.core.policy).may_send(label, embedder.residency):
        raise ApiError(
            403,
            f"[policy] does not let {label} text go to the {embedder.residency} embedder ({embedder.model_id}), "
            "so this server does not embed text for clients; allow it under [policy] labels, or use a more private embedder",
            type="permission_error",
            code="policy_forbids",
        )
    if body.dimensions is not None and body.dimensions != embedder.dimension:
        raise ApiError(400, f"the embedder's vectors have {embedder.dimension} dimensions, not {body.dimensions}",
                       param="dimensions")  # fmt: skip
    texts = [body.input] if isinstance(body.input, str) else body.input
    before = replace(embedder.usage)
    try:
        vectors = assistant.embed(texts, user=who.user)
    except Exception as exc:
        raise failure(exc, "the embedding") from None
    tokens = embedder.usage.input_tokens - before.input_tokens
    data = [
        Embedding(index=i, embedding=_b64(row) if body.encoding_format == "base64" else row.astype(float).tolist())
        for i, row in enumerate(vectors)
    ]
    return EmbeddingList(data=data, model=embedder.model_id, usage=EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens))


def model_names(assistant: Any) -> list[str]:
    """``inhouse-auto``, ``inhouse-<use case>`` for each use case of ``[routing]``, each provider profile, ``inhouse-embed``."""
    cases = [USE_CASE + name for name in assistant.settings.core.routing]
    return list(dict.fromkeys([AUTO, *cases, *assistant.settings.providers, EMBED]))


def document_models(app: FastAPI) -> None:
    """Have ``app``'s OpenAPI document list the names ``model`` accepts in this configuration
    (an ``enum``), so a client or a test generator sees them."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schemas = build()["components"]["schemas"]
            assistant = app.state.assistant
            chat = [name for name in model_names(assistant) if name != EMBED]
            schemas["ChatRequest"]["properties"]["model"]["enum"] = chat
            schemas["EmbeddingRequest"]["properties"]["model"]["enum"] = [EMBED, assistant.embedder.model_id]
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def extra(answer: Answer) -> InhouseExtra:
    """The ``inhouse`` field of a completion: citations, passages, route, and how it answered."""
    return InhouseExtra(
        citations=[c.to_dict() for c in answer.citations],
        context=answer.context,
        route=answer.route,
        abstained=answer.abstained,
        kind=answer.kind,
        provider=answer.provider,
    )


def _route(assistant: Any, model: str) -> tuple[str | None, str | None]:
    """The (mode, profile) that ``model`` names; 404 for any other name."""
    routing, providers = assistant.settings.core.routing, assistant.settings.providers
    if model == AUTO:
        return None, None
    if model.startswith(USE_CASE) and model[len(USE_CASE) :] in routing:
        return model[len(USE_CASE) :], None
    if model in providers:
        return None, model
    raise _unknown_model(model, assistant)


def _unknown_model(model: str, assistant: Any) -> ApiError:
    names = [name for name in model_names(assistant) if name != EMBED]
    return ApiError(404, f"no model {model[:100]!r}: use one of {', '.join(names)}", code="model_not_found", param="model")


def _question(messages: list[ChatMessage]) -> tuple[str, list[dict[str, str]]]:
    """The last message's text (the question) and the conversation before it, as history."""
    last = messages[-1]
    question = last.text().strip()
    if last.role != "user" or not question:
        raise ApiError(400, "the last message must be the user's question, with text", param="messages")
    if len(question) > QUESTION_CHARS:
        raise ApiError(400, f"the question is {len(question)} characters long; at most {QUESTION_CHARS}", param="messages")
    history = []
    for message in messages[:-1]:
        if message.role in ("user", "assistant"):
            turn = {"role": message.role, "content": message.text()}
            if message.residency:
                turn["residency"] = message.residency
            history.append(turn)
    return question, history


def _events(first: Any, items: Iterator[Any], model: str, include_usage: bool) -> Iterator[str]:
    """The server-sent events of a streamed completion."""
    cid, created = _completion_id(), int(time.time())

    def chunk(delta: dict[str, Any] | None, finish: str | None = None, **more: Any) -> str:
        body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model}
        body["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}] if delta is not None else []
        return _sse({**body, **more})

    yield chunk({"role": "assistant", "content": ""})
    sent, answer = "", None
    try:
        for item in _chained(first, items):
            if isinstance(item, Answer):
                answer = item
            elif item:
                sent += item
                yield chunk({"content": item})
    except Exception as exc:  # the stream has started: the error is its last event
        yield _sse(failure(exc).body())
        return
    if answer is None:
        yield _sse(failure(RuntimeError("the assistant stopped without an answer")).body())
        return
    if answer.text.startswith(sent) and len(answer.text) > len(sent):  # text the answer has beyond what streamed
        yield chunk({"content": answer.text[len(sent) :]})
    yield chunk({}, "stop", inhouse=extra(answer).model_dump())
    if include_usage:
        yield chunk(None, usage=_usage(answer).model_dump())
    yield "data: [DONE]\n\n"


def _chained(first: Any, items: Iterator[Any]) -> Iterator[Any]:
    if first is None:
        return
    yield first
    yield from items


def _sse(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, ensure_ascii=False, separators=(',', ':'))}\n\n"


def _usage(answer: Answer) -> CompletionUsage:
    read, wrote = answer.usage.input_tokens, answer.usage.output_tokens
    return CompletionUsage(prompt_tokens=read, completion_tokens=wrote, total_tokens=read + wrote)


def _completion_id() -> str:
    return f"chatcmpl-{secrets.token_hex(12)}"


def _b64(row: Any) -> str:
    """A vector as base64 of little-endian float32 (what OpenAI clients decode)."""
    return base64.b64encode(row.astype("<f4").tobytes()).decode("ascii")
