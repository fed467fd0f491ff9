"""Offline safety: the plugin loads LiteLLM only when used, with its remote fetches off, and
nothing but loopback is contacted (a socket audit hook in a fresh interpreter sees every
connection and name lookup); LiteLLM's callbacks are refused."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from inhouse.errors import InhouseError, ProviderError
from inhouse.testing.emulators import PROMPT
from inhouse.testing.emulators.openai_server import OpenAIServer
from inhouse_litellm import library
from litellmkit import build

PROBE = Path(__file__).with_name("offline_probe.py")


def probe(tmp_path: Path, *args: str) -> dict:
    """Run offline_probe.py in a fresh interpreter with test-only AWS credentials and no LiteLLM settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LITELLM_", "AWS_")) and "PROXY" not in k.upper()}
    env.update(
        AWS_ACCESS_KEY_ID="AKIDTESTING",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_CONFIG_FILE=str(tmp_path / "no-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    done = subprocess.run(
        [sys.executable, str(PROBE), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_nothing_but_loopback_is_contacted(tmp_path: Path) -> None:
    found = probe(tmp_path, str(tmp_path / "home"))
    assert found["imported_on_load"] is False  # importing the plugin does not import LiteLLM
    assert found["texts"] == ["Staff get 25 days of annual leave. [1]"] * 4
    assert found["seen"], "the audit hook saw the requests to the emulators"
    assert {entry.split(" ", 1)[1] for entry in found["seen"]} == {"127.0.0.1"}, found["seen"]
    assert all("via LiteLLM" in status for status in found["checks"])


@pytest.mark.slow
def test_the_audit_hook_sees_litellms_fetch_without_the_settings(tmp_path: Path) -> None:
    """The control: a bare ``import litellm`` looks up GitHub for its cost map (the hook sees and refuses it)."""
    found = probe(tmp_path, "--bare")
    assert "lookup raw.githubusercontent.com" in found["seen"]


def test_loading_sets_the_offline_environment() -> None:
    litellm = library.load()
    assert library.load() is litellm
    assert {key: os.environ[key] for key in library.OFFLINE_ENVIRONMENT} == library.OFFLINE_ENVIRONMENT
    assert litellm.suppress_debug_info is True


def test_callbacks_are_refused_before_any_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    litellm = library.load()
    monkeypatch.setattr(litellm, "success_callback", ["langfuse"])
    with OpenAIServer() as emu:
        provider = build("openai/test-model", tmp_path, api_base=emu.base_url, api_key="k")
        with pytest.raises(ProviderError, match=r"litellm\.success_callback is set") as info:
            list(provider.generate(PROMPT))
        assert not info.value.retryable and emu.requests == []
        with pytest.raises(InhouseError, match="success_callback"):
            provider.check()
