"""Budgets and quotas, enforced: real answers (the offline extractive answerer) write real
ledger rows; a user or group over a limit of ``[budgets]`` is refused before any model call
(the ledger keeps its row count), every applicable limit applies, windows reset at UTC
midnight, on the 1st and after a minute, bad settings name their key, and ``inhouse budgets``
marks who is near or over."""

from __future__ import annotations

import calendar
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import inhouse.cli as cli
from inhouse import Assistant
from inhouse.access import Directory
from inhouse.budgets import Budgets
from inhouse.config import load
from inhouse.errors import BudgetExceeded, ConfigError
from inhouse.ledger import Call, Ledger
from inhouse.types import Usage
from support import write_config

QUESTION = "How many days of annual leave do employees get?"
USERS = '[users.ana]\ngroups = ["hr"]\n\n[users.carl]\ngroups = ["hr", "it"]\n\n[users.dana]\ngroups = ["it"]\n\n'
DEC_15 = calendar.timegm((2026, 12, 15, 10, 0, 0))  # a fixed "now" for the window tests


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a one-file corpus and a data folder (``home``) that has indexed it for everyone."""
    folder = tmp_path_factory.mktemp("budgets")
    corpus = folder / "corpus"
    corpus.mkdir()
    (corpus / "leave.md").write_text("# Leave\n\nEmployees get 25 days of annual leave a year, plus public holidays.\n")
    with Assistant.from_config(write_config(folder, corpus, USERS), home=folder / "home") as assistant:
        report = assistant.ingest(corpus, acl=["*"])
        assert report.added and not report.failed, report
    return folder


@pytest.fixture
def make(ingested: Path, tmp_path: Path) -> Iterator[Any]:
    """``make(budgets_toml)``: an assistant with these ``[budgets]`` on a fresh copy of the index."""
    made: list[Assistant] = []

    def build(budgets: str) -> Assistant:
        home = tmp_path / f"home{len(made)}"
        shutil.copytree(ingested / "home", home)
        config = write_config(tmp_path, ingested / "corpus", USERS + budgets)
        made.append(Assistant.from_config(config, home=home))
        return made[-1]

    yield build
    for assistant in made:
        assistant.close()


def rows(assistant: Assistant) -> int:
    return len(assistant.ledger.calls(limit=1000))


def test_a_user_over_a_token_budget_is_refused_before_any_model_call(make: Any) -> None:
    assistant = make("[budgets.users.ana]\ntokens_per_day = 100\n")
    answer = assistant.ask(QUESTION, user="ana")
    assert "25 days" in answer.text and rows(assistant) == 1
    used = answer.usage.input_tokens + answer.usage.output_tokens
    assert used >= 100  # one answer spends the day's budget
    with pytest.raises(BudgetExceeded) as refused:
        assistant.ask(QUESTION, user="ana")
    tomorrow = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400))
    assert (
        str(refused.value) == f"ana has used {used:,} tokens of the 100-token daily budget; it resets on {tomorrow} (00:00 UTC)"
    )
    midnight = (int(time.time()) // 86400 + 1) * 86400
    assert abs(refused.value.retry_after - (midnight - time.time())) <= 2
    assert (refused.value.subject, refused.value.limit) == ("user:ana", "tokens_per_day")
    assert rows(assistant) == 1  # no provider call, no ledger row
    with pytest.raises(BudgetExceeded):  # embeddings for her are refused too
        assistant.embed(["a text"], user="ana")
    assert "25 days" in assistant.ask(QUESTION, user="carl").text  # carl has no limit
    assert "25 days" in assistant.ask(QUESTION).text  # nor the local caller
    assert rows(assistant) == 3


def test_a_group_limit_counts_all_its_members_and_every_applicable_limit_applies(make: Any) -> None:
    assistant = make("[budgets.groups.hr]\ntokens_per_month = 250\n\n[budgets.groups.it]\nrequests_per_minute = 5\n")
    first = assistant.ask(QUESTION, user="ana")
    second = assistant.ask(QUESTION, user="carl")  # under the limit until both have asked
    spent = sum(a.usage.input_tokens + a.usage.output_tokens for a in (first, second))
    assert spent >= 250 and rows(assistant) == 2
    today = time.gmtime()
    next_month = f"{today.tm_year + 1}-01-01" if today.tm_mon == 12 else f"{today.tm_year}-{today.tm_mon + 1:02d}-01"
    for member in ("ana", "carl"):  # carl is in "it" too: hr's limit still holds him
        with pytest.raises(BudgetExceeded, match=rf"^the group hr has used {spent:,} tokens of the 250-token monthly budget; "
                           rf"it resets on {next_month} \(00:00 UTC\)$") as refused:  # fmt: skip
            assistant.ask(QUESTION, user=member)
        assert refused.value.subject == "group:hr"
    assert rows(assistant) == 2
    assert "25 days" in assistant.ask(QUESTION, user="dana").text  # "it" has spent nothing of its own
    report = {(use.subject, use.limit): use for use in assistant.budgets.report()}
    assert report[("group:hr", "tokens_per_month")].status == "over"
    assert report[("group:it", "requests_per_minute")].used == 2  # carl's first request and dana's


def test_windows_reset_at_utc_midnight_and_on_the_first_of_the_month(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "usage.sqlite3")
    for ts, cost in ((DEC_15 - 86400, 6.0), (DEC_15 - 3600, 4.0)):  # yesterday and today
        ledger.record(Call("generate", "p", "x", "m", "external", True, Usage(300, 20), user="ana", cost_usd=cost, ts=ts))
    settings = load(write_config(tmp_path, tmp_path, USERS + "[budgets.users.ana]\ncost_per_day = 4\ncost_per_month = 12\n"))
    budgets = Budgets(settings.core.budgets, lambda: Directory(settings.core.users), lambda: ledger)
    with pytest.raises(
        BudgetExceeded, match=r"^ana has used \$4\.00 of the \$4\.00 daily budget; it resets on 2026-12-16"
    ) as day:
        budgets.check("ana", now=DEC_15)
    assert day.value.retry_after == calendar.timegm((2026, 12, 16, 0, 0, 0)) - DEC_15
    budgets.check("ana", now=calendar.timegm((2026, 12, 16, 0, 0, 1)))  # a new day: $10 of $12 this month
    ledger.record(Call("generate", "p", "x", "m", "external", True, Usage(9, 9), user="ana", cost_usd=2.5, ts=DEC_15 + 86400))
    late = calendar.timegm((2026, 12, 31, 23, 0, 0))
    with pytest.raises(
        BudgetExceeded, match=r"^ana has used \$12\.50 of the \$12\.00 monthly budget; it resets on 2027-01-01"
    ) as month:
        budgets.check("ana", now=late)
    assert month.value.retry_after == 3600
    budgets.check("ana", now=calendar.timegm((2027, 1, 1, 0, 0, 0)))  # December's spending is behind her
    budgets.close()
    ledger.close()


def test_requests_per_minute_slide_and_a_refused_request_is_not_counted(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "usage.sqlite3")
    settings = load(write_config(tmp_path, tmp_path, USERS + "[budgets.default]\nrequests_per_minute = 2\n"))
    budgets = Budgets(settings.core.budgets, lambda: Directory(settings.core.users), lambda: ledger)
    budgets.check("ana", now=DEC_15)
    budgets.check("ana", now=DEC_15 + 20)
    budgets.check("bob", now=DEC_15 + 20)  # not configured: the default still applies, on his own
    for attempt in (DEC_15 + 30, DEC_15 + 45):
        with pytest.raises(BudgetExceeded, match=r"^ana made 2 requests in the last minute") as refused:
            budgets.check("ana", now=attempt)
        assert refused.value.retry_after == DEC_15 + 60 - attempt
    budgets.check("ana", now=DEC_15 + 60)  # the first request has left the window
    with pytest.raises(BudgetExceeded) as again:
        budgets.check("ana", now=DEC_15 + 61)
    assert again.value.retry_after == 19  # the refused ones were not counted: the one at +20 is the oldest
    budgets.check(None, now=DEC_15 + 61)  # the local caller has no budget
    budgets.close()
    ledger.close()


def test_the_check_adds_only_new_rows_whoever_wrote_them(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "usage.sqlite3")
    settings = load(write_config(tmp_path, tmp_path, USERS + "[budgets.groups.hr]\ncost_per_month = 20\n"))
    budgets = Budgets(settings.core.budgets, lambda: Directory(settings.core.users), lambda: ledger)
    for i in range(3000):  # 50 hours of calls, all this month: ana's and carl's (hr) cost $15
        user = ("ana", "carl", "dana", "eve")[i % 4]
        call = Call("generate", "p", "x", "m", "external", True, Usage(100, 10), user=user, cost_usd=0.01, ts=DEC_15 - i * 60)
        ledger.record(call)
    budgets.check("ana", now=DEC_15)  # sums the month once
    started = time.perf_counter()
    for _ in range(100):
        budgets.check("carl", now=DEC_15)
    per_check_ms = (time.perf_counter() - started) * 10
    assert per_check_ms < 5, per_check_ms  # measured ~0.05 ms (see the report)
    other = Ledger(ledger.path)  # another process's connection
    other.record(Call("generate", "p", "x", "m", "external", True, Usage(9, 9), user="carl", cost_usd=5.0, ts=DEC_15))
    other.close()
    with pytest.raises(BudgetExceeded, match=r"^the group hr has used \$20\.00 of the \$20\.00 monthly budget"):
        budgets.check("ana", now=DEC_15)
    hr = next(use for use in budgets.report(now=DEC_15) if use.subject == "group:hr")
    assert hr.used == pytest.approx(20.0) and hr.status == "over"
    budgets.close()
    ledger.close()


def test_bad_budget_settings_name_their_key(tmp_path: Path) -> None:
    for table, expected in (
        ("[budgets.users.ana]\ncost_per_mnth = 20\n", "budgets.users.ana.cost_per_mnth: unknown key"),
        (
            "[budgets.default]\ntokens_per_day = -1\n",
            "budgets.default.tokens_per_day: Input should be greater than or equal to 0",
        ),
        (
            "[budgets.groups.hr]\nrequests_per_minute = 'many'\n",
            "budgets.groups.hr.requests_per_minute: Input should be a valid integer",
        ),
        ("[budgets]\ngroup = {}\n", "budgets.group: unknown key (did you mean 'groups'?)"),
    ):
        with pytest.raises(ConfigError) as bad:
            load(write_config(tmp_path, tmp_path, table))
        assert expected in str(bad.value), (table, str(bad.value))


def test_the_budgets_command_marks_who_is_near_or_over(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "home" / "usage.sqlite3")
    now = time.time()
    for user, tokens in (("ana", 900), ("carl", 50), ("eve", 2000)):  # eve: not configured, seen in the ledger
        ledger.record(Call("generate", "p", "x", "m", "local", True, Usage(tokens, 0), user=user, cost_usd=0.0, ts=now - 5))
    ledger.close()
    budgets = "[budgets.default]\ntokens_per_day = 1000\n\n[budgets.users.carl]\ntokens_per_day = 100000\n"
    config = write_config(tmp_path, tmp_path, USERS + budgets + "[budgets.groups.it]\ncost_per_month = 5\n")
    cli.load_commands()
    runner = CliRunner()
    args = ["--home", str(tmp_path / "home"), "--config", str(config), "budgets"]
    result = runner.invoke(cli.app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    found = {(row["subject"], row["limit"]): row for row in json.loads(result.output)}
    assert found[("user:ana", "tokens_per_day")]["status"] == "near" and found[("user:ana", "tokens_per_day")]["percent"] == 90
    assert found[("user:eve", "tokens_per_day")]["status"] == "over" and found[("user:eve", "tokens_per_day")]["used"] == 2000
    assert found[("user:carl", "tokens_per_day")]["status"] == "ok" and found[("user:dana", "tokens_per_day")]["used"] == 0
    assert found[("group:it", "cost_per_month")] | {"resets": None} == {
        "subject": "group:it", "limit": "cost_per_month", "used": 0, "allowed": 5, "percent": 0, "status": "ok", "resets": None,
    }  # fmt: skip
    near = runner.invoke(cli.app, [*args, "--near"])
    assert near.exit_code == 0, near.output
    assert "user:ana" in near.output and "user:eve" in near.output and "over" in near.output and "user:carl" not in near.output
