"""A small OpenAI-compatible server (as vLLM serves it) on loopback HTTP, for the
``openai-compatible`` provider: ``POST /v1/chat/completions`` (streamed or not) and
``GET /v1/models``, with recorded requests, scripted failures and the grounded echo model
of the Bedrock emulator (the first sentence of context passage [1], cited).

    with OpenAIServer() as emu:
        emu.base_url            # http://127.0.0.1:PORT/v1
        emu.script(["throttle", "ok"])
        emu.requests[-1].body   # the JSON the client sent

``tls`` (an ``ssl.SSLContext`` with a certificate loaded) serves HTTPS instead.

:mod:`inhouse.testing.emulators.tgi` serves TGI's native API on the same machinery.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from inhouse.testing.emulators import server
from inhouse.testing.emulators.bedrock_models import ChatAnswer, ChatRequest, answer_chat

Route = Callable[["Handler", "Recorded"], None]


@dataclass
class Recorded:
    """One request as the server saw it (times are ``time.perf_counter()``)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    outcome: str = ""
    status: int = 0
    started_at: float = field(default_factory=time.perf_counter)
    first_byte_at: float | None = None
    first_token_at: float | None = None


class Handler(server.Handler):
    """One keep-alive connection; the emulator routes each request and writes through these helpers."""

    def respond(self, path: str, query: str, body: bytes) -> None:
        """Hand the request to the emulator."""
        self.emulator.handle(self, self.command, path, body)

    def send_json(self, record: Recorded, status: int, payload: Any) -> None:
        """A whole JSON answer."""
        record.status, record.first_byte_at = status, time.perf_counter()
        self.send(status, {"Content-Type": "application/json"}, json.dumps(payload).encode("utf-8"))

    def open_stream(self, record: Recorded) -> None:
        """Start a 200 server-sent event stream (chunked)."""
        record.status, record.first_byte_at = 200, time.perf_counter()
        self.begin_chunks(200, {"Content-Type": "text/event-stream"})

    def event(self, payload: Any) -> None:
        """One ``data:`` event: JSON, or a string as is (``[DONE]``)."""
        data = payload if isinstance(payload, str) else json.dumps(payload)
        self.chunk(f"data: {data}\n\n".encode())


class OpenAIServer(server.Emulator):
    """An OpenAI-compatible chat server with scripted outcomes.

    Outcomes: ``ok``, ``slow`` (waits ``slow_seconds`` first), ``stream-error`` (an error
    event after the first token) and the HTTP errors of ``ERRORS``. With ``errors_in_stream``,
    HTTP errors of streamed requests come as a 200 stream holding one error event instead.
    """

    handler_class = Handler
    ERRORS: ClassVar[dict[str, tuple[int, str, str]]] = {
        "throttle": (429, "RateLimitError", "Too many requests: the server is at capacity."),
        "bad-request": (400, "BadRequestError", "This model's maximum context length is 4096 tokens."),
        "unauthorized": (401, "AuthenticationError", "Incorrect API key provided."),
        "server-error": (500, "InternalServerError", "The engine failed."),
        "unavailable": (503, "ServiceUnavailableError", "The server is not ready."),
    }
    STREAM_ERROR: ClassVar[tuple[int, str, str]] = (500, "InternalServerError", "The engine died while generating.")

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        models: tuple[str, ...] = ("test-model",),
        api_key: str = "",
        tls: ssl.SSLContext | None = None,
    ):
        self.models, self.api_key = models, api_key
        self.slow_seconds = 1.0
        self.errors_in_stream = False
        super().__init__(host, port, outcomes=("ok", "slow", "stream-error", *self.ERRORS), tls=tls)

    @property
    def base_url(self) -> str:
        """The OpenAI API root (``.../v1``)."""
        return f"{self.endpoint_url}/v1"

    # -------------------------------------------------------------------------------- controls

    def script(self, outcomes: list[str]) -> None:
        """Queue forced outcomes for the next generation requests."""
        self._scripted.script(outcomes)

    def reply(self, text: str | None) -> None:
        """Answer ``text`` from now on (None: the grounded echo again)."""
        self._scripted.reply(text)

    def reset(self) -> None:
        """Forget requests, scripts, the fixed reply and the error mode."""
        super().reset()
        self.errors_in_stream = False

    # -------------------------------------------------------------------------------- serving

    def routes(self) -> dict[tuple[str, str], Route]:
        """(method, path) -> route."""
        return {("POST", "/v1/chat/completions"): self.chat_completions, ("GET", "/v1/models"): self.list_models}

    def error_body(self, status: int, kind: str, message: str) -> dict[str, Any]:
        """An error as this server writes it (vLLM's form)."""
        return {"error": {"message": message, "type": kind, "param": None, "code": status}}

    def handle(self, handler: Handler, method: str, path: str, raw: bytes) -> None:
        """Record the request, check its key, and route it."""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        record = Recorded(method, path, dict(handler.headers), body)
        self.record(record)
        route = self.routes().get((method, path))
        if route is None:
            handler.send_json(record, 404, self.error_body(404, "NotFoundError", f"no route {method} {path}"))
        elif self.api_key and handler.headers.get("Authorization") != f"Bearer {self.api_key}":
            handler.send_json(record, 401, self.error_body(401, "AuthenticationError", "Incorrect API key provided."))
        elif method == "POST" and not isinstance(body, dict):
            handler.send_json(record, 400, self.error_body(400, "BadRequestError", "the body is not a JSON object"))
        else:
            route(handler, record)

    def draw(self, record: Recorded) -> str:
        """The outcome of a generation request (scripted, else ``ok``), after any ``slow`` wait."""
        outcome = self._scripted.next() or "ok"
        record.outcome = outcome
        if outcome == "slow":
            time.sleep(self.slow_seconds)
        return outcome

    def answer(self, system: str, messages: list[tuple[str, str]], max_tokens: int | None, stops: list[str]) -> ChatAnswer:
        """The echo model's answer (or the fixed reply)."""
        return answer_chat(ChatRequest(system, messages, max_tokens, stops, False), self._scripted.reply_for())

    def fail(self, handler: Handler, record: Recorded, outcome: str, stream: bool) -> bool:
        """Answer a scripted HTTP error outcome; False when ``outcome`` is not one."""
        if outcome not in self.ERRORS:
            return False
        status, kind, message = self.ERRORS[outcome]
        if stream and self.errors_in_stream:
            handler.open_stream(record)
            handler.event(self.error_body(status, kind, message))
            handler.end_chunks()
        else:
            handler.send_json(record, status, self.error_body(status, kind, message))
        return True

    def list_models(self, handler: Handler, record: Recorded) -> None:
        """``GET /v1/models``."""
        data = [{"id": model, "object": "model", "owned_by": "emulator"} for model in self.models]
        handler.send_json(record, 200, {"object": "list", "data": data})

    def chat_completions(self, handler: Handler, record: Recorded) -> None:
        """``POST /v1/chat/completions``: checks the body, then answers it (streamed or whole)."""
        body = record.body
        problem = _chat_problem(body)
        if problem:
            handler.send_json(record, 400, self.error_body(400, "BadRequestError", problem))
            return
        if body.get("model") not in self.models:
            message = f"The model `{body.get('model')}` does not exist."
            handler.send_json(record, 404, self.error_body(404, "NotFoundError", message))
            return
        stream = bool(body.get("stream"))
        outcome = self.draw(record)
        if self.fail(handler, record, outcome, stream):
            return
        system = "\n".join(m["content"] for m in body["messages"] if m["role"] == "system")
        turns = [(m["role"], m["content"]) for m in body["messages"] if m["role"] != "system"]
        stops = body.get("stop") or []
        answer = self.answer(system, turns, body.get("max_tokens"), [stops] if isinstance(stops, str) else stops)
        usage = {
            "prompt_tokens": answer.input_tokens,
            "completion_tokens": answer.output_tokens,
            "total_tokens": answer.input_tokens + answer.output_tokens,
        }
        finish = "length" if answer.stop_reason == "max_tokens" else "stop"
        head = {"id": "chatcmpl-emulator", "created": int(time.time()), "model": body["model"]}
        if not stream:
            message = {"role": "assistant", "content": answer.text}
            choice = {"index": 0, "message": message, "finish_reason": finish}
            handler.send_json(record, 200, {**head, "object": "chat.completion", "choices": [choice], "usage": usage})
            return
        chunk = {**head, "object": "chat.completion.chunk"}
        handler.open_stream(record)
        handler.event({**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
        for piece in answer.pieces:
            handler.event({**chunk, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
            if record.first_token_at is None:
                record.first_token_at = time.perf_counter()
            if outcome == "stream-error":
                handler.event(self.error_body(*self.STREAM_ERROR))
                handler.end_chunks()
                return
        handler.event({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            handler.event({**chunk, "choices": [], "usage": usage})
        handler.event("[DONE]")
        handler.end_chunks()


def _chat_problem(body: dict[str, Any]) -> str:
    """What is wrong with a chat-completions body, or ""."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: a non-empty list is required"
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("system", "user", "assistant"):
            return f"messages[{i}]: role must be system, user or assistant"
        if not isinstance(message.get("content"), str):
            return f"messages[{i}].content: a string is required"
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        return "max_tokens must be a positive integer"
    if not isinstance(body.get("temperature", 1.0), int | float):
        return "temperature must be a number"
    stops = body.get("stop") or []
    if not isinstance(stops, str) and not (isinstance(stops, list) and all(isinstance(s, str) for s in stops)):
        return "stop must be a string or a list of strings"
    return ""
