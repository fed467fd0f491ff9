"""End to end: a question asked in ``private`` mode is answered only by a self-hosted or
local model, and its fallback never reaches Bedrock — the Bedrock emulator counts every
request it receives, so "never" is measured, not assumed."""

from __future__ import annotations

import socket

import pytest

from inhouse import Assistant
from inhouse.errors import ProviderError
from inhouse.testing.emulators.bedrock import BedrockEmulator
from inhouse.testing.emulators.tgi import TGIEmulator
from support import EXAMPLES, write_config

pytestmark = pytest.mark.model
QUESTION = "How many vacation days do I get?"


def closed_port() -> int:
    """A loopback port nothing listens on (a cold or stopped self-hosted server)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def bedrock():
    with BedrockEmulator() as emu:
        yield emu


@pytest.fixture(scope="module")
def tgi():
    with TGIEmulator() as emu:
        yield emu


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory, bedrock: BedrockEmulator, tgi: TGIEmulator, assistant: Assistant):
    """claude on Bedrock first in every chain; a stopped TGI, a working TGI and the local model."""
    fast = "backoff_base = 0.001\nmax_attempts = 2"
    providers = f"""
[providers.claude]
use = "bedrock"
model = "anthropic.claude-3-5-sonnet-20240620-v1:0"
region = "us-east-1"
endpoint_url = "{bedrock.endpoint_url}"
{fast}

[providers.stopped]
use = "tgi"
url = "http://127.0.0.1:{closed_port()}"
connect_timeout = 0.5
{fast}

[providers.tgi]
use = "tgi"
url = "{tgi.endpoint_url}"
{fast}

[providers.local]
use = "local"

[routing]
default = ["claude", "local"]
private = ["claude", "stopped", "tgi", "local"]
only_bedrock = ["claude"]
"""
    extra = '[router]\nprivate_residency = ["local", "self-hosted"]\n'
    config = write_config(tmp_path_factory.mktemp("private"), EXAMPLES, extra=extra, providers=providers)
    a = Assistant.from_config(config, home=assistant.home)
    yield a
    a.close()


@pytest.fixture(autouse=True)
def clean(aws_credentials, bedrock: BedrockEmulator, tgi: TGIEmulator):
    bedrock.reset()
    tgi.reset()


def test_private_skips_bedrock_and_falls_back_past_a_stopped_server(private: Assistant, bedrock, tgi) -> None:
    answer = private.ask(QUESTION, mode="private")
    assert answer.provider == "tgi" and answer.route["residency"] == "self-hosted" and not answer.abstained
    assert answer.route["skipped"] == [{"profile": "claude", "reason": "residency in-account may not receive private context"}]
    assert [(a["profile"], a["ok"]) for a in answer.attempts] == [("stopped", False), ("tgi", True)]
    assert answer.route["fallback"] is True and answer.citations
    assert '<document index="1" ' in tgi.requests[-1].body["messages"][0]["content"]  # the context went to the self-hosted model
    assert bedrock.requests == []


def test_when_every_self_hosted_server_fails_the_local_model_answers(private: Assistant, bedrock, tgi) -> None:
    tgi.script(["overloaded"] * 2)
    answer = private.ask(QUESTION, mode="private")
    assert answer.provider == "local" and answer.route["residency"] == "local"
    assert [a["profile"] for a in answer.attempts] == ["stopped", "tgi", "local"]
    assert bedrock.requests == []


def test_a_private_question_with_no_private_model_fails_without_sending_anything(private: Assistant, bedrock) -> None:
    private.settings.core.routing["private"] = ["claude"]
    try:
        with pytest.raises(ProviderError, match=r"no provider of routing\.private can take this request"):
            private.ask(QUESTION, mode="private")
    finally:
        private.settings.core.routing["private"] = ["claude", "stopped", "tgi", "local"]
    assert bedrock.requests == []


def test_the_same_question_without_private_mode_goes_to_bedrock(private: Assistant, bedrock) -> None:
    answer = private.ask(QUESTION)
    assert answer.provider == "claude" and len(bedrock.requests) == 1


def test_every_private_call_is_in_the_ledger_with_its_residency(private: Assistant) -> None:
    private.ask(QUESTION, mode="private", user="eve")
    rows = {(r["profile"], r["residency"], bool(r["ok"])) for r in private.ledger.calls(limit=10) if r["user"] == "eve"}
    assert rows == {("stopped", "self-hosted", False), ("tgi", "self-hosted", True)}
