"""The ``litellm`` provider through LiteLLM's ``openai/...`` path against the core's
OpenAI-compatible server (``inhouse.testing.emulators.openai_server``) on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from inhouse.errors import ProviderError
from inhouse.plugins import Prompt
from inhouse.testing import ProviderTests
from inhouse.testing.emulators import ANSWER, PROMPT
from inhouse.testing.emulators.openai_server import OpenAIServer
from inhouse.types import Usage
from litellmkit import build
from support import texts


@pytest.fixture(scope="module")
def oai():
    """One OpenAI-compatible server for the module."""
    with OpenAIServer(models=("test-model",)) as emu:
        yield emu


@pytest.fixture(autouse=True)
def clean(oai: OpenAIServer):
    """Each test starts from a reset server."""
    oai.reset()


def openai_provider(emu: OpenAIServer, home: Path, **options):
    """A ``litellm`` profile of ``openai/test-model`` on ``emu``."""
    return build("openai/test-model", home, api_base=emu.base_url, api_key="sk-test", **options)


def usage_of(items: list) -> Usage:
    """The one ``Usage`` of a generation, checked to come last."""
    usages = [i for i in items if isinstance(i, Usage)]
    assert len(usages) == 1 and items[-1] is usages[0]
    return usages[0]


def test_streams_the_answer_with_the_prompt_and_the_key(oai: OpenAIServer, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(oai, "api_key", "sk-test")
    items = list(openai_provider(oai, tmp_path, headers={"X-Team": "hr"}).generate(PROMPT))
    assert texts(items) == ANSWER
    assert len([i for i in items if isinstance(i, str)]) == 8  # streamed word by word
    [req] = oai.requests
    assert (req.method, req.path) == ("POST", "/v1/chat/completions")
    headers = {name.lower(): value for name, value in req.headers.items()}
    assert headers["authorization"] == "Bearer sk-test" and headers["x-team"] == "hr"
    body = req.body
    assert body["model"] == "test-model"
    assert body["messages"][0]["role"] == "system" and "[1] (Leave > Annual leave)" in body["messages"][0]["content"]
    assert body["messages"][1:] == [{"role": "user", "content": "How many days of leave?"}]
    assert (body["max_tokens"], body["temperature"], body["stop"]) == (50, 0.0, ["\n\n\n"])
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert (usage_of(items).input_tokens, usage_of(items).output_tokens) == (26, 8)  # as the server counted


def test_whole_answer_when_not_streaming(oai: OpenAIServer, tmp_path: Path) -> None:
    items = list(openai_provider(oai, tmp_path, stream=False).generate(PROMPT))
    assert items[:-1] == [ANSWER]
    assert usage_of(items).output_tokens == 8
    assert oai.requests[0].body.get("stream") in (False, None) and "stream_options" not in oai.requests[0].body


def test_params_are_merged_last(oai: OpenAIServer, tmp_path: Path) -> None:
    items = list(openai_provider(oai, tmp_path, params={"top_p": 0.9, "max_tokens": 3}).generate(PROMPT))
    assert texts(items) == "Staff get 25"
    body = oai.requests[0].body
    assert body["top_p"] == 0.9 and body["max_tokens"] == 3


def test_history_alternates_and_starts_with_the_user(oai: OpenAIServer, tmp_path: Path) -> None:
    prompt = Prompt(
        system="s",
        messages=[
            {"role": "assistant", "content": "Hello, how can I help?"},
            {"role": "user", "content": "first"},
            {"role": "user", "content": "second"},
            {"role": "assistant", "content": "answer"},
            {"role": "user", "content": "and then?"},
        ],
    )
    assert texts(openai_provider(oai, tmp_path).generate(prompt)) == "You said: and then?"
    sent = [(m["role"], m["content"]) for m in oai.requests[0].body["messages"]]
    assert sent == [("system", "s"), ("user", "first\n\nsecond"), ("assistant", "answer"), ("user", "and then?")]


@pytest.mark.parametrize(
    ("outcome", "code", "retryable", "attempts"),
    [
        ("throttle", "throttled", True, 3),
        ("server-error", "unavailable", True, 3),
        ("unavailable", "not-ready", True, 3),  # 503, as for self-hosted servers
        ("bad-request", "validation", False, 1),
        ("unauthorized", "access-denied", False, 1),
    ],
)
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_error_mapping_and_retries(
    oai: OpenAIServer, tmp_path: Path, outcome: str, code: str, retryable: bool, attempts: int, stream: bool
) -> None:
    oai.script([outcome] * 5)
    with pytest.raises(ProviderError) as info:
        list(openai_provider(oai, tmp_path, stream=stream).generate(PROMPT))
    assert (info.value.code, info.value.retryable) == (code, retryable)
    assert str(info.value).startswith("LiteLLM openai/test-model: ") and "broke off" not in str(info.value)
    assert info.value.provider == "litellm"
    assert len(oai.requests) == attempts  # LiteLLM's own retries are off: only inhouse's


def test_a_context_window_error_says_what_to_lower(oai: OpenAIServer, tmp_path: Path) -> None:
    oai.script(["bad-request"])
    with pytest.raises(ProviderError, match=r"maximum context length.*lower context_tokens"):
        list(openai_provider(oai, tmp_path).generate(PROMPT))


def test_an_error_event_before_the_first_token_is_retried(oai: OpenAIServer, tmp_path: Path) -> None:
    oai.errors_in_stream = True
    oai.script(["throttle", "server-error", "ok"])
    assert texts(openai_provider(oai, tmp_path).generate(PROMPT)) == ANSWER
    assert [r.outcome for r in oai.requests] == ["throttle", "server-error", "ok"]


def test_retries_recover_before_the_first_token(oai: OpenAIServer, tmp_path: Path) -> None:
    oai.script(["throttle", "server-error", "ok"])
    assert texts(openai_provider(oai, tmp_path).generate(PROMPT)) == ANSWER
    assert [r.outcome for r in oai.requests] == ["throttle", "server-error", "ok"]


def test_mid_stream_error_is_raised_without_retry(oai: OpenAIServer, tmp_path: Path) -> None:
    oai.script(["stream-error"])
    items: list = []
    with pytest.raises(ProviderError) as info:
        items.extend(openai_provider(oai, tmp_path).generate(PROMPT))
    assert items == ["Staff"]
    assert str(info.value).startswith("the answer broke off mid-stream: ") and "The engine died" in str(info.value)
    assert info.value.retryable and len(oai.requests) == 1


def test_timeout_is_retryable(oai: OpenAIServer, tmp_path: Path) -> None:
    oai.slow_seconds = 0.5
    oai.script(["slow"])
    with pytest.raises(ProviderError) as info:
        list(openai_provider(oai, tmp_path, timeout=0.1, max_attempts=1).generate(PROMPT))
    assert info.value.code == "timeout" and info.value.retryable


def test_a_stopped_server_is_unavailable(tmp_path: Path) -> None:
    with OpenAIServer() as emu:
        base_url = emu.base_url
    with pytest.raises(ProviderError) as info:
        list(build("openai/test-model", tmp_path, api_base=base_url, api_key="k", max_attempts=2).generate(PROMPT))
    assert info.value.code == "unavailable" and info.value.retryable


def test_an_abandoned_stream_leaves_the_provider_usable(oai: OpenAIServer, tmp_path: Path) -> None:
    provider = openai_provider(oai, tmp_path)
    stream = provider.generate(PROMPT)
    assert next(stream) == "Staff"
    stream.close()
    assert texts(provider.generate(PROMPT)) == ANSWER


class TestLiteLLMOpenAIConformance(ProviderTests):
    """The kit, with the profile declared ``local`` (the server is on this machine), so the kit
    also refuses and reports any connection that is not to loopback."""

    @pytest.fixture
    def provider(self, oai: OpenAIServer, tmp_path: Path):
        return openai_provider(oai, tmp_path / "home", residency="local")
