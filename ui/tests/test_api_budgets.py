"""``[budgets]`` through the running server: a user over their monthly cost budget, or their
requests a minute, gets 429 with ``Retry-After`` (the seconds to the reset) and the limit's
own message in the OpenAI error shape, on every answering route, before any model call: the
model server sees no request and the ledger gains no row."""

from __future__ import annotations

import calendar
import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from inhouse.errors import BudgetExceeded
from inhouse.keys import KeyStore
from inhouse.testing.emulators.openai_server import OpenAIServer
from ui_support import USERS, api_assistant, password_users, run_event, served, sign_in_client

QUESTION = "Where do visitors park?"
# The shared corpus is public (bob's answers come from the model); at $10,000 per million
# tokens an answer of a hundred or more tokens costs at least $1.
BUDGETS = """
[[access.rules]]
glob = "*"
public = true
[prices.test-model]
input = 10000
output = 10000

[budgets.users.ana]
cost_per_month = 0.5

[budgets.users.bob]
requests_per_minute = 1
"""


@pytest.fixture(scope="module")
def budgeted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, OpenAIServer, str, KeyStore]]:
    """The assistant with ``BUDGETS``, its model server, the API's base URL and its key store."""
    with OpenAIServer() as model:
        assistant = api_assistant(tmp_path_factory.mktemp("api-budgets"), model.base_url, BUDGETS)
        with served(assistant) as (_app, base):
            yield assistant, model, base, KeyStore(assistant.home)
        assistant.close()


def client(base: str, keys: KeyStore, user: str) -> httpx.Client:
    return httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys.create(user, 'tests')[1]}"}, timeout=60)


def chat(http: httpx.Client, stream: bool = False) -> httpx.Response:
    return http.post(
        "/chat/completions", json={"model": "inhouse-auto", "messages": [{"role": "user", "content": QUESTION}], "stream": stream}
    )


def refusal(response: httpx.Response) -> dict[str, Any]:
    """The error of a 429 budget refusal (checked to be in the OpenAI shape)."""
    assert response.status_code == 429, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "type", "param", "code"}, body
    assert (body["error"]["type"], body["error"]["code"]) == ("rate_limit_error", "budget_exceeded"), body
    return body["error"]


def test_a_user_over_their_monthly_cost_budget_gets_429_until_the_first_of_the_month(budgeted: Any) -> None:
    assistant, model, base, keys = budgeted
    with client(base, keys, "ana") as ana:
        first = chat(ana)
        assert first.status_code == 200, first.text
        [call] = [c for c in assistant.ledger.calls() if c["user"] == "ana"]
        assert call["cost_usd"] >= 0.5  # one answer spends the month's budget
        seen, rows = len(model.requests), len(assistant.ledger.calls(limit=1000))
        today = time.gmtime()
        reset = f"{today.tm_year + 1}-01-01" if today.tm_mon == 12 else f"{today.tm_year}-{today.tm_mon + 1:02d}-01"
        expected = f"ana has used ${call['cost_usd']:,.2f} of the $0.50 monthly budget; it resets on {reset} (00:00 UTC)"
        year, month = (today.tm_year + 1, 1) if today.tm_mon == 12 else (today.tm_year, today.tm_mon + 1)
        to_reset = calendar.timegm((year, month, 1, 0, 0, 0)) - time.time()
        for refused in (
            chat(ana),
            chat(ana, stream=True),
            ana.post("/ask", json={"question": QUESTION}),
            ana.post("/embeddings", json={"model": "inhouse-embed", "input": "a text"}),
        ):
            assert refusal(refused)["message"] == expected
            retry_after = int(refused.headers["Retry-After"])
            assert abs(retry_after - to_reset) <= 5, (retry_after, to_reset)
        assert len(model.requests) == seen and len(assistant.ledger.calls(limit=1000)) == rows  # no model call, no row


def test_requests_a_minute_are_429_with_the_seconds_to_wait(budgeted: Any) -> None:
    _assistant, model, base, keys = budgeted
    with client(base, keys, "bob") as bob:
        before = len(model.requests)
        answered = chat(bob)
        assert answered.status_code == 200 and "level -2" in answered.json()["choices"][0]["message"]["content"], answered.text
        seen = len(model.requests)
        assert seen > before
        refused = chat(bob)
        error = refusal(refused)
        assert error["message"].startswith("bob made 1 request in the last minute, the limit of requests a minute (1): retry in ")
        assert 55 <= int(refused.headers["Retry-After"]) <= 60
        assert len(model.requests) == seen


@pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")
def test_the_page_shows_the_limit_and_when_it_resets(budgeted: Any) -> None:
    from inhouse_ui.server import build_app

    assistant, model, _base, _keys = budgeted
    with contextlib.suppress(BudgetExceeded):  # one answer spends ana's month, whichever test ran first
        assistant.ask(QUESTION, user="ana")
    seen = len(model.requests)
    with TestClient(build_app(assistant, password_users())) as ana:
        assert sign_in_client(ana, "ana", USERS["ana"]).status_code == 303
        [chat, _, _] = run_event(ana, "question", "submit", [QUESTION, "auto"], "ana-page")
    shown = json.dumps(chat)
    assert "ana has used $" in shown and "of the $0.50 monthly budget; it resets on" in shown, shown
    assert len(model.requests) == seen
