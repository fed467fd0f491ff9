"""The rules model-specific InvokeModel bodies must follow in the Bedrock emulator, with Bedrock's messages.

:class:`Field` is a JSON-schema-like rule for one key of a JSON body and :func:`schema_problems` lists
what a body breaks (the SageMaker emulator checks TGI's bodies with them too); the schemas of the
Stability, Titan, Cohere and Anthropic bodies follow, with the checks JSON schema cannot state
(:func:`stability_problems`, :func:`anthropic_problems`) and :func:`malformed`, the message of a refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from inhouse.testing.emulators.bedrock_media import image_bytes
from inhouse.testing.emulators.bedrock_models import chat_problems


@dataclass(frozen=True)
class Field:
    """A JSON-schema-like rule for one key of a JSON request body (a model-specific InvokeModel body, TGI's)."""

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


# The bodies of the model families InvokeModel serves: key -> rule.
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
    if isinstance(body.get("image"), str) and image_bytes(body["image"]) is None:
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
