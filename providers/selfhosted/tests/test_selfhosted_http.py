"""What the ``tgi`` and ``openai-compatible`` providers share over HTTP (``inhouse_selfhosted.http``): a server
that is not listening, the error bodies of each server family, and server-sent event streams."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from inhouse.errors import InhouseError, ProviderError
from inhouse.testing.emulators import PROMPT
from inhouse_selfhosted.http import ServerError, json_events, reported_error
from selfhostedkit import build


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- cold servers -------------------------------------------------------------------------------


@pytest.mark.parametrize("use", ["tgi", "openai-compatible"])
def test_nothing_listening_is_retryable_and_quick(use: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    options = {"url": url} if use == "tgi" else {"base_url": f"{url}/v1", "model": "m"}
    provider = build(use, connect_timeout=0.2, max_attempts=2, **options)
    started = time.perf_counter()
    with pytest.raises(ProviderError) as info:
        list(provider.generate(PROMPT))
    assert time.perf_counter() - started < 2
    assert info.value.code == "unavailable" and info.value.retryable and "is the server running?" in str(info.value)
    with pytest.raises(InhouseError, match="is the server running"):
        provider.check()


# --- error bodies and event streams --------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "status", "kind"),
    [
        ({"error": "Model is overloaded", "error_type": "overloaded"}, None, "overloaded"),  # TGI
        ({"error": {"message": "Rate limited", "type": "requests", "code": "rate_limit_exceeded"}}, None, "requests"),
        ({"object": "error", "message": "Rate limited", "type": "RateLimitError", "code": 429}, 429, "RateLimitError"),
    ],
)
def test_error_bodies_of_each_server_family(payload: dict, status: int | None, kind: str) -> None:
    error = reported_error(payload)
    assert error is not None and (error.status, error.kind) == (status, kind)
    assert str(error) in ("Model is overloaded", "Rate limited")
    assert reported_error({"choices": []}) is None


def test_event_stream_errors_and_done() -> None:
    ok = httpx.Response(200, content=b'data: {"a": 1}\n\ndata: [DONE]\n\ndata: {"after": "done"}\n\n')
    assert list(json_events(ok)) == [{"a": 1}]
    named = httpx.Response(200, content=b'data: {"a": 1}\n\nevent: error\ndata: shard lost\n\n')
    with pytest.raises(ServerError, match="shard lost"):
        list(json_events(named))
    for garbage in (b"data: <html>\n\n", b"data: 42\n\n"):
        with pytest.raises(ValueError):
            list(json_events(httpx.Response(200, content=garbage)))
