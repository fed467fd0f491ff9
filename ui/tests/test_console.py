"""The admin console (``/admin``): real answers by the offline model server (a fallback, an
abstention, several users and groups, a hostile user name) and what the console shows of them:
usage per day by model, use case, group and user (SVG charts, tables, CSV that parses back to
the ledger's rows), abstention and fallback rates, feedback, the audit log with filters and
pages, connectors, plugin health and budgets; for admins only."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from inhouse.testing.emulators.openai_server import OpenAIServer
from support import write_config
from ui_support import USERS, password_users, sign_in_client

pytestmark = pytest.mark.model  # MiniLM

HOSTILE = "<script>alert(1)</script>"
TODAY = time.strftime("%Y-%m-%d", time.gmtime())
SECTIONS = ("/admin", "/admin/usage", "/admin/answers", "/admin/feedback", "/admin/log", "/admin/connectors", "/admin/health",
            "/admin/budgets")  # fmt: skip
CONFIG = f"""
[[access.rules]]
glob = "*"
public = true

[users.ana]
groups = ["admins", "staff"]

[users.bob]
groups = ["staff"]

[users."{HOSTILE}"]
groups = ["<b>ops</b>"]

[prices.test-model]
input = 10000
output = 10000

[prices.backup-model]
input = 1000
output = 1000

[budgets.users.bob]
cost_per_month = 0.01

[budgets.groups.staff]
tokens_per_day = 100000000
"""
CORPUS = {
    "parking.md": "# Parking\n\nVisitors park on level -2 of the Rotterdam garage.\n",
    "canteen.md": "# Canteen\n\nThe canteen closes at three on Fridays.\n",
}


@dataclass
class Console:
    """The served assistant, the answers it gave, and signed-in clients."""

    assistant: Any
    app: Any
    answers: list[tuple[str, Any]]  # (user, Answer)
    ana: TestClient
    bob: TestClient


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """Answers for ana, bob and a hostile user name: the first through a failed model (a fallback), one abstaining."""
    from inhouse import Assistant
    from inhouse_ui.server import build_app

    folder = tmp_path_factory.mktemp("console")
    corpus = folder / "corpus"
    corpus.mkdir()
    for name, text in CORPUS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    with OpenAIServer(models=("test-model", "backup-model")) as model:
        providers = (
            f'[providers.main]\nuse = "openai-compatible"\nbase_url = "{model.base_url}"\nmodel = "test-model"\n'
            "max_attempts = 1\n\n"  # the scripted server error is not retried: the answer falls back
            f'[providers.backup]\nuse = "openai-compatible"\nbase_url = "{model.base_url}"\nmodel = "backup-model"\n\n'
            '[routing]\ndefault = ["main", "backup"]\n'
        )
        assistant = Assistant.from_config(write_config(folder, corpus, CONFIG, providers), home=folder / "home")
        assert not assistant.ingest().failed
        answers = []
        model.script(["server-error"])
        answers.append(("ana", assistant.ask("Where do visitors park?", user="ana")))
        answers.append(("ana", assistant.ask("What colour is the moon of planet Zorblax in the Quintar nebula?", user="ana")))
        answers.append((HOSTILE, assistant.ask("Where do visitors park?", user=HOSTILE)))
        answers.append(("bob", assistant.ask("When does the canteen close?", user="bob")))  # over his budget after it
        app = build_app(assistant, {**password_users(), "admins": ["admins"]})
        with TestClient(app) as ana, TestClient(app) as bob:
            assert sign_in_client(ana, "ana", USERS["ana"]).status_code == 303
            assert sign_in_client(bob, "bob", USERS["bob"]).status_code == 303
            yield Console(assistant, app, answers, ana, bob)
        assistant.close()


def table(response: Any) -> list[dict[str, str]]:
    """A CSV response parsed by the csv module."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.text)))


def test_the_fixture_made_a_fallback_an_abstention_and_failed_calls(console: Console) -> None:
    flags = [(a.route.get("fallback"), a.abstained) for _, a in console.answers]
    assert flags[0] == (True, False) and any(abstained for _, abstained in flags), flags
    assert any(not c["ok"] for c in console.assistant.ledger.calls(limit=100))


def test_only_admins_see_the_console(console: Console) -> None:
    for path in SECTIONS:
        assert console.ana.get(path).status_code == 200, path
        assert console.bob.get(path).status_code == 404, path
        assert console.bob.get(path, params={"format": "csv"}).status_code == 404, path
    with TestClient(console.app) as nobody:
        for path in SECTIONS:  # not signed in: 401, as every admin view
            assert nobody.get(path, params={"format": "csv"}).status_code == 401, path


def test_a_group_vouched_for_by_the_sign_in_makes_an_admin(console: Console) -> None:
    """What an OpenID Connect sign-in does with the provider's group claim (``Assistant.vouched``)."""
    with TestClient(console.app) as cleo:
        assert sign_in_client(cleo, "cleo", USERS["cleo"]).status_code == 303
        assert cleo.get("/admin").status_code == 404
        console.assistant.vouched.vouch("cleo", ["admins"])
        assert cleo.get("/admin").status_code == 200
        console.assistant.vouched.vouch("cleo", [])
        assert cleo.get("/admin").status_code == 404


def test_the_overview_sums_the_last_30_days(console: Console) -> None:
    page = console.ana.get("/admin").text
    calls = console.assistant.ledger.calls(limit=1000)
    assert f'<td>model calls</td><td class="n">{len(calls)}</td>' in page
    assert f'<td>questions answered</td><td class="n">{len(console.answers)}</td>' in page
    assert "<polyline" in page and "test-model" in page


@pytest.mark.parametrize("by", ["model", "use_case", "user"])
def test_usage_csv_is_the_ledgers_calls_per_day(console: Console, by: str) -> None:
    rows = table(console.ana.get("/admin/usage", params={"by": by, "format": "csv"}))
    calls = console.assistant.ledger.calls(limit=1000)
    expected: dict[tuple[str, str], list[float]] = {}
    for call in calls:
        sums = expected.setdefault((call["day"], call[by] or ""), [0, 0, 0.0])
        sums[0] += 1
        sums[1] += call["input_tokens"] + call["output_tokens"]
        sums[2] += call["cost_usd"] or 0.0
    got = {
        (r["day"], r[by]): [int(r["calls"]), int(r["input_tokens"]) + int(r["output_tokens"]), float(r["cost_usd"])] for r in rows
    }
    assert got.keys() == expected.keys()
    for key, (n, tokens, cost) in expected.items():
        assert got[key][:2] == [n, tokens] and got[key][2] == pytest.approx(cost, abs=1e-5), key
    if by == "model":
        assert {"test-model", "backup-model"} <= {r["model"] for r in rows}
        assert sum(float(r["cost_usd"]) for r in rows) > 0


def test_usage_by_group_counts_each_users_calls_in_each_of_their_groups(console: Console) -> None:
    rows = table(console.ana.get("/admin/usage", params={"by": "group", "format": "csv"}))
    per_user: dict[str, int] = {}
    for call in console.assistant.ledger.calls(limit=1000):
        per_user[call["user"]] = per_user.get(call["user"], 0) + 1
    calls = {r["group"]: int(r["calls"]) for r in rows}
    assert calls["staff"] == per_user["ana"] + per_user["bob"]
    assert calls["admins"] == per_user["ana"]
    assert calls["<b>ops</b>"] == per_user[HOSTILE]


def test_usage_page_draws_charts_and_filters_by_date(console: Console) -> None:
    page = console.ana.get("/admin/usage", params={"by": "user", "metric": "tokens"})
    assert page.status_code == 200 and page.headers["content-security-policy"].startswith("default-src 'none'")
    assert page.text.count("<svg") == 2 and "<polyline" in page.text and "<rect" in page.text
    assert "<td>bob</td>" in page.text
    tomorrow = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
    later = console.ana.get("/admin/usage", params={"from": tomorrow, "to": tomorrow, "format": "csv"})
    assert table(later) == []
    today = table(console.ana.get("/admin/usage", params={"from": TODAY, "to": TODAY, "format": "csv"}))
    assert {r["day"] for r in today} == {TODAY}
    bad = console.ana.get("/admin/usage", params={"from": "yesterday"})
    assert bad.status_code == 400 and "from must be a date" in bad.text
    assert console.ana.get("/admin/usage", params={"from": TODAY, "to": "2020-01-01"}).status_code == 400
    assert console.ana.get("/admin/usage", params={"by": "colour"}).status_code == 400


def test_hostile_labels_are_escaped_in_the_html_and_the_svg(console: Console) -> None:
    for params in ({"by": "user"}, {"by": "group"}):
        page = console.ana.get("/admin/usage", params=params)
        assert "<script>" not in page.text and "<b>ops" not in page.text
        svg = page.text[page.text.index("<svg") : page.text.rindex("</svg>")]
        label = "&lt;script&gt;alert(1)&lt;/script&gt;" if params["by"] == "user" else "&lt;b&gt;ops&lt;/b&gt;"
        assert label in svg and label in page.text[page.text.rindex("</svg>") :]
    log = console.ana.get("/admin/log", params={"user": HOSTILE})
    assert "<script>" not in log.text and f"<td>{'&lt;script&gt;alert(1)&lt;/script&gt;'}</td>" in log.text


def test_abstention_and_fallback_rates_are_the_answers(console: Console) -> None:
    [today] = [r for r in table(console.ana.get("/admin/answers", params={"format": "csv"})) if r["day"] == TODAY]
    answers = [a for _, a in console.answers]
    abstained, fallbacks = sum(a.abstained for a in answers), sum(bool(a.route.get("fallback")) for a in answers)
    assert (int(today["answers"]), int(today["abstained"]), int(today["fallbacks"])) == (len(answers), abstained, fallbacks)
    assert float(today["abstention_rate"]) == pytest.approx(abstained / len(answers), abs=1e-4)
    page = console.ana.get("/admin/answers")
    assert "<polyline" in page.text and "abstained %" in page.text and "fallback %" in page.text


def test_feedback_shows_the_question_answer_and_sources_and_exports_safely(console: Console) -> None:
    feedback = console.app.state.page.feedback
    user, answer = console.answers[3]
    sources = [{"n": c.n, "source": c.source, "doc_id": c.doc_id} for c in answer.citations]
    feedback.rate(user=user, question="When does the canteen close?", answer=answer.text, sources=sources,
                  provider=answer.provider, rating=-1)  # fmt: skip
    feedback.rate(user=HOSTILE, question='=HYPERLINK("http://x")', answer="@SUM(1)", sources=[], provider=None, rating=1)
    page = console.ana.get("/admin/feedback", params={"rating": "down"})
    assert "When does the canteen close?" in page.text and "canteen.md" in page.text and "not helpful" in page.text
    assert "HYPERLINK" not in page.text  # filtered out: a helpful one
    rows = table(console.ana.get("/admin/feedback", params={"format": "csv"}))
    assert [r["rating"] for r in rows] == ["helpful", "not helpful"]  # newest first
    assert rows[0]["question"] == '\'=HYPERLINK("http://x")' and rows[0]["answer"] == "'@SUM(1)"
    assert rows[0]["user"] == HOSTILE and rows[1]["answer"] == answer.text and rows[1]["sources"] == "canteen.md"


def test_the_audit_log_filters_by_user_kind_and_date_and_pages(console: Console) -> None:
    log = console.assistant.audit
    for n in range(55):
        log.append("question", user="pager", use_case="default", provider="main", abstained=False, question_sha256=str(n))
    rows = table(console.ana.get("/admin/log", params={"user": "bob", "format": "csv"}))
    records = [r for r in log.records(user="bob")]
    assert len(rows) == len(records) > 0 and {r["user"] for r in rows} == {"bob"}
    calls = table(console.ana.get("/admin/log", params={"kind": "call", "format": "csv"}))
    assert calls and {r["kind"] for r in calls} == {"call"}
    assert len(calls) == len([r for r in log.records() if r["kind"] == "call"])
    first = console.ana.get("/admin/log", params={"user": "pager"})
    assert f"The chain verifies: {log.verify().records} records" in first.text
    assert first.text.count("<td>pager</td>") == 50 and "page 1 of 2 (55 rows)" in first.text
    assert 'href="/admin/log?user=pager&amp;from=' in first.text
    second = console.ana.get("/admin/log", params={"user": "pager", "page": 2})
    assert second.text.count("<td>pager</td>") == 5
    yesterday = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))
    assert table(console.ana.get("/admin/log", params={"to": yesterday, "format": "csv"})) == []
    assert console.ana.get("/admin/log", params={"kind": "bogus"}).status_code == 400


def test_connectors_health_and_budgets(console: Console) -> None:
    [docs] = table(console.ana.get("/admin/connectors", params={"format": "csv"}))
    assert (docs["connector"], docs["schedule"]) == ("docs", "`inhouse sync` only") and docs["last sync"]
    checks = {r["check"]: r for r in table(console.ana.get("/admin/health", params={"format": "csv"}))}
    assert checks["configuration"]["ok"] == "ok" and checks["providers.main"]["ok"] == "ok"
    assert "openai-compatible" in checks["providers.main"]["detail"]
    budgets = table(console.ana.get("/admin/budgets", params={"status": "near", "format": "csv"}))
    assert [(r["subject"], r["limit"], r["status"]) for r in budgets] == [("user:bob", "cost_per_month", "over")]
    assert float(budgets[0]["used"]) >= 0.01
    everyone = table(console.ana.get("/admin/budgets", params={"format": "csv"}))
    assert ("group:staff", "ok") in {(r["subject"], r["status"]) for r in everyone}
    page = console.ana.get("/admin/budgets")
    assert '<tr class="over"><td>user:bob</td>' in page.text and "<svg" in page.text
