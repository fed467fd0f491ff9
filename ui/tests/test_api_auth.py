"""Who may call the HTTP API and how bad requests are refused, against the running server:
API keys (401 in the OpenAI error shape without one, a revoked key refused, each request
running as the key's user: a document only ana may read is found with her key, not with
bob's), loopback only while no key exists, per-key rate limits (429 and Retry-After), the
body size limit (413), malformed JSON (400), wrong types (422), unknown routes and methods,
the probes, no visitor cookie on API responses, and what ``inhouse serve`` says at start."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from fastapi.testclient import TestClient

from inhouse.keys import KeyStore
from inhouse.testing.emulators.openai_server import OpenAIServer
from ui_support import api_assistant, password_users, served

SALARY = "When is Ana's salary review with the manager?"


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, str, KeyStore]]:
    """The assistant, the app, the API's base URL and its key store (keys are made by the tests)."""
    with OpenAIServer() as model:
        assistant = api_assistant(tmp_path_factory.mktemp("api-auth"), model.base_url)
        keys = KeyStore(assistant.home)
        with served(assistant) as (app, base):
            yield assistant, app, base, keys
        assistant.close()


@pytest.fixture(scope="module")
def ana(keyed: tuple[Any, Any, str, KeyStore]) -> str:
    """A key of ana's (from here on, keys are in force on this server)."""
    return keyed[3].create("ana", "tests")[1]


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The error of an OpenAI-shaped error response (and nothing else in the body)."""
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    assert body["error"]["message"], body
    return body["error"]


def test_without_keys_only_loopback_clients_are_served_as_the_local_user(tmp_path: Path, keyed: Any) -> None:
    from inhouse import Assistant
    from inhouse_ui.server import build_app

    assistant = Assistant(keyed[0].settings, home=tmp_path)  # a data folder with no keys
    app = build_app(assistant, {})
    for host in ("127.0.0.1", "127.8.0.1", "::1", "::ffff:127.0.0.1"):
        with TestClient(app, client=(host, 50000)) as near:
            assert near.get("/v1/models").status_code == 200, host
    with TestClient(app, client=("127.0.0.1", 50000)) as proxy:  # a reverse proxy on this machine relays others
        for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP"):
            assert proxy.get("/v1/models", headers={header: "203.0.113.9"}).status_code == 403, header
    for host in ("203.0.113.9", "10.0.0.2", "::ffff:10.0.0.2", "testclient"):
        with TestClient(app, client=(host, 50000)) as far:
            response = far.get("/v1/models", headers={"Authorization": "Bearer ih-000000000000-" + "x" * 43})
            assert response.status_code == 403, host
            error = error_of(response)
            assert error["code"] == "loopback_only" and "inhouse keys create" in error["message"]


def test_with_keys_a_request_without_a_good_key_is_401_json(keyed: Any, ana: str) -> None:
    base = keyed[2]
    for headers in ({}, {"Authorization": f"Basic {ana}"}, {"Authorization": "Bearer ih-nonsense"}, {"Authorization": "Bearer"}):
        response = httpx.get(f"{base}/models", headers=headers)
        assert response.status_code == 401, headers
        assert error_of(response)["code"] == "invalid_api_key" and response.headers["www-authenticate"] == "Bearer"
    assert "Bearer <key>" in error_of(httpx.get(f"{base}/models"))["message"]
    assert httpx.get(f"{base}/models", headers={"Authorization": f"Bearer {ana}"}).status_code == 200
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=base, api_key="ih-000000000000-" + "x" * 43, max_retries=0).models.list()


def test_a_revoked_key_is_refused(keyed: Any, ana: str) -> None:
    record, secret = keyed[3].create("bob", "soon revoked")
    client = openai.OpenAI(base_url=keyed[2], api_key=secret, max_retries=0)
    assert client.models.list().data
    assert keyed[3].revoke(record.id)
    with pytest.raises(openai.AuthenticationError) as caught:
        client.models.list()
    assert "revoked" in caught.value.message


def test_each_request_runs_as_the_keys_user(keyed: Any, ana: str) -> None:
    bob = keyed[3].create("bob", "tests")[1]

    def sources(key: str) -> set[str]:
        client = openai.OpenAI(base_url=keyed[2], api_key=key, max_retries=0)
        completion = client.chat.completions.create(model="inhouse-auto", messages=[{"role": "user", "content": SALARY}])
        extra = completion.model_extra["inhouse"]
        return {c["source"].rsplit("/", 1)[-1] for c in extra["citations"] + extra["context"]}

    assert "salary-ana.md" in sources(ana)
    assert "salary-ana.md" not in sources(bob)


def test_a_key_over_its_rate_limit_gets_429_with_retry_after(keyed: Any, ana: str) -> None:
    limited = keyed[3].create("ana", "two a minute", requests_per_minute=2)[1]
    headers = {"Authorization": f"Bearer {limited}"}
    assert [httpx.get(f"{keyed[2]}/models", headers=headers).status_code for _ in range(2)] == [200, 200]
    response = httpx.get(f"{keyed[2]}/models", headers=headers)
    assert response.status_code == 429 and error_of(response)["code"] == "rate_limit_exceeded"
    assert 1 <= int(response.headers["retry-after"]) <= 30
    with pytest.raises(openai.RateLimitError):
        openai.OpenAI(base_url=keyed[2], api_key=limited, max_retries=0).models.list()
    assert httpx.get(f"{keyed[2]}/models", headers={"Authorization": f"Bearer {ana}"}).status_code == 200  # per key


def test_bad_bodies_are_refused_cleanly(keyed: Any, ana: str) -> None:
    url, headers = f"{keyed[2]}/chat/completions", {"Authorization": f"Bearer {ana}"}
    big = {"model": "inhouse-auto", "messages": [{"role": "user", "content": "x" * (1100 * 1024)}]}
    response = httpx.post(url, json=big, headers=headers)
    assert response.status_code == 413 and "max_body_kb" in error_of(response)["message"]

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"model": "inhouse-auto", "messages": [{"role": "user", "content": "'
        for _ in range(1100):
            yield b"x" * 1024
        yield b'"}]}'

    assert httpx.post(url, content=chunked(), headers={**headers, "Content-Type": "application/json"}).status_code == 413
    response = httpx.post(
        url, content=b'{"model": "inhouse-auto", "messages": [', headers={**headers, "Content-Type": "application/json"}
    )
    assert response.status_code == 400 and error_of(response)["code"] == "invalid_json"
    response = httpx.post(url, json={"model": 5, "messages": "hello"}, headers=headers)
    error = error_of(response)
    assert response.status_code == 422 and error["type"] == "invalid_request_error" and error["param"] == "model"
    assert "messages" in error["message"]
    response = httpx.post(url, json={"model": "inhouse-auto", "messages": [{"role": "tool", "content": "x"}]}, headers=headers)
    assert response.status_code == 422 and error_of(response)["param"] == "messages.0.role"
    response = httpx.post(url, json=[1, 2], headers=headers)
    assert response.status_code == 422 and error_of(response)


def test_unknown_routes_and_methods_answer_in_the_openai_shape(keyed: Any, ana: str) -> None:
    headers = {"Authorization": f"Bearer {ana}"}
    response = httpx.get(f"{keyed[2]}/nothing-here", headers=headers)
    assert response.status_code == 404 and "/v1/nothing-here" in error_of(response)["message"]
    response = httpx.delete(f"{keyed[2]}/chat/completions", headers=headers)
    assert response.status_code == 405 and error_of(response)


def test_the_probes_need_no_key_and_api_responses_set_no_cookie(keyed: Any, ana: str) -> None:
    root = keyed[2].removesuffix("v1")
    assert httpx.get(root + "healthz").json() == {"status": "ok"}
    app = keyed[1]
    app.state.warm = False
    assert httpx.get(root + "readyz").status_code == 503
    app.state.warm = True
    assert httpx.get(root + "readyz").json() == {"status": "ready"}
    for response in (
        httpx.get(f"{keyed[2]}/models", headers={"Authorization": f"Bearer {ana}"}),
        httpx.get(f"{keyed[2]}/models"),
        httpx.get(root + "healthz"),
    ):
        assert "set-cookie" not in response.headers
    assert "set-cookie" in httpx.get(root).headers  # the page still gives a visitor their cookie
    assert httpx.get(f"{keyed[2]}/openapi.json").json()["servers"] == [{"url": "/v1"}]


def test_the_api_works_beside_password_sign_in_and_can_be_turned_off(keyed: Any) -> None:
    from inhouse_ui.api.settings import APISettings
    from inhouse_ui.server import build_app

    assistant = keyed[0]
    with TestClient(build_app(assistant, password_users()), client=("127.0.0.1", 50000)) as client:
        key = keyed[3].create("bob", "password mode")[1]
        assert client.get("/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 200
        assert client.get("/", follow_redirects=False).status_code == 303  # the page still wants a sign-in
    with TestClient(build_app(assistant, {}, APISettings(enabled=False)), client=("127.0.0.1", 50000)) as client:
        response = client.get("/v1/models", headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 404 and "error" not in response.text


def test_serve_says_whether_keys_are_in_force(tmp_path: Path, keyed: Any) -> None:
    from inhouse import Assistant
    from inhouse_ui.server import api_notice

    assistant = Assistant(keyed[0].settings, home=tmp_path)
    assert "no API keys, so it serves clients on this machine only, as the local user" in api_notice(assistant, "http://h:1")
    KeyStore(tmp_path).create("ana")
    assert "API keys are in force" in api_notice(assistant, "http://h:1")
