"""The assistant routed over ``litellm`` profiles (LiteLLM's ``openai/...`` path to the local
OpenAI-compatible server) on the sample corpus: a cited answer with usage, fallback when the
model is throttled, and the declared residency deciding what private mode may use."""

from __future__ import annotations

import pytest

from inhouse import Assistant
from inhouse.testing.emulators.openai_server import OpenAIServer
from support import EXAMPLES, write_config

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def oai():
    """One OpenAI-compatible server for the module."""
    with OpenAIServer(models=("test-model",), api_key="sk-secret") as emu:
        yield emu


@pytest.fixture(scope="module")
def routed(tmp_path_factory: pytest.TempPathFactory, oai: OpenAIServer, assistant: Assistant):
    """``remote`` (residency not declared: external) and ``onprem`` (declared self-hosted), both
    LiteLLM profiles of the same server, then the offline extractive answerer; the session
    assistant's index of the sample corpus is reused."""
    profile = f'use = "litellm"\nmodel = "openai/test-model"\napi_base = "{oai.base_url}"\n'
    profile += 'api_key = { env = "INHOUSE_TEST_LITELLM_KEY" }\nbackoff_base = 0.001\n'
    providers = f"""
[providers.remote]
{profile}
[providers.onprem]
{profile}residency = "self-hosted"

[providers.extractive]
use = "extractive"

[routing]
default = ["remote", "extractive"]
private = ["remote", "onprem", "extractive"]
"""
    path = write_config(tmp_path_factory.mktemp("litellm"), EXAMPLES, providers=providers)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("INHOUSE_TEST_LITELLM_KEY", "sk-secret")
        a = Assistant.from_config(path, home=assistant.home)
    yield a
    a.close()


@pytest.fixture(autouse=True)
def clean(oai: OpenAIServer):
    """Each test starts from a reset server."""
    oai.reset()


def test_a_cited_answer_through_litellm(routed: Assistant, oai: OpenAIServer) -> None:
    question = "How many vacation days do I get?"
    answer = routed.ask(question)
    assert answer.provider == "remote" and not answer.abstained and answer.route["residency"] == "external"
    assert answer.text.endswith("[1]") and answer.citations
    [request] = oai.requests
    assert request.body["messages"][-1]["content"] == question
    assert answer.usage.input_tokens > 50 and answer.usage.output_tokens > 0


def test_a_throttled_model_falls_back(routed: Assistant, oai: OpenAIServer) -> None:
    oai.script(["throttle"] * 3)
    answer = routed.ask("Who approves expense reports?")
    assert answer.provider == "extractive" and answer.route["fallback"] is True
    first = answer.attempts[0]
    assert (first["profile"], first["ok"], first.get("code")) == ("remote", False, "throttled")
    assert len(oai.requests) == 3


def test_private_mode_skips_the_undeclared_profile(routed: Assistant, oai: OpenAIServer) -> None:
    answer = routed.ask("How many vacation days do I get?", mode="private")
    assert answer.provider == "onprem" and answer.route["residency"] == "self-hosted"
    assert answer.route["skipped"][0]["profile"] == "remote"
    assert len(oai.requests) == 1
