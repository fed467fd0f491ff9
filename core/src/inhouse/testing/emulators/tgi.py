"""A small Hugging Face TGI server on loopback HTTP: ``/generate``, ``/generate_stream``
(one token per word, a special ``</s>`` at the end, the stop sequence left in the text as
TGI does), the Messages API ``/v1/chat/completions`` (the OpenAI emulator's, with TGI's
error bodies), ``/health`` and ``/info``.

    with TGIEmulator() as emu:
        emu.script(["overloaded", "ok"])    # 429, then an answer
        emu.errors_in_stream = True         # errors of streamed requests as TGI's router sends them
        emu.ready = False                   # /health answers 503

Outcomes: ``ok``, ``slow``, ``stream-error`` (an error event after the first token),
``overloaded`` (429), ``validation`` (422), ``generation-error`` (424), ``loading`` (503).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from inhouse.testing.emulators.openai_server import Handler, OpenAIServer, Recorded, Route

MAX_INPUT_TOKENS = 1024
MAX_TOTAL_TOKENS = 2048
MAX_STOP_SEQUENCES = 4


class TGIEmulator(OpenAIServer):
    """A TGI router serving ``model_id``; its Messages API takes the model name ``tgi``."""

    ERRORS: ClassVar[dict[str, tuple[int, str, str]]] = {
        "overloaded": (429, "overloaded", "Model is overloaded"),
        "validation": (
            422,
            "validation",
            f"Input validation error: `inputs` tokens + `max_new_tokens` must be <= {MAX_TOTAL_TOKENS}. "
            "Given: 2100 `inputs` tokens and 50 `max_new_tokens`",
        ),
        "generation-error": (424, "generation", "Request failed during generation: Server error: CUDA out of memory."),
        "loading": (503, "loading", "Model is loading"),
    }
    STREAM_ERROR: ClassVar[tuple[int, str, str]] = (
        424,
        "generation",
        "Request failed during generation: Server error: the shard died.",
    )

    def __init__(self, host: str = "127.0.0.1", port: int = 0, model_id: str = "tiiuae/falcon-7b-instruct", api_key: str = ""):
        self.model_id = model_id
        self.ready = True
        super().__init__(host, port, models=("tgi",), api_key=api_key)

    def reset(self) -> None:
        """Forget requests and scripts; the server is ready again."""
        super().reset()
        self.ready = True

    def routes(self) -> dict[tuple[str, str], Route]:
        """The Messages API plus TGI's own routes."""
        return {
            **super().routes(),
            ("POST", "/generate"): lambda handler, record: self.generate(handler, record, stream=False),
            ("POST", "/generate_stream"): lambda handler, record: self.generate(handler, record, stream=True),
            ("GET", "/health"): self.health,
            ("GET", "/info"): self.info,
        }

    def error_body(self, status: int, kind: str, message: str) -> dict[str, Any]:
        """TGI's ``ErrorResponse``."""
        return {"error": message, "error_type": kind}

    def health(self, handler: Handler, record: Recorded) -> None:
        """200 once the model is loaded, else 503."""
        if self.ready:
            handler.send_json(record, 200, None)
        else:
            handler.send_json(record, 503, self.error_body(503, "healthcheck", "unhealthy"))

    def info(self, handler: Handler, record: Recorded) -> None:
        """What ``/info`` tells about the served model."""
        info = {
            "model_id": self.model_id,
            "model_dtype": "torch.bfloat16",
            "max_input_tokens": MAX_INPUT_TOKENS,
            "max_total_tokens": MAX_TOTAL_TOKENS,
            "max_stop_sequences": MAX_STOP_SEQUENCES,
            "version": "2.4.1",
        }
        handler.send_json(record, 200, info)

    def generate(self, handler: Handler, record: Recorded, stream: bool) -> None:
        """``/generate`` and ``/generate_stream``: TGI's validation, then the echo model."""
        body = record.body
        problem = _generate_problem(body)
        if problem:
            handler.send_json(record, 422, self.error_body(422, "validation", f"Input validation error: {problem}"))
            return
        outcome = self.draw(record)
        if self.fail(handler, record, outcome, stream):
            return
        params = body.get("parameters") or {}
        max_new = params.get("max_new_tokens") or 100
        answer = self.answer(body["inputs"], [], max_new, [])
        stops = params.get("stop") or []
        pieces, text, finish = [], "", "length"
        for piece in answer.pieces:
            pieces.append(piece)
            text += piece
            if any(text.endswith(stop) for stop in stops):  # TGI keeps the stop sequence in the text
                finish = "stop_sequence"
                break
        else:
            if len(pieces) < max_new:
                finish = "eos_token"
        tokens = [{"id": i, "text": piece, "logprob": -0.5, "special": False} for i, piece in enumerate(pieces, 3)]
        if finish == "eos_token":
            tokens.append({"id": 2, "text": "</s>", "logprob": -0.1, "special": True})
        input_length = len(body["inputs"].split())
        details = {"finish_reason": finish, "generated_tokens": len(tokens), "seed": None}
        if not stream:
            full = {**details, "prefill": [{"id": 1, "text": "<s>", "logprob": None}], "tokens": tokens}
            handler.send_json(record, 200, {"generated_text": text, "details": full if params.get("details") else None})
            return
        handler.open_stream(record)
        for index, token in enumerate(tokens, 1):
            last = index == len(tokens)
            handler.event(
                {
                    "index": index,
                    "token": token,
                    "top_tokens": [],
                    "generated_text": text if last else None,
                    "details": {**details, "input_length": input_length} if last and params.get("details") else None,
                }
            )
            if record.first_token_at is None:
                record.first_token_at = time.perf_counter()
            if outcome == "stream-error":
                handler.event(self.error_body(*self.STREAM_ERROR))
                break
        handler.end_chunks()


def _generate_problem(body: dict[str, Any]) -> str:
    """TGI's validation of a ``/generate`` body, or ""."""
    inputs = body.get("inputs")
    if not isinstance(inputs, str) or not inputs:
        return "`inputs` cannot be empty"
    params = body.get("parameters") or {}
    if not isinstance(params, dict):
        return "`parameters` must be an object"
    temperature = params.get("temperature")
    if temperature is not None and temperature <= 0:
        return "`temperature` must be strictly positive"
    max_new = params.get("max_new_tokens")
    if max_new is not None and (not isinstance(max_new, int) or max_new < 1):
        return "`max_new_tokens` must be strictly positive"
    stops = params.get("stop") or []
    if len(stops) > MAX_STOP_SEQUENCES:
        return f"`stop` supports up to {MAX_STOP_SEQUENCES} stop sequences. Given: {len(stops)}"
    words = len(inputs.split())
    if words > MAX_INPUT_TOKENS:
        return f"`inputs` must have less than {MAX_INPUT_TOKENS} tokens. Given: {words}"
    if words + (max_new or 100) > MAX_TOTAL_TOKENS:
        given = f"Given: {words} `inputs` tokens and {max_new} `max_new_tokens`"
        return f"`inputs` tokens + `max_new_tokens` must be <= {MAX_TOTAL_TOKENS}. {given}"
    return ""
