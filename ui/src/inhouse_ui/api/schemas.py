"""The request and response bodies of the OpenAI-compatible routes (``api.openai``), as pydantic
models so the OpenAPI document says exactly what is accepted and returned.

Requests accept the fields OpenAI clients send and ignore those that have no meaning here
(``temperature``, ``max_tokens``, ``user``...): the answer pipeline chooses. ``messages`` may
carry ``residency`` on an assistant turn (``inhouse.route.history_residency`` of the answer it
was): that turn then reaches only models at least as private, as in ``Assistant.stream``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Residency = Literal["local", "self-hosted", "in-account", "external"]
QUESTION_CHARS = 4000  # the longest question (the chat page's limit too)


class TextPart(BaseModel):
    """A text part of a message's content (images are not taken here: use ``POST /v1/ask``)."""

    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    """One message: the last one (``user``) is the question, earlier ``user`` and ``assistant``
    ones the conversation so far; ``system`` and ``developer`` messages are ignored (the
    assistant has its own instructions)."""

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None
    residency: Residency | None = Field(None, description="where an assistant turn was answered (its history_residency)")

    def text(self) -> str:
        """The content as one string."""
        if isinstance(self.content, list):
            return "\n".join(part.text for part in self.content)
        return self.content or ""


class StreamOptions(BaseModel):
    """``include_usage``: a last chunk with the token counts (and no choices)."""

    include_usage: bool = False


class ChatRequest(BaseModel):
    """``POST /v1/chat/completions``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"model": "inhouse-auto", "messages": [{"role": "user", "content": "How many vacation days do I get?"}]},
                {"model": "inhouse-auto", "messages": [{"role": "user", "content": "Where do I park?"}], "stream": True},
            ]
        }
    )

    model: str = Field(description="inhouse-auto, inhouse-<use case> or a provider profile (GET /v1/models)")
    messages: list[ChatMessage] = Field(min_length=1, max_length=500)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int | None = Field(None, ge=1, le=1, description="one answer only")


class AssistantMessage(BaseModel):
    """The answer's text."""

    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    """The one answer."""

    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class CompletionUsage(BaseModel):
    """Tokens the model read and wrote."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class InhouseExtra(BaseModel):
    """What inhouse adds to a completion (OpenAI clients ignore it): the citations, the passages
    the model received, the routing decision, and whether and how it answered."""

    citations: list[dict[str, Any]] = Field(description="n, source, title, text, heading or page, doc_id, highlights")
    context: list[dict[str, Any]] = Field(description="the passages exactly as the model received them")
    route: dict[str, Any] = Field(description="use_case, reason, chain, provider, residency, history_residency, ...")
    abstained: bool
    kind: str = Field(description="generated, quoted, or empty when it abstained")
    provider: str | None


class ChatCompletion(BaseModel):
    """The answer to ``POST /v1/chat/completions`` (not streamed)."""

    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage
    inhouse: InhouseExtra


class Model(BaseModel):
    """A model name ``model`` accepts."""

    model_config = ConfigDict(extra="allow")

    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "inhouse"


class ModelList(BaseModel):
    """``GET /v1/models``."""

    object: Literal["list"] = "list"
    data: list[Model]


class EmbeddingRequest(BaseModel):
    """``POST /v1/embeddings``: one text or a list of texts."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"model": "inhouse-embed", "input": ["parking", "vacation days"]}]})

    input: str | Annotated[list[str], Field(min_length=1, max_length=2048)] = Field(description="a text, or up to 2048 texts")
    model: str = Field(description="inhouse-embed, or the embedder's model id")
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1, description="must be the embedder's own dimension when given")


class Embedding(BaseModel):
    """One text's vector (base64: little-endian float32)."""

    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingUsage(BaseModel):
    """Tokens the embedder read (0 for a local one that does not count)."""

    prompt_tokens: int
    total_tokens: int


class EmbeddingList(BaseModel):
    """The answer to ``POST /v1/embeddings``."""

    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage
