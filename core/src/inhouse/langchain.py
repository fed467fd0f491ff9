"""LangChain integration: inhouse search as a retriever, inhouse answers as a chat model.

Needs ``langchain-core`` (``pip install "inhouse[langchain]"``). Both classes work over an
in-process ``inhouse.Assistant`` and over ``inhouse.Client`` (a running ``inhouse serve``)::

    from inhouse import Assistant
    from inhouse.langchain import ChatInhouse, InhouseRetriever

    assistant = Assistant.from_config()
    retriever = InhouseRetriever(assistant=assistant, user="ana", k=4)   # ACL-aware: ana's documents only
    docs = retriever.invoke("vacation days")                             # Documents with source, score, ...
    chat = ChatInhouse(assistant=assistant, user="ana")
    reply = chat.invoke("How many vacation days do I get?")
    reply.content, reply.response_metadata["citations"]

The chat model answers the last human message from the documents, with the earlier human and
AI messages as history. System messages are not passed on: inhouse answers under its own
instructions (cite the documents, say when they do not answer, the privacy policy), which a
prompt cannot replace. Generation settings (temperature, token limits) belong to the provider
profiles of ``plugins.toml``; tool calling and structured output are not offered.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Annotated, Any, get_args

try:
    from langchain_core.callbacks import (
        AsyncCallbackManagerForLLMRun,
        AsyncCallbackManagerForRetrieverRun,
        CallbackManagerForLLMRun,
        CallbackManagerForRetrieverRun,
    )
    from langchain_core.documents import Document
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
    from langchain_core.messages.ai import UsageMetadata
    from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
    from langchain_core.retrievers import BaseRetriever
    from pydantic import AfterValidator, ConfigDict, Field, model_validator
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError('inhouse.langchain needs langchain-core 1.x: pip install "inhouse[langchain]"') from exc

from inhouse.plugins import SearchMode
from inhouse.types import Answer, Hit

#: What an ``assistant`` must offer: ``inhouse.Assistant`` and ``inhouse.Client`` both do.
_METHODS = ("search", "asearch", "ask", "aask", "stream", "astream")


def _backend(value: Any) -> Any:
    """``value`` when it answers like an inhouse Assistant or Client (else a ValueError: pydantic
    reports it as the field's validation error)."""
    missing = [name for name in _METHODS if not callable(getattr(value, name, None))]
    if missing:
        kind = type(value).__name__
        raise ValueError(f"assistant must be an inhouse.Assistant or inhouse.Client; {kind} has no {', '.join(missing)}")
    return value


#: An ``assistant`` field: checked to answer like an inhouse Assistant or Client.
Backend = Annotated[Any, AfterValidator(_backend)]


def _as_user(assistant: Any, user: str | None) -> dict[str, str]:
    """The ``user=`` argument for ``assistant``'s calls: none for the local caller, and refused
    for a remote Client, whose API key decides who asks."""
    if user is None:
        return {}
    if "user" not in inspect.signature(assistant.search).parameters:
        raise ValueError("a remote inhouse.Client asks as its API key's user: leave `user` unset and use that user's key")
    return {"user": user}


def _source(assistant: Any) -> str:
    """Which documents ``assistant`` answers from (its server or data folder), so LangChain's
    caches never mix two of them."""
    return str(getattr(assistant, "base_url", None) or getattr(assistant, "home", "") or type(assistant).__name__)


def _check_options(kwargs: dict[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise TypeError(f"unexpected argument(s) {', '.join(unknown)}; inhouse takes {', '.join(allowed)}")


# ----------------------------------------------------------------------------- retriever


def hit_document(hit: Hit) -> Document:
    """A search hit as a LangChain ``Document``: the passage as ``page_content``; ``source``,
    ``title``, ``heading`` (or ``page``), ``score``, ``doc_id``, ``chunk_id`` and the rest of
    ``Hit.to_dict()`` as metadata; the chunk id as the Document's id."""
    data = hit.to_dict()
    text, chunk_id = data.pop("text"), data.pop("id")
    return Document(id=chunk_id or None, page_content=text, metadata={**data, "chunk_id": chunk_id})


class InhouseRetriever(BaseRetriever):
    """The passages inhouse search finds for a query, as LangChain ``Document``\\ s.

    ``user`` searches as that user of ``[users]`` (only the documents they may read); None is
    the local caller (an Assistant) or the API key's user (a Client). ``k`` and ``mode``
    (``hybrid``, ``dense``, ``bm25``; None: the configured one) can also be given per call:
    ``retriever.invoke(query, k=3)``."""

    assistant: Backend = Field(exclude=True)
    user: str | None = None
    k: int = Field(default=5, ge=1, le=50)
    mode: SearchMode | None = None

    @model_validator(mode="after")
    def _check_user(self) -> InhouseRetriever:
        _as_user(self.assistant, self.user)
        return self

    def _arguments(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        _check_options(kwargs, ("k", "mode"))
        k, mode = kwargs.get("k", self.k), kwargs.get("mode", self.mode)
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 50:
            raise ValueError(f"k must be a whole number from 1 to 50, not {k!r}")
        if mode is not None and mode not in get_args(SearchMode):
            raise ValueError(f"mode must be one of {', '.join(get_args(SearchMode))} or None, not {mode!r}")
        return {"k": k, "mode": mode, **_as_user(self.assistant, self.user)}

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        hits = self.assistant.search(query, **self._arguments(kwargs))
        return [hit_document(hit) for hit in hits]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        hits = await self.assistant.asearch(query, **self._arguments(kwargs))
        return [hit_document(hit) for hit in hits]


# ---------------------------------------------------------------------------- chat model


def conversation(messages: Sequence[BaseMessage]) -> tuple[str, list[dict[str, str]]]:
    """The question (the last human message) and the history (the human and AI messages before
    it, as ``{"role", "content"}`` turns) of a LangChain conversation.

    Consecutive messages of one role become one turn; system messages are left out (see the
    module). An AI message that came from ``ChatInhouse`` carries the residency its exchange
    was answered under, so a private turn never reaches a less private model."""
    turns: list[dict[str, str]] = []
    for message in messages:
        role = {"human": "user", "ai": "assistant", "system": "system"}.get(message.type)
        if message.type == "chat":
            role = {"user": "user", "assistant": "assistant", "system": "system"}.get(message.role)  # type: ignore[attr-defined]
        if role is None:
            raise ValueError(f"inhouse answers human and AI messages only, not {message.type!r} messages (no tool calling)")
        if role == "system":
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += "\n\n" + message.text
        else:
            turns.append({"role": role, "content": message.text})
        residency = (message.response_metadata.get("route") or {}).get("history_residency") if role == "assistant" else None
        if isinstance(residency, str) and residency:
            turns[-1]["residency"] = residency
            if len(turns) > 1:
                turns[-2]["residency"] = residency
    if not turns or turns[-1]["role"] != "user" or not turns[-1]["content"].strip():
        raise ValueError("the last message must be a human message with text: it is the question")
    return turns[-1]["content"], turns[:-1]


class _StopAt:
    """Ends the text at the first stop sequence, also one split across streamed pieces."""

    def __init__(self, stop: Sequence[str] | None):
        self.stop = [s for s in stop or () if s]
        self.held, self.done = "", False

    def feed(self, piece: str) -> str:
        """The part of ``piece`` (with what was held back) that is surely before any stop sequence."""
        if self.done:
            return ""
        text = self.held + piece
        found = [i for i in (text.find(s) for s in self.stop) if i >= 0]
        if found:
            self.done, self.held = True, ""
            return text[: min(found)]
        keep = max((len(s) - 1 for s in self.stop), default=0)
        cut = len(text) - keep if keep else len(text)
        self.held = text[cut:]
        return text[:cut]

    def flush(self) -> str:
        """What was held back, once the text has ended."""
        held, self.held = self.held, ""
        return held


def _metadata(answer: Answer, model_name: str) -> dict[str, Any]:
    return {
        "model_name": answer.provider or model_name,
        "citations": [c.to_dict() for c in answer.citations],
        "context": answer.context,
        "route": answer.route,
        "abstained": answer.abstained,
        "kind": answer.kind,
        "provider": answer.provider,
        "cost_usd": answer.cost_usd,
        "timings": answer.timings,
    }


def _usage(answer: Answer) -> UsageMetadata:
    usage = answer.usage
    return UsageMetadata(
        input_tokens=usage.input_tokens, output_tokens=usage.output_tokens, total_tokens=usage.input_tokens + usage.output_tokens
    )


class ChatInhouse(BaseChatModel):
    """inhouse answers as a LangChain chat model: cited answers from your documents.

    The last human message is the question, the human and AI messages before it the history.
    ``response_metadata`` holds the answer's ``citations``, the ``context`` passages the model
    received, the ``route`` (the routing decision), ``abstained``, ``kind``, ``provider``,
    ``cost_usd`` and ``timings``; ``usage_metadata`` the tokens. ``mode`` picks a use case of
    ``[routing]`` (None: the router chooses), ``provider_profile`` one provider profile alone
    (both also per call: ``chat.invoke(question, mode="private")``); ``user`` asks as that
    user of ``[users]`` (Assistant only). ``stop`` ends the text at a stop sequence;
    ``streaming`` makes ``invoke`` stream underneath. ``model_name`` is ``inhouse-<mode>``
    (``inhouse-auto``) or the profile: the names the HTTP API's ``model`` takes."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    assistant: Backend = Field(exclude=True)
    user: str | None = None
    mode: str | None = None
    provider_profile: str | None = None
    stop: list[str] | None = None
    streaming: bool = False

    @model_validator(mode="after")
    def _check_user(self) -> ChatInhouse:
        _as_user(self.assistant, self.user)
        return self

    @property
    def _llm_type(self) -> str:
        return "inhouse"

    @property
    def model_name(self) -> str:
        """``inhouse-<mode>`` (``inhouse-auto`` without one), or the provider profile."""
        return self.provider_profile or f"inhouse-{self.mode or 'auto'}"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        # LangChain's caches key on these: never one user's answer for another, or another data folder's.
        source = _source(self.assistant)
        return {"source": source, "user": self.user, "mode": self.mode, "provider_profile": self.provider_profile}

    def _request(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
        """The question, the keyword arguments of ``ask``/``stream`` and the model name of one call."""
        _check_options(kwargs, ("mode", "provider_profile"))
        mode, profile = kwargs.get("mode", self.mode), kwargs.get("provider_profile", self.provider_profile)
        question, history = conversation(messages)
        arguments = {"history": history, "mode": mode, "profile": profile, **_as_user(self.assistant, self.user)}
        return question, arguments, profile or f"inhouse-{mode or 'auto'}"

    def _result(self, answer: Answer, stop: list[str] | None, model_name: str) -> ChatResult:
        cut = _StopAt(stop if stop is not None else self.stop)
        text = cut.feed(answer.text) + cut.flush()
        message = AIMessage(content=text, response_metadata=_metadata(answer, model_name), usage_metadata=_usage(answer))
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        question, arguments, model_name = self._request(messages, kwargs)
        return self._result(self.assistant.ask(question, **arguments), stop, model_name)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        question, arguments, model_name = self._request(messages, kwargs)
        return self._result(await self.assistant.aask(question, **arguments), stop, model_name)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        question, arguments, model_name = self._request(messages, kwargs)
        chunks = _Chunks(_StopAt(stop if stop is not None else self.stop), model_name)
        for item in self.assistant.stream(question, **arguments):
            chunk = chunks.of(item)
            if chunk is not None:
                if run_manager and isinstance(item, str):
                    run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        question, arguments, model_name = self._request(messages, kwargs)
        chunks = _Chunks(_StopAt(stop if stop is not None else self.stop), model_name)
        async for item in self.assistant.astream(question, **arguments):
            chunk = chunks.of(item)
            if chunk is not None:
                if run_manager and isinstance(item, str):
                    await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                yield chunk


class _Chunks:
    """Turns an inhouse answer stream (text pieces, then the ``Answer``) into message chunks;
    the last one carries the metadata and the usage."""

    def __init__(self, stop: _StopAt, model_name: str):
        self.stop, self.model_name, self.sent = stop, model_name, False

    def of(self, item: str | Answer) -> ChatGenerationChunk | None:
        """The chunk for one streamed item (None: nothing to send yet)."""
        if isinstance(item, str):
            text = self.stop.feed(item)
            self.sent = self.sent or bool(text)
            return ChatGenerationChunk(message=AIMessageChunk(content=text)) if text else None
        rest = self.stop.flush()
        if not self.sent:  # nothing was streamed (or it was held back): the answer's own text
            cut = _StopAt(self.stop.stop)
            rest = cut.feed(item.text) + cut.flush()
        message = AIMessageChunk(
            content=rest,
            response_metadata=_metadata(item, self.model_name),
            usage_metadata=_usage(item),
            chunk_position="last",
        )
        return ChatGenerationChunk(message=message)
