"""A local Amazon Bedrock Runtime that real boto3 clients reach through ``endpoint_url``.

Serves Converse, ConverseStream, InvokeModel and InvokeModelWithResponseStream over loopback HTTP/1.1, checks
every request against botocore's service model (see :mod:`inhouse.testing.emulators.wire`), answers with deterministic models
(a grounded echo chat model, hashed bag-of-words embeddings, small PNG images; see
:mod:`inhouse.testing.emulators.bedrock_models` and :mod:`inhouse.testing.emulators.bedrock_media`)
and injects faults on demand.

In-process::

    with BedrockEmulator() as emu:
        client = boto3.client("bedrock-runtime", endpoint_url=emu.endpoint_url, ...)

As a separate process::

    python -m inhouse.testing.emulators.bedrock --port 0      # prints "listening on http://127.0.0.1:PORT"

and drive it through ``POST /_emulator/{faults,script,reply,reset}`` and ``GET /_emulator/{requests,invalid}``.

The operations themselves (which requests are refused, what the answers are) are in
:mod:`inhouse.testing.emulators.bedrock_operations`. Every request is checked with botocore (installed with
boto3), which must be installed when the emulator is used.
"""

from __future__ import annotations

import argparse
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from inhouse.testing.emulators import eventstream
from inhouse.testing.emulators.bedrock_models import base_model_id
from inhouse.testing.emulators.bedrock_operations import JOBS, Frame, Job, Rejection
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
        if not self.refused(record, wire, JOBS):
            self._infer(record)

    def _control(self, path: str, body: bytes) -> None:
        try:
            payload = self.emulator.control(self.command, path, json.loads(body or b"{}"))
            status = 200
        except (ValueError, TypeError, KeyError) as error:
            payload, status = {"error": str(error)}, 400
        except LookupError as error:
            payload, status = {"error": str(error)}, 404
        self.send(status, {"Content-Type": "application/json"}, eventstream.json_bytes(payload))

    def _infer(self, record: Recorded) -> None:
        emulator = self.emulator
        base_id = base_model_id(record.model_id)
        job = JOBS[record.operation](emulator, record, base_id)
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
