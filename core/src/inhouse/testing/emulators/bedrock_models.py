"""The model ids and the deterministic chat model behind the Bedrock emulator (and the other emulators).

Holds model id helpers (:func:`base_model_id`, :func:`model_family`) and the grounded echo chat model
(:func:`answer_chat`), with Converse and Anthropic bodies reduced to a :class:`ChatRequest` and Bedrock's
conversation checks (:func:`chat_problems`). The rules model-specific InvokeModel bodies must follow are in
:mod:`inhouse.testing.emulators.bedrock_bodies`; the embedding and image models in
:mod:`inhouse.testing.emulators.bedrock_media`. The HTTP server that serves them is
:mod:`inhouse.testing.emulators.bedrock`; :mod:`inhouse.testing.emulators.sagemaker` and
:mod:`inhouse.testing.emulators.openai_server` answer with the same chat model.
"""

from __future__ import annotations

import itertools
import re
from typing import Any, NamedTuple

_REGION_PREFIXES = {"us", "eu", "apac", "us-gov", "global", "jp", "au", "ca"}
_CHAT_PREFIXES = (
    "anthropic.",
    "amazon.nova-",
    "amazon.titan-text-",
    "meta.",
    "mistral.",
    "cohere.command",
    "ai21.",
    "deepseek.",
    "openai.",
    "qwen.",
    "writer.",
)
_COHERE_EMBED = ("cohere.embed-english-v3", "cohere.embed-multilingual-v3")
_GUARDRAIL_TEXT = "Sorry, the model cannot answer this question."


# --------------------------------------------------------------------------------------------------- models


def base_model_id(model_id: str) -> str:
    """The foundation-model id behind ``model_id``: ARNs lose all up to the last ``/``, then a cross-region prefix goes."""
    tail = model_id.rsplit("/", 1)[-1] if model_id.startswith("arn:") else model_id
    head, dot, rest = tail.partition(".")
    return rest if dot and head in _REGION_PREFIXES and "." in rest else tail


def model_family(base_id: str) -> str | None:
    """``"anthropic"``, ``"stability"``, ``"titan-embed"``, ``"cohere-embed"``, ``"chat"`` (Converse only) or None."""
    if base_id.startswith("anthropic."):
        return "anthropic"
    if base_id.startswith("stability."):
        return "stability"
    if base_id.startswith("amazon.titan-embed-text-v2"):
        return "titan-embed"
    if base_id.split(":")[0] in _COHERE_EMBED:
        return "cohere-embed"
    if base_id.startswith(_CHAT_PREFIXES):
        return "chat"
    return None


class ChatRequest(NamedTuple):
    """A chat request reduced to what the echo model looks at."""

    system: str
    messages: list[tuple[str, str]]
    max_tokens: int | None
    stop_sequences: list[str]
    guardrail: bool


class ChatAnswer(NamedTuple):
    """The echo model's answer: ``pieces`` (one per word, leading spaces kept) concatenate to ``text``."""

    text: str
    pieces: list[str]
    stop_reason: str
    stop_sequence: str | None
    input_tokens: int
    output_tokens: int


# Passage [1] as the pipeline quotes it (``<document index="1" ...>``), or numbered ``[1] (label)``.
_PASSAGE_ONE = re.compile(
    r'<document index="1"[^\n]*>\n(.+?)\n</document>|^\[1\][^\n]*\n(.+?)(?=^\[\d+\]|\Z)', re.MULTILINE | re.DOTALL
)


def words(text: str) -> int:
    """The emulated models' token count of ``text``: its whitespace-separated words."""
    return len(text.split())


def _default_reply(chat: ChatRequest) -> str:
    """First sentence of numbered passage [1] in the system prompt, cited; else an echo of the last user text."""
    passage = _PASSAGE_ONE.search(chat.system)
    text = (passage.group(1) or passage.group(2) or "") if passage else ""
    if text.strip():
        flat = " ".join(text.split())
        sentence = re.match(r".+?[.!?](?=\s|$)", flat)
        return f"{sentence.group(0) if sentence else flat} [1]"
    user_texts = [text for role, text in chat.messages if role == "user"]
    return f"You said: {user_texts[-1] if user_texts else ''}".strip()


def answer_chat(chat: ChatRequest, fixed_reply: str | None) -> ChatAnswer:
    """Run the deterministic chat model: guardrail, reply, then stop sequences and the token limit."""
    input_tokens = max(1, words(chat.system) + sum(words(text) for _, text in chat.messages))
    stop_reason, stop_sequence = "end_turn", None
    if chat.guardrail and any("BLOCKME" in text for role, text in chat.messages if role == "user"):
        text, stop_reason = _GUARDRAIL_TEXT, "guardrail_intervened"
    else:
        text = fixed_reply if fixed_reply is not None else _default_reply(chat)
        hits = [(text.find(seq), seq) for seq in chat.stop_sequences if seq and seq in text]
        if hits:
            position, stop_sequence = min(hits)
            text, stop_reason = text[:position].rstrip(), "stop_sequence"
    pieces = re.findall(r"\s*\S+", text)
    if chat.max_tokens is not None and len(pieces) > chat.max_tokens:
        pieces, stop_reason, stop_sequence = pieces[: chat.max_tokens], "max_tokens", None
    text = "".join(pieces)
    return ChatAnswer(text, pieces, stop_reason, stop_sequence, input_tokens, len(pieces))


def converse_chat(params: dict[str, Any]) -> ChatRequest:
    """A Converse or ConverseStream request (its botocore params) reduced to a :class:`ChatRequest`."""
    system = "\n".join(block["text"] for block in params.get("system", []) if "text" in block)
    messages = [
        (message["role"], " ".join(block["text"] for block in message["content"] if "text" in block))
        for message in params.get("messages", [])
    ]
    config = params.get("inferenceConfig", {})
    return ChatRequest(system, messages, config.get("maxTokens"), config.get("stopSequences", []), "guardrailConfig" in params)


def _anthropic_text(content: str | list[dict[str, Any]]) -> str:
    if isinstance(content, str):
        return content
    return " ".join(block.get("text", "") for block in content if block.get("type") == "text")


def anthropic_chat(body: dict[str, Any]) -> ChatRequest:
    """An Anthropic Messages InvokeModel body (already checked) reduced to a :class:`ChatRequest`."""
    messages = [(message["role"], _anthropic_text(message["content"])) for message in body["messages"]]
    system = _anthropic_text(body.get("system", ""))
    return ChatRequest(system, messages, body["max_tokens"], body.get("stop_sequences", []), guardrail=False)


def chat_problems(messages: list[dict[str, Any]]) -> str:
    """Bedrock's conversation rules: at least one message, user first, roles alternating."""
    if not messages:
        return "Malformed input request: messages must contain at least one message, please reformat your input and try again."
    if messages[0]["role"] != "user":
        return "A conversation must start with a user message. Try again with a conversation that starts with a user message."
    if any(first["role"] == second["role"] for first, second in itertools.pairwise(messages)):
        return (
            "A conversation must alternate between user and assistant roles. "
            "Make sure the conversation alternates between user and assistant roles and try again."
        )
    return ""
