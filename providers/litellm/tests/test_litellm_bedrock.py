"""The ``litellm`` provider through LiteLLM's ``bedrock/...`` path against the core's Bedrock
emulator: LiteLLM's own SigV4-signed HTTP requests, checked by the emulator against botocore's
service model, with the test credentials of the ``aws_credentials`` fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from inhouse.errors import ProviderError
from inhouse.testing import ProviderTests
from inhouse.testing.emulators import ANSWER, PROMPT
from inhouse.testing.emulators.bedrock import BedrockEmulator
from inhouse.types import Usage
from litellmkit import build
from support import texts

CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"


@pytest.fixture(scope="module")
def emulator():
    """One Bedrock Runtime emulator for the module."""
    with BedrockEmulator() as emu:
        yield emu


@pytest.fixture(autouse=True)
def clean(aws_credentials: None, emulator: BedrockEmulator):
    """Each test starts from a reset emulator and leaves no request it found malformed."""
    emulator.reset()
    yield
    assert not emulator.invalid


def bedrock_provider(emu: BedrockEmulator, home: Path, model: str = f"bedrock/{CLAUDE}", **options):
    """A ``litellm`` profile of a Bedrock model on ``emu`` (region us-east-1)."""
    params = {"aws_region_name": "us-east-1", **options.pop("params", {})}
    return build(model, home, api_base=emu.endpoint_url, params=params, **options)


@pytest.mark.parametrize(
    ("model", "stream", "operation"),
    [
        (f"bedrock/{CLAUDE}", True, "ConverseStream"),
        (f"bedrock/{CLAUDE}", False, "Converse"),
        (f"bedrock/invoke/{CLAUDE}", True, "InvokeModelWithResponseStream"),
        (f"bedrock/invoke/{CLAUDE}", False, "InvokeModel"),
    ],
)
def test_answers_through_each_bedrock_api(
    emulator: BedrockEmulator, tmp_path: Path, model: str, stream: bool, operation: str
) -> None:
    items = list(bedrock_provider(emulator, tmp_path, model=model, stream=stream).generate(PROMPT))
    assert texts(items) == ANSWER
    pieces = [i for i in items if isinstance(i, str)]
    assert len(pieces) == (8 if stream else 1)
    [usage] = [i for i in items if isinstance(i, Usage)]
    assert items[-1] is usage and (usage.input_tokens, usage.output_tokens) == (26, 8)  # Bedrock's counts
    [record] = emulator.requests
    assert (record.operation, record.model_id, record.outcome) == (operation, CLAUDE, "ok")
    assert (
        "Credential=AKIDTESTING/" in record.headers["Authorization"]
        and "/us-east-1/bedrock/aws4_request" in (record.headers["Authorization"])
    )


def test_the_converse_request_carries_the_prompt(emulator: BedrockEmulator, tmp_path: Path) -> None:
    list(bedrock_provider(emulator, tmp_path, params={"top_p": 0.5}).generate(PROMPT))
    params = emulator.requests[0].params
    assert params["system"] == [{"text": PROMPT.system}]
    assert params["messages"] == [{"role": "user", "content": [{"text": "How many days of leave?"}]}]
    assert params["inferenceConfig"]["maxTokens"] == 50 and params["inferenceConfig"]["temperature"] == 0
    assert params["inferenceConfig"]["topP"] == 0.5


@pytest.mark.parametrize(
    ("outcome", "code", "retryable", "attempts"),
    [
        ("throttle", "throttled", True, 3),
        ("internal", "not-ready", True, 3),  # LiteLLM reports it as 503
        ("timeout", "timeout", True, 3),
        ("validation", "validation", False, 1),
        ("access-denied", "access-denied", False, 1),
        ("not-found", "not-found", False, 1),
    ],
)
def test_bedrock_errors_are_provider_errors(
    emulator: BedrockEmulator, tmp_path: Path, outcome: str, code: str, retryable: bool, attempts: int
) -> None:
    emulator.script([outcome] * 5)
    with pytest.raises(ProviderError) as info:
        list(bedrock_provider(emulator, tmp_path).generate(PROMPT))
    assert (info.value.code, info.value.retryable) == (code, retryable)
    assert len(emulator.requests) == attempts


def test_a_throttled_stream_is_retried_before_its_first_token(emulator: BedrockEmulator, tmp_path: Path) -> None:
    emulator.script(["stream-throttle", "throttle", "ok"])
    assert texts(bedrock_provider(emulator, tmp_path).generate(PROMPT)) == ANSWER
    assert [r.outcome for r in emulator.requests] == ["stream-throttle", "throttle", "ok"]


def test_a_model_error_mid_stream_breaks_off(emulator: BedrockEmulator, tmp_path: Path) -> None:
    emulator.script(["stream-error"])
    items: list = []
    with pytest.raises(ProviderError) as info:
        items.extend(bedrock_provider(emulator, tmp_path).generate(PROMPT))
    assert items == ["Staff"] and str(info.value).startswith("the answer broke off mid-stream: ")
    assert len(emulator.requests) == 1


def test_price_comes_from_the_bundled_cost_map(tmp_path: Path, emulator: BedrockEmulator) -> None:
    price = bedrock_provider(emulator, tmp_path).price()
    assert price is not None and (price.input, price.output) == pytest.approx((3.0, 15.0))  # USD per million tokens
    assert build("openai/some-private-model", tmp_path).price() is None


class TestLiteLLMBedrockConformance(ProviderTests):
    """The kit over LiteLLM's Bedrock path; declared ``self-hosted`` here so the kit checks that
    only loopback or private addresses are reached (a real Bedrock profile is ``in-account``)."""

    @pytest.fixture
    def provider(self, emulator: BedrockEmulator, tmp_path: Path):
        return bedrock_provider(emulator, tmp_path / "home", residency="self-hosted")
