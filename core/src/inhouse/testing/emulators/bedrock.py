"""A local Amazon Bedrock Runtime that real boto3 clients reach through ``endpoint_url``.

Serves Converse, ConverseStream, InvokeModel and InvokeModelWithResponseStream over loopback HTTP/1.1, checks
every request against botocore's service model (see :mod:`inhouse.testing.emulators.wire`), answers with deterministic models
(a grounded echo chat model, hashed bag-of-words embeddings, small PNG images; see
:mod:`inhouse.testing.emulators.bedrock_models`)
and injects faults on demand.

In-process::

    with BedrockEmulator() as emu:
        client = boto3.client("bedrock-runtime", endpoint_url=emu.endpoint_url, ...)

As a separate process (``tests/`` as cwd or on ``PYTHONPATH``)::

    python -m inhouse.testing.emulators.bedrock --port 0      # prints "listening on http://127.0.0.1:PORT"

and drive it through ``POST /_emulator/{faults,script,reply,reset}`` and ``GET /_emulator/{requests,invalid}``.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, NamedTuple

from inhouse.testing.emulators import eventstream
from inhouse.testing.emulators.bedrock_models import (
    COHERE_EMBED_SCHEMA,
    TITAN_EMBED_SCHEMA,
    ChatAnswer,
    answer_chat,
    anthropic_chat,
    anthropic_problems,
    base_model_id,
    chat_problems,
    cohere_embedding,
    converse_chat,
    malformed,
    model_family,
    schema_problems,
    stability_image,
    stability_problems,
    titan_embedding,
)
from inhouse.testing.emulators.server import AwsHandler, AwsRecord, Emulator
from inhouse.testing.emulators.wire import WireResponse, error_response, parse_request

SERVICE = "bedrock-runtime"

#: Outcome name -> (error code, message) for outcomes answered with an HTTP error before any response body.
HTTP_ERROR_OUTCOMES: dict[str, tuple[str, str]] = {
    "throttle": ("ThrottlingException", "Too many requests, please wait before trying again."),
    "unavailable": ("ServiceUnavailableException", "Bedrock is unable to process your request."),
    "internal": ("InternalServerException", "The system encountered an unexpected error during processing."),
    "model-not-ready": ("ModelNotReadyException", "The model is not ready to serve inference requests. Try again later."),
    "timeout": ("ModelTimeoutException", "Model has timed out in processing the request. Try your request again."),
    "validation": ("ValidationException", "Scripted validation failure."),
    "access-denied": ("AccessDeniedException", "You don't have access to the model with the specified model ID."),
    "not-found": ("ResourceNotFoundException", "The specified model could not be found."),
}
#: How a non-streaming operation answers the stream-only outcomes.
_NON_STREAM_FALLBACK = {
    "stream-error": ("ModelErrorException", "The model returned an error while generating the response."),
    "stream-throttle": HTTP_ERROR_OUTCOMES["throttle"],
}
OUTCOMES = ("ok", "slow", "stream-error", "stream-throttle", *HTTP_ERROR_OUTCOMES)
SLOW_SECONDS = 2.0

_INVALID_MODEL = "The provided model identifier is invalid."
_NOT_CHAT_MODEL = "This action doesn't support the model that you provided. Try again with a supported text or chat model."
_NO_STREAMING = "The model is unsupported for streaming."


# --------------------------------------------------------------------------------------------------- records


@dataclass(kw_only=True)
class Recorded(AwsRecord):
    """One request as the emulator saw and answered it (times are ``time.perf_counter()``)."""

    model_id: str = ""
    started_at: float = 0.0
    first_byte_at: float | None = None
    first_delta_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready copy in which binary content is replaced by its size."""
        data = asdict(self)
        data["params"] = _jsonable(self.params)
        return data


_BINARY_TEXT_KEYS = {"image", "data"}


def _jsonable(value: Any, key: str = "") -> Any:
    """``value`` with bytes (and long base64 strings under image keys) replaced by their sizes."""
    if isinstance(value, dict):
        return {name: _jsonable(item, name) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, bytes | bytearray):
        return {"omitted_bytes": len(value)}
    if isinstance(value, str) and key in _BINARY_TEXT_KEYS and len(value) > 256:
        return {"omitted_chars": len(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    return value


# --------------------------------------------------------------------------------------------------- responses


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


def _json(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


def _usage(answer: ChatAnswer) -> dict[str, int]:
    total = answer.input_tokens + answer.output_tokens
    return {"inputTokens": answer.input_tokens, "outputTokens": answer.output_tokens, "totalTokens": total}


def _converse_body(answer: ChatAnswer, record: Recorded) -> bytes:
    return _json(
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
    return Frame(eventstream.event("chunk", {"bytes": base64.b64encode(_json(payload)).decode("ascii")}), delta)


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
        message = _json(_anthropic_message(answer, base_id))
        return Job(_token_headers(answer.input_tokens, answer.output_tokens), body=lambda rec: message)
    if family == "stability":
        image = _json(stability_image(body))
        return Job({"Content-Type": "application/json"}, body=lambda rec: image)
    response, tokens = titan_embedding(body) if family == "titan-embed" else cohere_embedding(body)
    encoded = _json(response)
    return Job(_token_headers(tokens), body=lambda rec: encoded)


_JOBS: dict[str, Callable[[BedrockEmulator, Recorded, str], Job | Rejection]] = {
    "Converse": lambda emulator, record, base_id: _converse_job(emulator, record, base_id, stream=False),
    "ConverseStream": lambda emulator, record, base_id: _converse_job(emulator, record, base_id, stream=True),
    "InvokeModel": lambda emulator, record, base_id: _invoke_job(emulator, record, base_id, stream=False),
    "InvokeModelWithResponseStream": lambda emulator, record, base_id: _invoke_job(emulator, record, base_id, stream=True),
}


# --------------------------------------------------------------------------------------------------- HTTP


class _Handler(AwsHandler):
    """One keep-alive connection: routes ``/_emulator/*`` to the controls and everything else to the service."""

    service = SERVICE
    validation_code = "ValidationException"

    def respond(self, path: str, query: str, body: bytes) -> None:
        """A control call or a service request."""
        if path.startswith("/_emulator/"):
            self._control(path, body)
            return
        headers = dict(self.headers.items())
        record = Recorded(headers=headers, started_at=time.perf_counter())
        self.emulator.record(record)
        wire = parse_request(SERVICE, self.command, path, query, headers, body)
        record.operation, record.params = wire.operation or "", wire.params
        record.model_id = wire.params.get("modelId", "")
        if not self.refused(record, wire, _JOBS):
            self._infer(record)

    def _control(self, path: str, body: bytes) -> None:
        try:
            payload = self.emulator.control(self.command, path, json.loads(body or b"{}"))
            status = 200
        except (ValueError, TypeError, KeyError) as error:
            payload, status = {"error": str(error)}, 400
        except LookupError as error:
            payload, status = {"error": str(error)}, 404
        self.send(status, {"Content-Type": "application/json"}, _json(payload))

    def _infer(self, record: Recorded) -> None:
        emulator = self.emulator
        base_id = base_model_id(record.model_id)
        job = _JOBS[record.operation](emulator, record, base_id)
        if isinstance(job, Rejection):
            response = error_response(SERVICE, "ValidationException", job.message)
            if job.invalid:
                self.reject(record, response, job.message)
            else:
                record.outcome = "invalid-model"
                self.answer(record, response)
            return
        outcome, latency_ms, token_delay_ms = emulator.draw(record.model_id, base_id)
        record.outcome = outcome
        time.sleep(latency_ms / 1000 + (SLOW_SECONDS if outcome == "slow" else 0.0))
        error = HTTP_ERROR_OUTCOMES.get(outcome) or (None if job.frames else _NON_STREAM_FALLBACK.get(outcome))
        if error:
            self.answer(record, error_response(SERVICE, *error))
        elif job.frames:
            self._stream(record, job, outcome, token_delay_ms / 1000)
        else:
            assert job.body is not None
            self.answer(record, WireResponse(200, job.headers, job.body(record)))

    def answer(self, record: Recorded, response: WireResponse) -> None:
        """A whole answer, its time noted as ``first_byte_at``."""
        record.first_byte_at = time.perf_counter()
        super().answer(record, response)

    def _stream(self, record: Recorded, job: Job, outcome: str, token_delay_s: float) -> None:
        assert job.frames is not None
        record.first_byte_at = time.perf_counter()
        self.begin_event_stream(record, job.headers)
        if outcome == "stream-throttle":
            self.chunk(eventstream.exception("throttlingException", {"message": HTTP_ERROR_OUTCOMES["throttle"][1]}))
        else:
            self._stream_frames(record, job.frames(record), outcome, token_delay_s)
        self.end_chunks()

    def _stream_frames(self, record: Recorded, frames: Iterator[Frame], outcome: str, token_delay_s: float) -> None:
        for frame in frames:
            if frame.delta and record.first_delta_at is not None:
                time.sleep(token_delay_s)
            self.chunk(frame.data)
            if frame.delta and record.first_delta_at is None:
                record.first_delta_at = time.perf_counter()
            if frame.delta and outcome == "stream-error":
                break
        if outcome == "stream-error":
            failure = {
                "message": "The model encountered an error while streaming its response.",
                "originalStatusCode": 500,
                "originalMessage": "Internal model error.",
            }
            self.chunk(eventstream.exception("modelStreamErrorException", failure))


# --------------------------------------------------------------------------------------------------- emulator


class BedrockEmulator(Emulator):
    """A Bedrock Runtime on loopback HTTP with recorded requests, scripted outcomes and random faults."""

    handler_class = _Handler

    def __init__(self, host: str = "127.0.0.1", port: int = 0, seed: int = 0) -> None:
        self.seed = seed
        super().__init__(host, port, outcomes=OUTCOMES)

    def faults(
        self,
        throttle: float = 0.0,
        server_error: float = 0.0,
        latency_ms: float = 0.0,
        token_delay_ms: float = 0.0,
        seed: int | None = None,
    ) -> None:
        """Set the random fault shares and delays for inference requests (all replaced); ``seed`` reseeds the draw."""
        if not (0 <= throttle <= 1 and 0 <= server_error <= 1 and throttle + server_error <= 1):
            raise ValueError("throttle and server_error are shares in [0, 1] with a sum of at most 1")
        if latency_ms < 0 or token_delay_ms < 0:
            raise ValueError("latency_ms and token_delay_ms cannot be negative")
        with self._lock:
            self._throttle, self._server_error = throttle, server_error
            self._latency_ms, self._token_delay_ms = latency_ms, token_delay_ms
            if seed is not None:
                self._rng = random.Random(seed)

    def script(self, outcomes: list[str], model: str | None = None) -> None:
        """Queue forced outcomes for the next inference requests of ``model`` (the id as sent, or its base id), or of any."""
        self._scripted.script(outcomes, model)

    def reply(self, text: str | None, model: str | None = None) -> None:
        """Make the chat models of ``model`` (or of any) answer ``text``; None restores the default answers."""
        self._scripted.reply(text, model)

    def reset(self) -> None:
        """Forget requests, faults, scripts and replies; the fault draw restarts from the constructor's seed."""
        super().reset()
        with self._lock:
            self._throttle = self._server_error = self._latency_ms = self._token_delay_ms = 0.0
            self._rng = random.Random(self.seed)
            self._server_errors_drawn = 0

    def reply_for(self, model_id: str, base_id: str) -> str | None:
        """The fixed reply for this model, if any."""
        return self._scripted.reply_for(model_id, base_id)

    def draw(self, model_id: str, base_id: str) -> tuple[str, float, float]:
        """(outcome, latency_ms, token_delay_ms) for one inference request: a scripted outcome first, else a random one."""
        scripted = self._scripted.next(model_id, base_id)
        with self._lock:
            delays = self._latency_ms, self._token_delay_ms
            if scripted:
                return scripted, *delays
            draw = self._rng.random()
            if draw < self._throttle:
                return "throttle", *delays
            if draw < self._throttle + self._server_error:
                self._server_errors_drawn += 1
                return ("internal" if self._server_errors_drawn % 2 else "unavailable"), *delays
            return "ok", *delays

    def control(self, method: str, path: str, payload: dict[str, Any]) -> Any:
        """Serve one ``/_emulator/...`` control call (the HTTP face of this API); LookupError for an unknown one."""
        if method == "GET" and path in ("/_emulator/requests", "/_emulator/invalid"):
            with self._lock:
                records = list(self.requests if path.endswith("requests") else self.invalid)
            return [record.to_json() for record in records]
        actions: dict[str, Callable[[], None]] = {
            "/_emulator/faults": lambda: self.faults(**payload),
            "/_emulator/script": lambda: self.script(payload["outcomes"], payload.get("model")),
            "/_emulator/reply": lambda: self.reply(payload.get("text"), payload.get("model")),
            "/_emulator/reset": self.reset,
        }
        if method != "POST" or path not in actions:
            raise LookupError(f"no control endpoint {method} {path}")
        actions[path]()
        return {"ok": True}


def main(argv: list[str] | None = None) -> None:
    """Serve until killed, after printing ``listening on <endpoint_url>``."""
    parser = argparse.ArgumentParser(prog="python -m inhouse.testing.emulators.bedrock", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    emulator = BedrockEmulator(args.host, args.port, args.seed).start()
    print(f"listening on {emulator.endpoint_url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        emulator.stop()


if __name__ == "__main__":
    main()
