"""The wire of ``inhouse.Client``: request bodies, the answer stream's server-sent events,
and error responses turned into the inhouse exceptions."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx

from inhouse.conversations import ConversationInfo
from inhouse.errors import AccessDenied, InhouseError, ProviderError
from inhouse.sdk import History, as_messages
from inhouse.types import Answer

KEY_ENV = "INHOUSE_API_KEY"


def ask_body(
    question: str, history: History, mode: str | None, profile: str | None, *, stream: bool = False,
    conversation_id: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The JSON of ``POST /v1/ask``."""
    return {
        "question": question,
        "mode": mode,
        "profile": profile,
        "history": as_messages(history),
        "conversation_id": conversation_id,
        "stream": stream,
    }


def conversation_path(conversation_id: str) -> str:
    """The API path of a conversation (the id quoted: it cannot leave ``/conversations/``)."""
    return f"/conversations/{quote(str(conversation_id), safe='')}"


def conversation_info(data: dict[str, Any]) -> ConversationInfo:
    """A conversation of the API's JSON (its ``user`` is the key's: the server does not repeat it).
    ``turns`` is their number in a listing, the turns themselves in ``GET /v1/conversations/{id}``."""
    turns = data.get("turns") or 0
    count = len(turns) if isinstance(turns, list) else int(turns)
    return ConversationInfo(
        str(data["id"]), "", str(data.get("title", "")), float(data["created"]), float(data["updated"]), count
    )


class EventDecoder:
    """The server-sent events of ``POST /v1/ask`` with ``stream: true``, line by line: text
    pieces (``delta``), the final ``Answer`` (``answer``), or the error that ended it (``error``)."""

    def __init__(self) -> None:
        self.event, self.answered = "", False
        self.data: list[str] = []

    def item(self, line: str) -> str | Answer | None:
        """Feed one line; the text or answer an event it completes carries (an ``error`` event raises)."""
        if line.startswith(":"):
            return None
        if line:
            name, _, value = line.partition(":")
            if name == "data":
                self.data.append(value.removeprefix(" "))
            elif name == "event":
                self.event = value.strip()
            return None
        event, data = self.event or "message", "\n".join(self.data)
        self.event, self.data = "", []
        if not data:
            return None
        try:
            payload = json.loads(data)
        except ValueError:
            raise ProviderError(f"the server sent a {event} event that is not JSON: {data[:100]!r}", code="stream") from None
        if event == "delta":
            return str(payload["text"])
        if event == "answer":
            self.answered = True
            return Answer.from_dict(payload)
        if event == "error":
            error = payload.get("error") or {}
            raise ProviderError(str(error.get("message") or "the answer failed"), code="stream")
        return None

    def finish(self) -> None:
        """The stream ended: it must have carried its answer."""
        if not self.answered:
            raise ProviderError("the server ended the answer stream before the answer", code="stream")


def decoded(response: httpx.Response) -> Any:
    """The JSON of a successful response (None for 204 No Content)."""
    if response.status_code == 204:
        return None
    try:
        return response.json()
    except ValueError:
        raise InhouseError(
            f"the server sent no JSON for {request_line(response)} (is {response.url} an inhouse server?)"
        ) from None


def request_line(response: httpx.Response) -> str:
    """``METHOD /path`` of the request a response answers, for messages."""
    return f"{response.request.method} {response.request.url.path}"


def check(response: httpx.Response) -> None:
    """Raise the inhouse exception of an error response, with the server's message."""
    if response.is_success:
        return
    status, where = response.status_code, request_line(response)
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        message = str(error["message"])
    elif isinstance(body, dict) and body.get("detail"):
        message = str(body["detail"])
    else:
        message = response.text[:300] or response.reason_phrase
    exc: InhouseError
    if status == 401:
        exc = AccessDenied(
            f"API key missing or wrong ({message}): pass Client(..., api_key=...) or set ${KEY_ENV} "
            "to a key of `inhouse keys create`"
        )
    elif status in (403, 404):
        exc = AccessDenied(f"{message} ({status} from {where})")
    elif status in (429, 502, 503, 504):
        code = {429: "throttled", 504: "timeout"}.get(status, "unavailable")
        exc = ProviderError(f"{message} ({status} from {where})", retryable=True, code=code)
        exc.retry_after = float(response.headers.get("Retry-After") or 0)  # type: ignore[attr-defined]
    else:
        exc = InhouseError(f"the server refused {where} ({status}): {message}")
    exc.status = status  # type: ignore[attr-defined]
    raise exc


def unreachable(base_url: str, exc: httpx.HTTPError) -> InhouseError:
    """The inhouse exception of a request that got no response (refused, reset, timed out)."""
    if isinstance(exc, httpx.TimeoutException):
        return ProviderError(
            f"{base_url} did not answer in time ({type(exc).__name__}): raise Client(timeout=...)", code="timeout"
        )
    return InhouseError(f"cannot reach the inhouse server at {base_url}: {exc or type(exc).__name__}")
