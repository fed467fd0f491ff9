"""The deterministic embedding and image models behind the Bedrock emulator.

Hashed bag-of-words embeddings (:func:`embed`; Titan Text Embeddings V2 and Cohere Embed responses in
:func:`titan_embedding` and :func:`cohere_embedding`) and small generated PNG images (:func:`png`;
Stability responses in :func:`stability_image`). The same text always gets the same vector and the same
prompt and seed the same image, in every process.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
import struct
import uuid
import zlib
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from inhouse.testing.emulators.bedrock_models import words

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
    tokens = max(1, words(body["inputText"]))
    vector = embed(body["inputText"], body.get("dimensions", 1024), body.get("normalize", True))
    kinds = body.get("embeddingTypes", ["float"])
    by_type = {kind: _quantized(vector, "titan-binary" if kind == "binary" else kind) for kind in kinds}
    return {"embedding": vector, "inputTextTokenCount": tokens, "embeddingsByType": by_type}, tokens


def cohere_embedding(body: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Cohere Embed's response to a checked ``body``, and its input token count."""
    vectors = [embed(text, 1024, bias=body["input_type"]) for text in body["texts"]]
    tokens = max(1, sum(words(text) for text in body["texts"]))
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


def image_bytes(encoded: str) -> bytes | None:
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
    source = image_bytes(body["image"]) if "image" in body else None
    if source is not None:
        if source.startswith(PNG_SIGNATURE) and len(source) >= 24:
            width, height = (max(1, min(256, side)) for side in struct.unpack(">II", source[16:24]))
        strength = body.get("strength", 0.5)
        colour = tuple(round(strength * new + (1 - strength) * old) for new, old in zip(colour, _colour(source), strict=True))
    image = base64.b64encode(png(width, height, colour)).decode("ascii")
    return {"seeds": [seed], "finish_reasons": [None], "images": [image]}
