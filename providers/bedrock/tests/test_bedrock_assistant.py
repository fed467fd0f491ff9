"""The assistant routed over Bedrock (the local emulator): use cases, fallback, privacy,
images and the usage ledger, end to end on the sample corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from inhouse import Assistant
from inhouse.errors import ConfigError
from inhouse.testing.emulators.bedrock import BedrockEmulator
from support import EXAMPLES, write_config

CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
JAMBA = "ai21.jamba-1-5-large-v1:0"
pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def emulator():
    with BedrockEmulator() as emu:
        yield emu


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory, emulator: BedrockEmulator, assistant: Assistant) -> Path:
    """claude, jamba and stability on the emulator, plus the local model; the index of the
    session's assistant (the sample corpus) is reused."""
    aws = f'region = "us-east-1"\nendpoint_url = "{emulator.endpoint_url}"\nbackoff_base = 0.001'
    providers = f"""
[providers.claude]
use = "bedrock"
model = "{CLAUDE}"
{aws}

[providers.jamba]
use = "bedrock"
model = "{JAMBA}"
{aws}

[providers.stability]
use = "bedrock-image"
{aws}

[providers.local]
use = "local"

[routing]
default = ["claude", "local"]
reasoning = ["claude", "jamba", "local"]
multilingual = ["jamba", "claude", "local"]
image = ["stability"]
private = ["claude", "local"]
"""
    path = write_config(tmp_path_factory.mktemp("bedrock"), EXAMPLES, providers=providers)
    return path


@pytest.fixture(scope="module")
def routed(config: Path, assistant: Assistant):
    a = Assistant.from_config(config, home=assistant.home)
    yield a
    a.close()


@pytest.fixture(autouse=True)
def clean(aws_credentials: None, emulator: BedrockEmulator):
    emulator.reset()
    yield
    assert not emulator.invalid


def test_answer_from_claude_is_grounded_and_cited(routed: Assistant, emulator: BedrockEmulator) -> None:
    question = "How many vacation days do I get?"
    hits = routed.search(question, k=5)
    answer = routed.ask(question, user="ana")
    assert answer.provider == "claude" and not answer.abstained
    assert answer.route["use_case"] == "default" and answer.route["residency"] == "in-account"
    assert answer.route["fallback"] is False
    [req] = emulator.requests
    assert req.model_id == CLAUDE and req.params["messages"][-1]["content"][0]["text"] == question
    assert f'<document index="1" source="{hits[0].chunk.title}' in req.params["system"][0]["text"]
    assert answer.text.endswith("[1]") and answer.citations[0].source == hits[0].chunk.source
    assert answer.usage.input_tokens > 50 and answer.usage.output_tokens > 0
    assert answer.cost_usd and answer.cost_usd > 0


def test_a_german_question_goes_to_the_multilingual_chain(routed: Assistant, emulator: BedrockEmulator) -> None:
    answer = routed.ask("Wie viele Urlaubstage bekomme ich im Jahr?")
    assert answer.route["use_case"] == "multilingual" and answer.route["language"] == "de"
    assert answer.provider == "jamba" and emulator.requests[0].model_id == JAMBA


def test_throttled_claude_falls_back_to_jamba(routed: Assistant, emulator: BedrockEmulator) -> None:
    emulator.script(["throttle"] * 3, model=CLAUDE)
    answer = routed.ask("Who approves expense reports?", mode="reasoning")
    assert answer.provider == "jamba" and answer.route["fallback"] is True
    assert [(a["profile"], a["ok"], a.get("code")) for a in answer.attempts] == [
        ("claude", False, "throttled"),
        ("jamba", True, None),
    ]
    assert [r.model_id for r in emulator.requests] == [CLAUDE] * 3 + [JAMBA]


def test_private_mode_never_reaches_bedrock(routed: Assistant, emulator: BedrockEmulator) -> None:
    answer = routed.ask("How many vacation days do I get?", mode="private")
    assert answer.provider == "local" and answer.route["residency"] == "local"
    assert answer.route["skipped"][0]["profile"] == "claude"
    assert emulator.requests == []


def test_an_image_request_makes_an_image_and_sends_no_documents(routed: Assistant, emulator: BedrockEmulator) -> None:
    answer = routed.ask("Draw a lighthouse at dusk in watercolour")
    assert answer.route["use_case"] == "image" and answer.route["reason"] == "image request"
    [image] = answer.artifacts
    assert image.data.startswith(b"\x89PNG") and answer.provider == "stability"
    assert emulator.requests[0].params["body_json"]["prompt"] == "Draw a lighthouse at dusk in watercolour"
    assert answer.to_dict()["artifacts"][0]["bytes"] == len(image.data)


def test_a_filtered_image_says_so(routed: Assistant) -> None:
    *pieces, answer = routed.stream("FILTERME", mode="image")
    assert answer.abstained and not answer.artifacts and "content filter" in answer.text
    assert pieces == [answer.text]  # streamed too, so the chat shows the reason


def test_a_mode_that_is_not_configured_is_an_error(assistant: Assistant) -> None:
    with pytest.raises(ConfigError, match=r"routing\.reasoning"):
        assistant.ask("anything", mode="reasoning")


def test_inhouse_usage_summarises_the_ledger(routed: Assistant, config: Path, emulator: BedrockEmulator) -> None:
    from inhouse.cli import app

    emulator.script(["throttle"] * 3, model=CLAUDE)
    routed.ask("Who approves expense reports?", mode="reasoning", user="bo")
    runner = CliRunner()
    result = runner.invoke(app, ["--home", str(routed.home), "--config", str(config), "usage", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["model"]: r for r in json.loads(result.output)}
    assert rows[CLAUDE]["failed"] >= 1 and rows[JAMBA]["calls"] >= 1 and rows[JAMBA]["cost_usd"] > 0
    by_user = json.loads(runner.invoke(app, ["--home", str(routed.home), "usage", "--by", "user", "--json"]).output)
    assert "bo" in {r["user"] for r in by_user}
    table = runner.invoke(app, ["--home", str(routed.home), "usage", "--since", "1h"], env={"COLUMNS": "200"})
    assert CLAUDE in table.output and "cost (USD)" in table.output and "[prices]" in table.output
