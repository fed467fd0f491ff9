"""The ``litellm`` profile's keys: declared residency, refused arguments, secrets kept out of
sight, and ``check()`` (what ``inhouse doctor`` shows)."""

from __future__ import annotations

from pathlib import Path

import pytest

from inhouse.errors import ConfigError, InhouseError
from inhouse.testing.emulators import PROMPT
from inhouse.testing.emulators.openai_server import OpenAIServer
from inhouse_litellm.provider import UNDECLARED
from litellmkit import build


def test_residency_defaults_to_external_and_says_why(tmp_path: Path) -> None:
    provider = build("azure/my-gpt-4o", tmp_path)
    assert (provider.residency, provider.residency_note) == ("external", UNDECLARED)
    declared = build("ollama/llama3", tmp_path, residency="local")
    assert declared.residency == "local" and declared.residency_note == "declared in the configuration (residency = 'local')"
    with pytest.raises(ConfigError, match=r"providers\.litellm\.residency: Input should be 'local', 'in-account'"):
        build("ollama/llama3", tmp_path, residency="on-prem")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"api_base": "http://elsewhere"}, "api_base cannot be set here: use the profile's key of that name"),
        ({"success_callback": ["langfuse"]}, "success_callback cannot be set here: LiteLLM callbacks send prompts elsewhere"),
        ({"num_retries": 5}, "num_retries cannot be set here: inhouse retries itself"),
        ({"messages": []}, "messages cannot be set here: inhouse sets it"),
    ],
)
def test_params_may_not_set_what_inhouse_owns(tmp_path: Path, params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=rf"providers\.litellm\.params: Value error, {message}"):
        build("azure/my-gpt-4o", tmp_path, params=params)


def test_a_key_is_set_once_and_api_base_is_a_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="vertex_project: set in both params and secrets"):
        build("vertex_ai/gemini-1.5-pro", tmp_path, params={"vertex_project": "a"}, secrets={"vertex_project": "a"})
    with pytest.raises(ConfigError, match="'ftp://host' is not an http:// or https:// URL"):
        build("ollama/llama3", tmp_path, api_base="ftp://host")


def test_secrets_reach_the_server_but_not_the_logs(tmp_path: Path) -> None:
    with OpenAIServer() as emu:
        provider = build(
            "openai/test-model", tmp_path, api_base=emu.base_url, api_key="sk-hidden", secrets={"organization": "org-hidden"}
        )
        list(provider.generate(PROMPT))
        [request] = emu.requests
    headers = {name.lower(): value for name, value in request.headers.items()}
    assert (headers["authorization"], headers["openai-organization"]) == ("Bearer sk-hidden", "org-hidden")
    shown = repr(provider.config) + repr(provider.request(PROMPT))
    assert "sk-hidden" not in shown and "org-hidden" not in shown


def test_check_names_the_provider_and_missing_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AZURE_API_KEY", "AZURE_API_BASE", "AZURE_API_VERSION"):
        monkeypatch.delenv(name, raising=False)
    status = build("azure/my-gpt-4o", tmp_path, api_base="https://acme.openai.azure.com").check()
    assert status.startswith("azure/my-gpt-4o via LiteLLM 1.110.") and "(azure), residency external" in status
    assert "not in the environment: " in status and "AZURE_API_KEY" in status and "AZURE_API_BASE" not in status
    with pytest.raises(InhouseError, match="does not know which provider serves 'nonsense'; write model as 'provider/model'"):
        build("nonsense", tmp_path).check()
