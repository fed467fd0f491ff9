"""A local Amazon SageMaker Runtime whose endpoints run a Hugging Face TGI container, for real boto3 clients
through ``endpoint_url``.

Serves InvokeEndpoint and InvokeEndpointWithResponseStream over loopback HTTP/1.1. Every request is checked
against botocore's service model and its SigV4 header (see :mod:`inhouse.testing.emulators.wire`); the body is then checked
the way TGI checks ``{"inputs": ..., "parameters": {...}, "stream": ...}`` (stricter: unknown keys are
refused, so typos show), and a container refusal comes back as through SageMaker: a 424 ``ModelError``
carrying TGI's 422 answer in ``OriginalStatusCode`` / ``OriginalMessage``. Requests that fail any check
land in ``invalid``.

The model is the Bedrock emulator's grounded one (:func:`inhouse.testing.emulators.bedrock_models.answer_chat`: the first
sentence of passage [1] (``<document index="1" ...>`` or ``[1] (label)``) found in the prompt, cited ``[1]``;
else an echo of the prompt),
one token per word, with TGI's habits: a matched stop sequence stays in the text, a finished answer ends
with a special end-of-text token, and ``return_full_text`` (on unless sent false) prepends the prompt.

A streamed answer is TGI's server-sent events (``data:{"token":{...},"generated_text":...,"details":...}``)
cut into ``PayloadPart`` events at random offsets (seeded), always once inside a multi-byte UTF-8 character
when there is one and once between the two newlines that end an event.

    with SageMakerEmulator(["tgi-llama"]) as emu:
        client = boto3.client("sagemaker-runtime", endpoint_url=emu.endpoint_url, ...)
        emu.script(["cold", "ok"])          # outcomes of the next requests; see OUTCOMES

The checks use botocore (installed with boto3), which must be installed when the emulator is used.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from inhouse.testing.emulators import eventstream
from inhouse.testing.emulators.bedrock_bodies import Field, schema_problems
from inhouse.testing.emulators.bedrock_models import ChatRequest, answer_chat
from inhouse.testing.emulators.server import AwsHandler, AwsRecord, Emulator
from inhouse.testing.emulators.wire import WireResponse, error_response, parse_request

SERVICE = "sagemaker-runtime"
ACCOUNT = "123456789012"
REGION = "us-east-1"

#: Outcome name -> (error code, HTTP status, message) for outcomes answered with an error before any body.
HTTP_ERROR_OUTCOMES: dict[str, tuple[str, int, str]] = {
    "cold": ("ModelNotReadyException", 429, "Model is not ready: the endpoint is scaling out from zero instances."),
    "no-capacity": (
        "ValidationError",
        400,
        "Inference Component has no capacity to process this request. ApplicationAutoScaling may be in-progress "
        "(if configured) or try to increase the capacity by invoking UpdateInferenceComponentRuntimeConfig API.",
    ),
    "throttle": ("ThrottlingException", 429, "Rate exceeded"),
    "unavailable": ("ServiceUnavailable", 503, "The service is unavailable. Try your request again."),
    "internal": ("InternalFailure", 500, "An internal failure occurred. Try your request again."),
    "dependency": ("InternalDependencyException", 530, "Your request caused an exception with an internal dependency."),
    "validation": ("ValidationError", 400, "Scripted validation failure."),
}
#: How InvokeEndpoint answers the stream-only outcomes.
_NON_STREAM = {"stream-error": "model-error", "stream-failure": "internal"}
OUTCOMES = ("ok", "not-found", "model-error", "stream-error", "stream-failure", *HTTP_ERROR_OUTCOMES)
_GENERATION_FAILURE = (
    500,
    {"error": "Request failed during generation: Server error: CUDA out of memory.", "error_type": "generation"},
)
_EOS = "</s>"
_PAYLOAD_PART: dict[str, eventstream.HeaderValue] = {
    ":event-type": "PayloadPart",
    ":content-type": "application/octet-stream",
    ":message-type": "event",
}

# TGI's request body (``CompatGenerateRequest``) and its ``GenerateParameters``.
TGI_BODY = {"inputs": Field("string", required=True, min_length=1), "parameters": Field("object"), "stream": Field("boolean")}
TGI_PARAMETERS = {
    "adapter_id": Field("string"),
    "best_of": Field("integer", minimum=1),
    "decoder_input_details": Field("boolean"),
    "details": Field("boolean"),
    "do_sample": Field("boolean"),
    "frequency_penalty": Field("number"),
    "grammar": Field("object"),
    "max_new_tokens": Field("integer"),
    "repetition_penalty": Field("number"),
    "return_full_text": Field("boolean"),
    "seed": Field("integer", minimum=0),
    "stop": Field("array", items=Field("string")),
    "temperature": Field("number"),
    "top_k": Field("integer"),
    "top_n_tokens": Field("integer", minimum=0),
    "top_p": Field("number"),
    "truncate": Field("integer", minimum=1),
    "typical_p": Field("number"),
    "watermark": Field("boolean"),
}
# TGI's range checks, with its messages.
TGI_RANGES = {
    "max_new_tokens": (lambda v: v > 0, "`max_new_tokens` must be strictly positive"),
    "temperature": (lambda v: v > 0, "`temperature` must be strictly positive"),
    "repetition_penalty": (lambda v: v > 0, "`repetition_penalty` must be strictly positive"),
    "top_k": (lambda v: v > 0, "`top_k` must be strictly positive"),
    "top_p": (lambda v: 0 < v < 1, "`top_p` must be > 0.0 and < 1.0"),
    "typical_p": (lambda v: 0 < v < 1, "`typical_p` must be > 0.0 and < 1.0"),
    "stop": (lambda v: len(v) <= 4, "`stop` supports up to 4 stop sequences"),
}


@dataclass(kw_only=True)
class Recorded(AwsRecord):
    """One request as the emulator saw and answered it."""

    endpoint: str = ""
    body: Any = None  # the JSON document the container received (None when it was not JSON)
    parts: int = 0  # PayloadPart events sent


class Generation(NamedTuple):
    """The container's answer: ``tokens`` (text, special) as generated; ``generated_text`` as TGI returns it."""

    tokens: list[tuple[str, bool]]
    generated_text: str
    finish_reason: str
    input_length: int


# --------------------------------------------------------------------------------------------------- the container


def tgi_problems(body: Any) -> list[str]:
    """What TGI (strictly) refuses in a request body; empty when it is acceptable."""
    if not isinstance(body, dict):
        return ["Failed to deserialize the JSON body into the target type: expected a JSON object"]
    parameters = body.get("parameters", {})
    problems = schema_problems(body, TGI_BODY)
    if isinstance(parameters, dict):
        problems += ["#/parameters" + problem.removeprefix("#") for problem in schema_problems(parameters, TGI_PARAMETERS)]
    if problems:
        return problems
    return [message for key, (valid, message) in TGI_RANGES.items() if key in parameters and not valid(parameters[key])]


def generate(body: dict[str, Any], fixed_reply: str | None) -> Generation:
    """Run the grounded model on a checked TGI body."""
    inputs, parameters = body["inputs"], body.get("parameters", {})
    chat = ChatRequest(inputs, [("user", inputs)], parameters.get("max_new_tokens", 100), parameters.get("stop", []), False)
    answer = answer_chat(chat, fixed_reply)
    tokens = [(piece, False) for piece in answer.pieces]
    finish = {"max_tokens": "length", "stop_sequence": "stop_sequence"}.get(answer.stop_reason, "eos_token")
    if answer.stop_sequence:
        tokens.append((answer.stop_sequence, False))  # TGI keeps the stop sequence it matched
    text = "".join(piece for piece, _ in tokens)
    if finish == "eos_token":
        tokens.append((_EOS, True))
    full = parameters.get("return_full_text", True)
    return Generation(tokens, inputs + text if full else text, finish, max(1, len(inputs.split())))


def _details(generation: Generation, stream: bool) -> dict[str, Any]:
    details: dict[str, Any] = {
        "finish_reason": generation.finish_reason,
        "generated_tokens": len(generation.tokens),
        "seed": None,
    }
    if stream:
        details["input_length"] = generation.input_length
    else:
        details["prefill"] = []
        details["tokens"] = [_token(index, text, special) for index, (text, special) in enumerate(generation.tokens)]
    return details


def _token(index: int, text: str, special: bool) -> dict[str, Any]:
    return {"id": 1000 + index, "text": text, "logprob": -0.25, "special": special}


def container_answer(body: dict[str, Any], generation: Generation) -> tuple[str, bytes]:
    """TGI's (content type, body): server-sent events when ``stream`` is true, else ``[{"generated_text": ...}]``."""
    if body.get("stream"):
        lines = []
        last = len(generation.tokens) - 1
        for index, (text, special) in enumerate(generation.tokens):
            event = {"index": index + 1, "token": _token(index, text, special), "top_tokens": None}
            event["generated_text"] = generation.generated_text if index == last else None
            event["details"] = _details(generation, stream=True) if index == last else None
            lines.append(f"data:{json.dumps(event, ensure_ascii=False)}\n\n")
        return "text/event-stream", "".join(lines).encode("utf-8")
    answer: dict[str, Any] = {"generated_text": generation.generated_text}
    if body.get("parameters", {}).get("details"):
        answer["details"] = _details(generation, stream=False)
    return "application/json", json.dumps([answer], ensure_ascii=False).encode("utf-8")


def slices(data: bytes, rng: random.Random, largest: int = 24) -> list[bytes]:
    """``data`` cut at random offsets, once inside a multi-byte character and once inside a ``\\n\\n``."""
    cuts, position = set(), 0
    while position < len(data):
        position += rng.randint(1, largest)
        cuts.add(position)
    inside_character = [i for i, byte in enumerate(data) if 0x80 <= byte < 0xC0]
    inside_event_end = [i + 1 for i in range(len(data) - 1) if data[i : i + 2] == b"\n\n"]
    for candidates in (inside_character, inside_event_end):
        if candidates:
            cuts.add(rng.choice(candidates))
    bounds = sorted(cut for cut in cuts if 0 < cut < len(data))
    return [data[start:end] for start, end in zip([0, *bounds], [*bounds, len(data)], strict=True)]


def model_error(endpoint: str, status: int, original: Any) -> WireResponse:
    """SageMaker's 424 for a container that answered ``status`` with ``original``."""
    text = original if isinstance(original, str) else json.dumps(original)
    side = "client" if status < 500 else "server"
    log_group = f"/aws/sagemaker/Endpoints/{endpoint}"
    message = (
        f'Received {side} error ({status}) from primary with message "{text}". See https://{REGION}.console.aws.amazon.com/'
        f"cloudwatch/home?region={REGION}#logEventViewer:group={log_group} in account {ACCOUNT} for more information."
    )
    fields = {
        "OriginalStatusCode": status,
        "OriginalMessage": text,
        "LogStreamArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{log_group}",
    }
    return error_response(SERVICE, "ModelError", message, fields=fields)


# --------------------------------------------------------------------------------------------------- HTTP


class _Handler(AwsHandler):
    """One keep-alive connection of a SageMaker Runtime client."""

    service = SERVICE
    validation_code = "ValidationError"

    def respond(self, path: str, query: str, body: bytes) -> None:
        """Check the request on the wire, then let the endpoint answer it."""
        headers = dict(self.headers.items())
        wire = parse_request(SERVICE, self.command, path, query, headers, body)
        endpoint = wire.params.get("EndpointName", "")
        record = Recorded(operation=wire.operation or "", params=wire.params, headers=headers, endpoint=endpoint)
        self.emulator.record(record)
        if self.refused(record, wire, ("InvokeEndpoint", "InvokeEndpointWithResponseStream")):
            return
        if record.endpoint not in self.emulator.endpoints:
            self._not_found(record)
        else:
            self._invoke(record, body)

    def _invoke(self, record: Recorded, raw: bytes) -> None:
        emulator = self.emulator
        try:
            record.body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            problems = [f"Failed to parse the request body as JSON: {error}"]
        else:
            problems = tgi_problems(record.body)
        if problems:
            original = {"error": f"Input validation error: {'; '.join(problems)}", "error_type": "validation"}
            self.reject(record, model_error(record.endpoint, 422, original), "; ".join(problems))
            return
        stream = record.operation == "InvokeEndpointWithResponseStream"
        outcome = emulator.draw(record.endpoint)
        record.outcome = outcome if stream else _NON_STREAM.get(outcome, outcome)
        if record.outcome in HTTP_ERROR_OUTCOMES:
            code, status, message = HTTP_ERROR_OUTCOMES[record.outcome]
            self.answer(record, error_response(SERVICE, code, message, status))
        elif record.outcome == "not-found":
            self._not_found(record)
        elif record.outcome == "model-error":
            self.answer(record, model_error(record.endpoint, *_GENERATION_FAILURE))
        else:
            content_type, body = container_answer(record.body, generate(record.body, emulator.reply_for(record.endpoint)))
            variant = record.params.get("TargetVariant", "AllTraffic")
            if stream:
                self._stream(record, content_type, body, variant)
            else:
                headers = {"Content-Type": content_type, "x-Amzn-Invoked-Production-Variant": variant}
                self.answer(record, WireResponse(200, headers, body))

    def _not_found(self, record: Recorded) -> None:
        record.outcome = "not-found"
        message = f"Endpoint {record.endpoint} of account {ACCOUNT} not found."
        self.answer(record, error_response(SERVICE, "ValidationError", message))

    def _stream(self, record: Recorded, content_type: str, body: bytes, variant: str) -> None:
        headers = {"X-Amzn-SageMaker-Content-Type": content_type, "x-Amzn-Invoked-Production-Variant": variant}
        self.begin_event_stream(record, headers)
        if record.outcome == "stream-failure":
            message = "The stream processing failed because of an unknown error, exception or failure. Try your request again."
            self.chunk(eventstream.exception("InternalStreamFailure", {"Message": message}))
        else:
            # stream-error: break off once the first token's event has gone out
            first_end = body.find(b"\n\n")
            first_event = first_end + 2 if first_end >= 0 else len(body) // 2
            stop_after = first_event if record.outcome == "stream-error" else len(body) + 1
            sent = 0
            for part in slices(body, self.emulator.rng()):
                self.chunk(eventstream.encode_message(_PAYLOAD_PART, part))
                record.parts, sent = record.parts + 1, sent + len(part)
                if sent >= stop_after:
                    failure = {"Message": "The model container's response stream broke.", "ErrorCode": "StreamBroken"}
                    self.chunk(eventstream.exception("ModelStreamError", failure))
                    break
        self.end_chunks()


# --------------------------------------------------------------------------------------------------- emulator


class SageMakerEmulator(Emulator):
    """SageMaker Runtime on loopback HTTP: TGI endpoints by name, recorded requests, scripted outcomes."""

    handler_class = _Handler

    def __init__(self, endpoints: Iterable[str] = ("tgi-endpoint",), host: str = "127.0.0.1", port: int = 0, seed: int = 0):
        self.endpoints = frozenset(endpoints)
        self.seed = seed
        super().__init__(host, port, outcomes=OUTCOMES)

    def script(self, outcomes: list[str], endpoint: str | None = None) -> None:
        """Queue forced outcomes for the next requests to ``endpoint`` (or to any); unscripted requests are ``ok``."""
        self._scripted.script(outcomes, endpoint)

    def reply(self, text: str | None, endpoint: str | None = None) -> None:
        """Make ``endpoint`` (or every endpoint) answer ``text``; None restores the grounded answers."""
        self._scripted.reply(text, endpoint)

    def reset(self, seed: int | None = None) -> None:
        """Forget requests, scripts and replies; the slicing restarts from ``seed`` (default: the constructor's)."""
        super().reset()
        with self._lock:
            self._rng = random.Random(self.seed if seed is None else seed)

    def draw(self, endpoint: str) -> str:
        """The outcome of one request: the next scripted one for ``endpoint``, else for any, else ``ok``."""
        return self._scripted.next(endpoint) or "ok"

    def reply_for(self, endpoint: str) -> str | None:
        """The fixed reply of ``endpoint``, if any."""
        return self._scripted.reply_for(endpoint)

    def rng(self) -> random.Random:
        """A generator for one answer's slicing, drawn from the emulator's seeded one."""
        with self._lock:
            return random.Random(self._rng.getrandbits(64))
