"""HTTP plumbing of the self-hosted providers: settings, one lazily built ``httpx.Client``
per provider, server errors turned into ``ProviderError``s (this module's error table), and
the OpenAI-style chat-completions client that ``openai-compatible`` and ``tgi``
(``api = "messages"``) share.

Retries and streams come from ``inhouse.providerkit``: a throttled or cold server is retried
before the first token only (``max_attempts``, full-jitter backoff); an error after it is
raised as "the answer broke off mid-stream".
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
from pydantic import AfterValidator, Field, SecretStr, field_validator

from inhouse.errors import ProviderError
from inhouse.plugins import ConfigPath, Prompt
from inhouse.providerkit import (
    Backoff,
    LazyClient,
    Outcome,
    RetrySettings,
    alternating_turns,
    call_with_retries,
    first_token_stream,
    status_outcome,
    usage_from,
)
from inhouse.types import Usage
from inhouse_selfhosted.sse import events

T = TypeVar("T")

# TGI's ``error_type`` of an error sent as a stream event (its streams answer 200, then the error).
ERROR_TYPES: dict[str, Outcome] = {
    "overloaded": ("throttled", True, True),
    "validation": ("validation", False, False),
    "template_error": ("validation", False, False),
    "missing_template_variable": ("validation", False, False),
    "generation": ("error", False, True),
    "incomplete_generation": ("unavailable", True, True),
}
ADVICE = {
    "access-denied": "check api_key (the server's API key or bearer token)",
    "validation": "the server refused the request: is the prompt longer than the model's input limit?",
    "not-ready": "the server is starting or loading the model; it will answer once ready",
}


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{value!r} is not an http:// or https:// URL")
    return value.rstrip("/")


HttpUrl = Annotated[str, AfterValidator(_http_url)]
"""A server's URL in a provider config: http(s) only, trailing slash dropped."""


class HttpSettings(RetrySettings):
    """The connection keys every self-hosted HTTP provider takes."""

    api_key: SecretStr | None = Field(None, description='sent as "Authorization: Bearer ..."; write { env = "NAME" }')
    headers: dict[str, str] = Field(default_factory=dict, description="extra request headers")
    ca_bundle: ConfigPath | None = Field(None, description="PEM file of the CA that signed an https server's certificate")
    trust_env: bool = Field(False, description="use HTTP(S)_PROXY/NO_PROXY and SSL_CERT_FILE from the environment")
    read_timeout: float = Field(120.0, gt=0, description="seconds between bytes (a long prompt's prefill included)")
    connect_timeout: float = Field(5.0, gt=0, description="seconds; short, so a stopped server is noticed fast")

    @field_validator("ca_bundle")
    @classmethod
    def _existing_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{value} is not a file")
        return value


class ServerError(Exception):
    """An error the server reported: an HTTP error status, or an error event inside a stream."""

    def __init__(self, message: str, status: int | None = None, kind: str = ""):
        super().__init__(message)
        self.status = status
        self.kind = kind


def reported_error(payload: Any, status: int | None = None) -> ServerError | None:
    """The error a JSON body or stream event carries, if any: TGI's ``{"error": "...",
    "error_type": ...}``, OpenAI's ``{"error": {"message", "type", "code"}}`` or vLLM's
    ``{"object": "error", "message", ...}``."""
    if not isinstance(payload, dict):
        return None
    error = payload if payload.get("object") == "error" else payload.get("error")
    if error is None:
        return None
    if not isinstance(error, dict):
        return ServerError(str(error), status, str(payload.get("error_type") or ""))
    code = error.get("code")
    if status is None and isinstance(code, int) and 400 <= code < 600:
        status = code  # vLLM puts the HTTP status of a streamed error there
    return ServerError(str(error.get("message") or json.dumps(error)), status, str(error.get("type") or ""))


def response_error(response: httpx.Response) -> ServerError:
    """The ``ServerError`` of an HTTP error response (its body must have been read)."""
    try:
        found = reported_error(response.json(), response.status_code)
    except ValueError:
        found = None
    return found or ServerError(response.text.strip()[:300] or response.reason_phrase, response.status_code)


class HttpClient:
    """A thread-safe ``httpx.Client`` for one provider, built on first use, with the
    provider's retries and error mapping. ``label`` prefixes error messages."""

    def __init__(self, base_url: str, settings: HttpSettings, label: str, provider: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.settings = settings
        self.label = label
        self.provider = provider
        self.backoff = Backoff(settings.backoff_base, settings.backoff_max)
        self._client: LazyClient[httpx.Client] = LazyClient(self._build)

    @property
    def client(self) -> httpx.Client:
        """The pooled client (keep-alive connections are reused across requests and threads)."""
        return self._client.get()

    def _build(self) -> httpx.Client:
        headers = dict(self.settings.headers)
        if self.settings.api_key is not None:
            headers["Authorization"] = f"Bearer {self.settings.api_key.get_secret_value()}"
        ca_bundle = self.settings.ca_bundle
        return httpx.Client(
            base_url=self.base_url,
            headers=headers,
            timeout=httpx.Timeout(self.settings.read_timeout, connect=self.settings.connect_timeout),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            verify=ssl.create_default_context(cafile=ca_bundle) if ca_bundle else True,
            trust_env=self.settings.trust_env,
        )

    def close(self) -> None:
        """Close the connection pool. Safe to call twice."""
        self._client.close()

    def classify(self, exc: Exception) -> tuple[ProviderError, bool]:
        """A client exception as (the ``ProviderError`` to raise, whether retrying here may help);
        re-raises exceptions that are not about the request."""
        if isinstance(exc, ServerError):
            where = f"HTTP {exc.status}" if exc.status else "error event"
            code, retry_here, retryable = _outcome(exc)
            message = f"{where}{f' ({exc.kind})' if exc.kind else ''}: {exc}"
        elif isinstance(exc, httpx.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in str(exc):
            code, retry_here, retryable = "unavailable", False, True
            message = f"the TLS certificate of {self.base_url} is not trusted ({exc}): set ca_bundle to its CA's PEM file"
        elif isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            code, retry_here, retryable = "unavailable", True, True
            message = f"cannot connect to {self.base_url} ({str(exc) or type(exc).__name__}): is the server running?"
        elif isinstance(exc, httpx.TimeoutException):
            code, retry_here, retryable = "timeout", True, True
            message = f"no answer within read_timeout = {self.settings.read_timeout:g} s ({type(exc).__name__})"
        elif isinstance(exc, httpx.HTTPError):
            code, retry_here, retryable = "unavailable", True, True
            message = f"{type(exc).__name__}: {exc}"
        elif isinstance(exc, ValueError):  # a body or event that is not the JSON expected
            code, retry_here, retryable = "error", False, True
            message = f"unexpected answer from the server: {exc}"
        else:
            raise exc
        hint = ADVICE.get(code)
        text = f"{self.label}: {message}{f' ({hint})' if hint else ''}"
        return ProviderError(text, retryable=retryable, provider=self.provider, code=code), retry_here

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn``, retrying retryable failures up to ``max_attempts`` in all."""
        return call_with_retries(fn, self.classify, self.settings.max_attempts, self.backoff)

    def get(self, path: str, timeout: float = 5.0) -> httpx.Response:
        """GET ``path`` once (no retries), for readiness checks; an error status or a failed
        connection raises ``ProviderError``."""
        try:
            response = self.client.get(path, timeout=httpx.Timeout(timeout, connect=self.settings.connect_timeout))
            if response.status_code >= 400:
                raise response_error(response)
        except Exception as exc:
            raise self.classify(exc)[0] from exc
        return response

    def post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` and return the JSON object answered, with retries."""
        return self.call(lambda: self._post(path, body))

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(path, json=body)
        if response.status_code >= 400:
            raise response_error(response)
        return _checked(response.json())

    def stream(self, path: str, body: dict[str, Any], has_text: Callable[[dict[str, Any]], bool]) -> Iterator[dict[str, Any]]:
        """POST ``body`` and yield the JSON of each server-sent event up to ``data: [DONE]``,
        retried up to the first event for which ``has_text`` is true (an HTTP error, an error
        event, a refused connection), then "the answer broke off mid-stream" (see
        ``inhouse.providerkit.first_token_stream``)."""
        return first_token_stream(
            lambda: self._open(path, body),
            has_text,
            self.classify,
            max_attempts=self.settings.max_attempts,
            backoff=self.backoff,
            provider=self.provider,
        )

    def _open(self, path: str, body: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Send the request; an error status raises ``ServerError`` before any event."""
        response = self.client.send(self.client.build_request("POST", path, json=body), stream=True)
        if response.status_code >= 400:
            try:
                response.read()
            finally:
                response.close()
            raise response_error(response)
        return json_events(response)


def _outcome(error: ServerError) -> Outcome:
    if error.status is None or error.status < 400:
        return ERROR_TYPES.get(error.kind, ("error", False, True))
    return status_outcome(error.status)


def json_events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """The JSON payloads of a server-sent event stream; error events raise ``ServerError``."""
    try:
        for event in events(response.iter_bytes()):
            if event.data == "[DONE]":
                return
            try:
                payload = json.loads(event.data)
            except ValueError:
                if event.event != "error":
                    raise
                payload = {"error": event.data}
            if event.event == "error" and reported_error(payload) is None:
                raise ServerError(event.data)
            yield _checked(payload)
    finally:
        response.close()


def _checked(payload: Any) -> dict[str, Any]:
    """``payload`` if it is a JSON object that reports no error."""
    error = reported_error(payload)
    if error is not None:
        raise error
    if not isinstance(payload, dict):
        raise ValueError(f"a JSON object was expected, not {json.dumps(payload)[:200]}")
    return payload


# ------------------------------------------------------------------------------ chat completions


def chat_messages(prompt: Prompt) -> list[dict[str, str]]:
    """The OpenAI ``messages`` of ``prompt``: the system message first, then the turns,
    alternating and starting with the user (``inhouse.providerkit.alternating_turns``)."""
    system = [{"role": "system", "content": prompt.system}] if prompt.system else []
    return system + alternating_turns(prompt.messages)


class ChatCompletions:
    """The OpenAI chat-completions API (``POST {base}{path}``) on an ``HttpClient``:
    request bodies, streamed (``stream_options.include_usage``) or whole answers, and usage.

    ``extra_body`` is merged into every request last, so it may also override ``max_tokens``
    or ``temperature``. ``count_tokens`` estimates usage the server does not report."""

    def __init__(
        self,
        http: HttpClient,
        model: str,
        *,
        path: str = "/chat/completions",
        stream: bool = True,
        extra_body: dict[str, Any] | None = None,
        count_tokens: Callable[[str], int],
    ):
        self.http = http
        self.count_tokens = count_tokens
        self.model = model
        self.path = path
        self.stream = stream
        self.extra_body = extra_body or {}

    def body(self, prompt: Prompt) -> dict[str, Any]:
        """The request body for ``prompt`` (also what the tests inspect)."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": chat_messages(prompt),
            "max_tokens": prompt.max_tokens,
            "temperature": prompt.temperature,
            "stream": self.stream,
        }
        stops = [stop for stop in prompt.stop if stop]
        if stops:
            body["stop"] = stops[:4]  # OpenAI's limit, and TGI's default max_stop_sequences
        if self.stream:
            body["stream_options"] = {"include_usage": True}
        return {**body, **self.extra_body}

    def generate(self, prompt: Prompt) -> Iterator[str | Usage]:
        """Yield the answer's text pieces, then one ``Usage`` (estimated when the server reports none)."""
        body = self.body(prompt)
        prompt_text = "".join(message["content"] for message in body["messages"])
        if not self.stream:
            answer = self.http.post_json(self.path, body)
            choices = answer.get("choices") or [{}]
            text = (choices[0].get("message") or {}).get("content") or ""
            if text:
                yield text
            yield self._usage(answer.get("usage"), prompt_text, self.count_tokens(text) if text else 0)
            return
        usage, pieces = None, 0
        for chunk in self.http.stream(self.path, body, has_text=lambda chunk: bool(delta_text(chunk))):
            text = delta_text(chunk)
            if text:
                pieces += 1
                yield text
            usage = chunk.get("usage") or usage
        yield self._usage(usage, prompt_text, pieces)

    def _usage(self, reported: dict[str, Any] | None, prompt_text: str, output_estimate: int) -> Usage:
        """The server's token counts, or estimates (streamed pieces are about one token each)."""
        reported = reported or {}
        return usage_from(
            reported.get("prompt_tokens"),
            reported.get("completion_tokens"),
            input_estimate=self.count_tokens(prompt_text),
            output_estimate=output_estimate,
        )


def delta_text(chunk: dict[str, Any]) -> str:
    """The text of a streamed chat-completions chunk (``choices[0].delta.content``), or ""."""
    choices = chunk.get("choices") or [{}]
    return (choices[0].get("delta") or {}).get("content") or ""
