"""The four Bedrock Runtime operations the Bedrock emulator implements, from request to answer.

For Converse, ConverseStream, InvokeModel and InvokeModelWithResponseStream, :data:`JOBS` holds a function
that looks at a request botocore's checks have passed and either refuses it (a :class:`Rejection`: an
unknown model, a model the operation does not serve, a body the model refuses) or accepts it as a
:class:`Job`: the answer's headers and a function that renders its JSON body or its event-stream
messages (:class:`Frame`). The models answering are those of :mod:`inhouse.testing.emulators.bedrock_models` and
:mod:`inhouse.testing.emulators.bedrock_media`; :mod:`inhouse.testing.emulators.bedrock` serves the jobs
and decides their outcome (faults, delays).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NamedTuple

from inhouse.testing.emulators import eventstream
from inhouse.testing.emulators.bedrock_bodies import (
    COHERE_EMBED_SCHEMA,
    TITAN_EMBED_SCHEMA,
    anthropic_problems,
    malformed,
    schema_problems,
    stability_problems,
)
from inhouse.testing.emulators.bedrock_media import cohere_embedding, stability_image, titan_embedding
from inhouse.testing.emulators.bedrock_models import (
    ChatAnswer,
    answer_chat,
    anthropic_chat,
    chat_problems,
    converse_chat,
    model_family,
)

if TYPE_CHECKING:
    from inhouse.testing.emulators.bedrock import BedrockEmulator, Recorded

_INVALID_MODEL = "The provided model identifier is invalid."
_NOT_CHAT_MODEL = "This action doesn't support the model that you provided. Try again with a supported text or chat model."
_NO_STREAMING = "The model is unsupported for streaming."


class Frame(NamedTuple):
    """One encoded event-stream message; ``delta`` marks the ones carrying generated text."""

    data: bytes
    delta: bool = False


class Rejection(NamedTuple):
    """A 400 ValidationException decided before any outcome is drawn; ``invalid`` requests land in ``invalid``."""

    message: str
    invalid: bool


class Job(NamedTuple):
    """An accepted inference request: ``body`` renders a JSON answer, ``frames`` an event stream (exactly one is set)."""

    headers: dict[str, str]
    body: Callable[[Recorded], bytes] | None = None
    frames: Callable[[Recorded], Iterator[Frame]] | None = None


def _elapsed_ms(since: float) -> int:
    return round((time.perf_counter() - since) * 1000)


def _usage(answer: ChatAnswer) -> dict[str, int]:
    total = answer.input_tokens + answer.output_tokens
    return {"inputTokens": answer.input_tokens, "outputTokens": answer.output_tokens, "totalTokens": total}


def _converse_body(answer: ChatAnswer, record: Recorded) -> bytes:
    return eventstream.json_bytes(
        {
            "output": {"message": {"role": "assistant", "content": [{"text": answer.text}]}},
            "stopReason": answer.stop_reason,
            "usage": _usage(answer),
            "metrics": {"latencyMs": _elapsed_ms(record.started_at)},
        }
    )


def _converse_frames(answer: ChatAnswer, record: Recorded) -> Iterator[Frame]:
    yield Frame(eventstream.event("messageStart", {"role": "assistant"}))
    for piece in answer.pieces:
        yield Frame(eventstream.event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}}), delta=True)
    yield Frame(eventstream.event("contentBlockStop", {"contentBlockIndex": 0}))
    yield Frame(eventstream.event("messageStop", {"stopReason": answer.stop_reason}))
    metrics = {"latencyMs": _elapsed_ms(record.started_at)}
    yield Frame(eventstream.event("metadata", {"usage": _usage(answer), "metrics": metrics}))


def _anthropic_message(answer: ChatAnswer, model: str) -> dict[str, Any]:
    return {
        "id": f"msg_bdrk_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": answer.text}],
        "stop_reason": answer.stop_reason,
        "stop_sequence": answer.stop_sequence,
        "usage": {"input_tokens": answer.input_tokens, "output_tokens": answer.output_tokens},
    }


def _anthropic_chunk(payload: dict[str, Any], delta: bool = False) -> Frame:
    return Frame(eventstream.event("chunk", {"bytes": base64.b64encode(eventstream.json_bytes(payload)).decode("ascii")}), delta)


def _anthropic_frames(answer: ChatAnswer, model: str, record: Recorded) -> Iterator[Frame]:
    start = {**_anthropic_message(answer, model), "content": [], "stop_reason": None, "stop_sequence": None}
    start["usage"] = {"input_tokens": answer.input_tokens, "output_tokens": 0}
    yield _anthropic_chunk({"type": "message_start", "message": start})
    yield _anthropic_chunk({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})
    for piece in answer.pieces:
        delta = {"type": "text_delta", "text": piece}
        yield _anthropic_chunk({"type": "content_block_delta", "index": 0, "delta": delta}, delta=True)
    yield _anthropic_chunk({"type": "content_block_stop", "index": 0})
    stop = {"stop_reason": answer.stop_reason, "stop_sequence": answer.stop_sequence}
    yield _anthropic_chunk({"type": "message_delta", "delta": stop, "usage": {"output_tokens": answer.output_tokens}})
    metrics = {
        "inputTokenCount": answer.input_tokens,
        "outputTokenCount": answer.output_tokens,
        "invocationLatency": _elapsed_ms(record.started_at),
        "firstByteLatency": round(((record.first_byte_at or record.started_at) - record.started_at) * 1000),
    }
    yield _anthropic_chunk({"type": "message_stop", "amazon-bedrock-invocationMetrics": metrics})


def _token_headers(input_tokens: int, output_tokens: int | None = None) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "X-Amzn-Bedrock-Input-Token-Count": str(input_tokens)}
    if output_tokens is not None:
        headers["X-Amzn-Bedrock-Output-Token-Count"] = str(output_tokens)
    return headers


_STREAM_HEADERS = {"Content-Type": "application/vnd.amazon.eventstream"}


def _converse_job(emulator: BedrockEmulator, record: Recorded, base_id: str, stream: bool) -> Job | Rejection:
    family = model_family(base_id)
    if family is None:
        return Rejection(_INVALID_MODEL, invalid=False)
    if family not in ("anthropic", "chat"):
        return Rejection(_NOT_CHAT_MODEL, invalid=False)
    problem = chat_problems(record.params.get("messages", []))
    if problem:
        return Rejection(problem, invalid=True)
    answer = answer_chat(converse_chat(record.params), emulator.reply_for(record.model_id, base_id))
    if stream:
        return Job(_STREAM_HEADERS, frames=lambda rec: _converse_frames(answer, rec))
    return Job({"Content-Type": "application/json"}, body=lambda rec: _converse_body(answer, rec))


def _invoke_job(emulator: BedrockEmulator, record: Recorded, base_id: str, stream: bool) -> Job | Rejection:
    family = model_family(base_id)
    if family not in ("anthropic", "stability", "titan-embed", "cohere-embed"):
        return Rejection(_INVALID_MODEL, invalid=False)
    if stream and family != "anthropic":
        return Rejection(_NO_STREAMING, invalid=False)
    try:
        body = json.loads(record.params.get("body", b""))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return Rejection("Malformed input request, please reformat your input and try again.", invalid=True)
    record.params["body_json"] = body
    if not isinstance(body, dict):
        return Rejection(malformed(["#: expected type: object"]), invalid=True)
    checks = {
        "anthropic": anthropic_problems,
        "stability": lambda document: stability_problems(document, base_id),
        "titan-embed": lambda document: schema_problems(document, TITAN_EMBED_SCHEMA),
        "cohere-embed": lambda document: schema_problems(document, COHERE_EMBED_SCHEMA),
    }
    problems = checks[family](body)
    if problems:
        return Rejection(malformed(problems), invalid=True)
    if family == "anthropic":
        answer = answer_chat(anthropic_chat(body), emulator.reply_for(record.model_id, base_id))
        if stream:
            headers = {**_STREAM_HEADERS, "X-Amzn-Bedrock-Content-Type": "application/json"}
            return Job(headers, frames=lambda rec: _anthropic_frames(answer, base_id, rec))
        message = eventstream.json_bytes(_anthropic_message(answer, base_id))
        return Job(_token_headers(answer.input_tokens, answer.output_tokens), body=lambda rec: message)
    if family == "stability":
        image = eventstream.json_bytes(stability_image(body))
        return Job({"Content-Type": "application/json"}, body=lambda rec: image)
    response, tokens = titan_embedding(body) if family == "titan-embed" else cohere_embedding(body)
    encoded = eventstream.json_bytes(response)
    return Job(_token_headers(tokens), body=lambda rec: encoded)


#: Operation name -> the function that refuses a request of it or accepts it as a job.
JOBS: dict[str, Callable[[BedrockEmulator, Recorded, str], Job | Rejection]] = {
    "Converse": lambda emulator, record, base_id: _converse_job(emulator, record, base_id, stream=False),
    "ConverseStream": lambda emulator, record, base_id: _converse_job(emulator, record, base_id, stream=True),
    "InvokeModel": lambda emulator, record, base_id: _invoke_job(emulator, record, base_id, stream=False),
    "InvokeModelWithResponseStream": lambda emulator, record, base_id: _invoke_job(emulator, record, base_id, stream=True),
}
