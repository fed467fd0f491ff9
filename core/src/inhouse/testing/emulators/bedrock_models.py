"""The deterministic models behind the Bedrock emulator and the rules its request bodies must follow.

Holds model id helpers (:func:`base_model_id`, :func:`model_family`), the grounded echo chat model
(:func:`answer_chat`, with Converse and Anthropic bodies reduced to a :class:`ChatRequest`, and Bedrock's
conversation checks), the JSON-schema-like :class:`Field` rules for model-specific InvokeModel bodies
(Stability, Titan, Cohere, Anthropic) with their problem checks, hashed bag-of-words embeddings
(:func:`embed`, Titan and Cohere embedding responses) and small generated PNG images (:func:`png`,
Stability image responses). The HTTP server that serves them is :mod:`inhouse.testing.emulators.bedrock`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import math
import re
import struct
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
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


_PASSAGE_ONE = re.compile(r"^\[1\][^\n]*\n(.+?)(?=^\[\d+\]|\Z)", re.MULTILINE | re.DOTALL)


def _words(text: str) -> int:
    return len(text.split())


def _default_reply(chat: ChatRequest) -> str:
    """First sentence of numbered passage [1] in the system prompt, cited; else an echo of the last user text."""
    passage = _PASSAGE_ONE.search(chat.system)
    if passage and passage.group(1).strip():
        flat = " ".join(passage.group(1).split())
        sentence = re.match(r".+?[.!?](?=\s|$)", flat)
        return f"{sentence.group(0) if sentence else flat} [1]"
    user_texts = [text for role, text in chat.messages if role == "user"]
    return f"You said: {user_texts[-1] if user_texts else ''}".strip()


def answer_chat(chat: ChatRequest, fixed_reply: str | None) -> ChatAnswer:
    """Run the deterministic chat model: guardrail, reply, then stop sequences and the token limit."""
    input_tokens = max(1, _words(chat.system) + sum(_words(text) for _, text in chat.messages))
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


# ---------------------------------------------------------------------------------- model body validation


@dataclass(frozen=True)
class Field:
    """A JSON-schema-like rule for one key of a model-specific InvokeModel body."""

    kind: str
    required: bool = False
    enum: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    min_length: int = 0
    max_length: int | None = None
    items: Field | None = None


_KINDS: dict[str, Callable[[Any], bool]] = {
    "string": lambda value: isinstance(value, str),
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "number": lambda value: isinstance(value, int | float) and not isinstance(value, bool),
    "boolean": lambda value: isinstance(value, bool),
    "array": lambda value: isinstance(value, list),
    "object": lambda value: isinstance(value, dict),
    "any": lambda value: True,
}


def _field_problems(value: Any, rule: Field, path: str) -> list[str]:
    if not _KINDS[rule.kind](value):
        return [f"{path}: expected type: {rule.kind}, found: {type(value).__name__}"]
    if rule.enum and value not in rule.enum:
        return [f"{path}: {value} is not a valid enum value"]
    problems = []
    if rule.minimum is not None and value < rule.minimum:
        problems.append(f"{path}: {value} is not greater or equal to {rule.minimum}")
    if rule.maximum is not None and value > rule.maximum:
        problems.append(f"{path}: {value} is not less or equal to {rule.maximum}")
    if isinstance(value, str | list) and len(value) < rule.min_length:
        problems.append(f"{path}: expected minLength: {rule.min_length}, actual: {len(value)}")
    if isinstance(value, str | list) and rule.max_length is not None and len(value) > rule.max_length:
        problems.append(f"{path}: expected maxLength: {rule.max_length}, actual: {len(value)}")
    if isinstance(value, list) and rule.items:
        for index, item in enumerate(value):
            problems += _field_problems(item, rule.items, f"{path}/{index}")
    return problems


def schema_problems(body: dict[str, Any], schema: dict[str, Field]) -> list[str]:
    """Bedrock-style complaints about ``body``: extraneous keys, missing required keys and bad values."""
    problems = [f"#: extraneous key [{key}] is not permitted" for key in body if key not in schema]
    problems += [f"#: required key [{key}] not found" for key, rule in schema.items() if rule.required and key not in body]
    for key, value in body.items():
        if key in schema:
            problems += _field_problems(value, schema[key], f"#/{key}")
    return problems


_ASPECT_RATIOS = ("16:9", "1:1", "21:9", "2:3", "3:2", "4:5", "5:4", "9:16", "9:21")
STABILITY_SCHEMA = {
    "prompt": Field("string", required=True, max_length=10000),
    "mode": Field("string", enum=("text-to-image", "image-to-image")),
    "image": Field("string"),
    "strength": Field("number", minimum=0, maximum=1),
    "aspect_ratio": Field("string", enum=_ASPECT_RATIOS),
    "output_format": Field("string", enum=("jpeg", "png", "webp")),
    "seed": Field("integer", minimum=0, maximum=4294967294),
    "negative_prompt": Field("string", max_length=10000),
}
TITAN_EMBED_SCHEMA = {
    "inputText": Field("string", required=True, min_length=1, max_length=50000),
    "dimensions": Field("integer", enum=(256, 512, 1024)),
    "normalize": Field("boolean"),
    "embeddingTypes": Field("array", min_length=1, items=Field("string", enum=("float", "binary"))),
}
COHERE_EMBED_SCHEMA = {
    "texts": Field("array", required=True, min_length=1, max_length=96, items=Field("string", max_length=2048)),
    "input_type": Field("string", required=True, enum=("search_document", "search_query", "classification", "clustering")),
    "truncate": Field("string", enum=("NONE", "START", "END")),
    "embedding_types": Field("array", min_length=1, items=Field("string", enum=("float", "int8", "uint8", "binary", "ubinary"))),
}
ANTHROPIC_SCHEMA = {
    "anthropic_version": Field("string", required=True, enum=("bedrock-2023-05-31",)),
    "max_tokens": Field("integer", required=True, minimum=1),
    "messages": Field("array", required=True, min_length=1, items=Field("object")),
    "system": Field("any"),
    "temperature": Field("number", minimum=0, maximum=1),
    "top_p": Field("number", minimum=0, maximum=1),
    "top_k": Field("integer", minimum=0),
    "stop_sequences": Field("array", items=Field("string")),
    "tools": Field("array", items=Field("object")),
    "tool_choice": Field("object"),
    "metadata": Field("object"),
    "anthropic_beta": Field("array", items=Field("string")),
    "thinking": Field("object"),
}


def stability_problems(body: dict[str, Any], base_id: str) -> list[str]:
    """Bedrock-style complaints about a Stability body for ``base_id``, mode rules and the source image included."""
    problems = schema_problems(body, STABILITY_SCHEMA)
    image_to_image = body.get("mode") == "image-to-image"
    if image_to_image and not base_id.startswith("stability.sd3-5-large"):
        problems.append(f"#/mode: image-to-image is not supported by {base_id}")
    if image_to_image:
        problems += [f"#: required key [{key}] not found" for key in ("image", "strength") if key not in body]
        if "aspect_ratio" in body:
            problems.append("#/aspect_ratio: not permitted with mode image-to-image")
    elif "image" in body or "strength" in body:
        problems.append("#: image and strength are only permitted with mode image-to-image")
    if isinstance(body.get("image"), str) and _image_bytes(body["image"]) is None:
        problems.append("#/image: not a base64-encoded PNG, JPEG or WebP image")
    return problems


def _blocks_ok(content: Any, block_ok: Callable[[dict[str, Any]], bool]) -> bool:
    """Anthropic content: a string, or a list of blocks (dicts) that ``block_ok`` accepts."""
    if isinstance(content, str):
        return True
    return isinstance(content, list) and all(isinstance(block, dict) and block_ok(block) for block in content)


def anthropic_problems(body: dict[str, Any]) -> list[str]:
    """Bedrock-style complaints about an Anthropic Messages body, conversation rules included."""
    problems = schema_problems(body, ANTHROPIC_SCHEMA)
    for index, message in enumerate(body.get("messages") or []):
        if not isinstance(message, dict):
            continue
        if message.get("role") not in ("user", "assistant"):
            problems.append(f"#/messages/{index}/role: {message.get('role')} is not a valid enum value")
        if not _blocks_ok(message.get("content"), lambda block: "type" in block):
            problems.append(f"#/messages/{index}/content: expected a string or a list of typed content blocks")
    if not _blocks_ok(body.get("system", ""), lambda block: block.get("type") == "text"):
        problems.append("#/system: expected a string or a list of text blocks")
    if not problems:
        problem = chat_problems(body["messages"])
        problems += [problem] if problem else []
    return problems


def malformed(problems: list[str]) -> str:
    """The ValidationException message Bedrock gives for a model body with ``problems``."""
    return f"Malformed input request: {'; '.join(problems)}, please reformat your input and try again."


# --------------------------------------------------------------------------------------------------- embeddings


@lru_cache(maxsize=1 << 16)
def _slot(feature: str, dimensions: int) -> tuple[int, float]:
    """Hashed (index, sign) of one feature; blake2b, so it is the same in every process."""
    digest = int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "big")
    return digest % dimensions, 1.0 if digest >> 63 else -1.0


def _features(text: str) -> Iterator[tuple[str, float]]:
    """Lowercased words (weight 1) and their padded character trigrams (weight 0.5)."""
    for word in re.findall(r"\w+", text.lower()):
        yield f"w:{word}", 1.0
        padded = f"#{word}#"
        for start in range(len(padded) - 2):
            yield f"t:{padded[start : start + 3]}", 0.5


def _unit(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(value * value for value in vector))
    return [value / norm for value in vector]


def embed(text: str, dimensions: int, normalize: bool = True, bias: str = "") -> list[float]:
    """A deterministic embedding: hashed bag of words and trigrams; ``bias`` adds a small fixed offset (Cohere's input_type)."""
    vector = [0.0] * dimensions
    for feature, weight in _features(text):
        index, sign = _slot(feature, dimensions)
        vector[index] += sign * weight
    if not any(vector):
        vector[_slot(f"empty:{text}", dimensions)[0]] = 1.0
    if bias:
        offset = [0.0] * dimensions
        for number in range(16):
            index, sign = _slot(f"bias:{bias}:{number}", dimensions)
            offset[index] += sign
        vector = [value + 0.05 * shift for value, shift in zip(_unit(vector), _unit(offset), strict=True)]
    return _unit(vector) if normalize else vector


def _quantized(vector: list[float], kind: str) -> list[float] | list[int]:
    """``vector`` as Cohere's ``embedding_types`` (float, int8, uint8, binary, ubinary) or Titan's ``binary``."""
    if kind == "float":
        return vector
    peak = max(abs(value) for value in vector) or 1.0
    if kind in ("int8", "uint8"):
        offset = 128 if kind == "uint8" else 0
        return [max(-128, min(127, round(value * 127 / peak))) + offset for value in vector]
    bits = [1 if value > 0 else 0 for value in vector]
    if kind == "titan-binary":
        return bits
    packed = [int("".join(map(str, bits[start : start + 8])), 2) for start in range(0, len(bits), 8)]
    return packed if kind == "ubinary" else [value - 128 for value in packed]


def titan_embedding(body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Titan Text Embeddings V2's response to a checked ``body``, and its input token count."""
    tokens = max(1, _words(body["inputText"]))
    vector = embed(body["inputText"], body.get("dimensions", 1024), body.get("normalize", True))
    kinds = body.get("embeddingTypes", ["float"])
    by_type = {kind: _quantized(vector, "titan-binary" if kind == "binary" else kind) for kind in kinds}
    return {"embedding": vector, "inputTextTokenCount": tokens, "embeddingsByType": by_type}, tokens


def cohere_embedding(body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Cohere Embed's response to a checked ``body``, and its input token count."""
    vectors = [embed(text, 1024, bias=body["input_type"]) for text in body["texts"]]
    tokens = max(1, sum(_words(text) for text in body["texts"]))
    response: dict[str, Any] = {"id": str(uuid.uuid4()), "texts": body["texts"]}
    if "embedding_types" in body:
        response["embeddings"] = {kind: [_quantized(vector, kind) for vector in vectors] for kind in body["embedding_types"]}
        response["response_type"] = "embeddings_by_type"
    else:
        response["embeddings"] = vectors
        response["response_type"] = "embeddings_floats"
    return response, tokens


# --------------------------------------------------------------------------------------------------- images

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def png(width: int, height: int, colour: tuple[int, int, int]) -> bytes:
    """An 8-bit RGB PNG: a gradient starting at ``colour``."""
    red, green, blue = colour
    rows = b"".join(
        b"\x00" + bytes(channel for x in range(width) for channel in ((red + x) % 256, (green + y) % 256, (blue + x + y) % 256))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return PNG_SIGNATURE + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(rows)) + _png_chunk(b"IEND", b"")


def _image_bytes(encoded: str) -> bytes | None:
    """The decoded image when ``encoded`` is base64 of a PNG, JPEG or WebP file, else None."""
    try:
        data = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        return None
    if data.startswith((PNG_SIGNATURE, b"\xff\xd8\xff")) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        return data
    return None


def _colour(key: bytes) -> tuple[int, int, int]:
    red, green, blue = hashlib.sha256(key).digest()[:3]
    return red, green, blue


def stability_image(body: dict[str, Any]) -> dict[str, Any]:
    """Stability's response: one generated PNG, or none when the prompt trips the content filter (FILTERME)."""
    prompt = body["prompt"]
    seed = body.get("seed") or int.from_bytes(hashlib.sha256(prompt.encode("utf-8")).digest()[:4], "big") % 4294967295
    if "FILTERME" in prompt:
        return {"seeds": [seed], "finish_reasons": ["Filter reason: prompt"], "images": []}
    colour, width, height = _colour(f"{prompt}|{seed}".encode()), 64, 64
    source = _image_bytes(body["image"]) if "image" in body else None
    if source is not None:
        if source.startswith(PNG_SIGNATURE) and len(source) >= 24:
            width, height = (max(1, min(256, side)) for side in struct.unpack(">II", source[16:24]))
        strength = body.get("strength", 0.5)
        colour = tuple(round(strength * new + (1 - strength) * old) for new, old in zip(colour, _colour(source), strict=True))
    image = base64.b64encode(png(width, height, colour)).decode("ascii")
    return {"seeds": [seed], "finish_reasons": [None], "images": [image]}
