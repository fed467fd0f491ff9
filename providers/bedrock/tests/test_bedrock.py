"""The Bedrock plugins over the wire: real boto3 against the local Bedrock Runtime emulator.

The emulator validates every request against botocore's service model; the autouse
fixture fails any test that sent a malformed one.
"""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest

from inhouse import registry
from inhouse.errors import InhouseError, ProviderError
from inhouse.plugins import Artifact, Prompt
from inhouse.testing import EmbedderTests, ProviderTests
from inhouse.testing.emulators import PROMPT
from inhouse.testing.emulators.bedrock import BedrockEmulator
from inhouse.types import Usage
from support import texts

CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
JAMBA = "ai21.jamba-1-5-large-v1:0"
SD35 = "stability.sd3-5-large-v1:0"


@pytest.fixture(scope="module")
def emulator():
    with BedrockEmulator() as emu:
        yield emu


@pytest.fixture(autouse=True)
def aws_env(aws_credentials: None, emulator: BedrockEmulator):
    """Test credentials only (see conftest); the emulator starts each test clean."""
    emulator.reset()
    yield
    assert not emulator.invalid, [r.validation_errors for r in emulator.invalid]


def build(kind: str, use: str, emulator: BedrockEmulator, tmp_path: Path | None = None, **options):
    spec = {"use": use, "region": "us-east-1", "endpoint_url": emulator.endpoint_url, "backoff_base": 0.001, **options}
    home = tmp_path or Path("/tmp")
    return registry.build(kind, spec, f"{kind}.{options.get('name', use)}", home=home, base_dir=home)


def chat(emulator: BedrockEmulator, **options):
    return build("providers", "bedrock", emulator, model=options.pop("model", CLAUDE), **options)


# --- chat ---------------------------------------------------------------------------------


def test_converse_stream_request_carries_context_and_inference_config(emulator: BedrockEmulator) -> None:
    provider = chat(emulator, top_p=0.9, additional_model_request_fields={"top_k": 50}, stop_sequences=["END"])
    items = list(provider.generate(PROMPT))
    assert texts(items) == "Staff get 25 days of annual leave. [1]"
    [req] = emulator.requests
    assert req.operation == "ConverseStream" and req.model_id == CLAUDE
    params = req.params
    assert "[1] (Leave > Annual leave)" in params["system"][0]["text"]
    assert params["messages"] == [{"role": "user", "content": [{"text": "How many days of leave?"}]}]
    # the prompt's whitespace-only stop is dropped: Anthropic's models refuse those
    assert params["inferenceConfig"] == {"maxTokens": 50, "temperature": 0.0, "topP": 0.9, "stopSequences": ["END"]}
    assert params["additionalModelRequestFields"] == {"top_k": 50}
    assert "guardrailConfig" not in params
    assert req.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDTESTING/")


def test_usage_and_latency_come_from_the_metadata_event(emulator: BedrockEmulator) -> None:
    items = list(chat(emulator).generate(PROMPT))
    usage = items[-1]
    assert isinstance(usage, Usage) and usage.output_tokens == 8 and usage.input_tokens > 20
    assert usage.latency_ms is not None


def test_guardrail_is_sent_and_its_intervention_streams(emulator: BedrockEmulator) -> None:
    provider = chat(emulator, guardrail_id="gr-123", guardrail_version="2")
    prompt = Prompt(system="s", messages=[{"role": "user", "content": "BLOCKME please"}])
    assert texts(provider.generate(prompt)) == "Sorry, the model cannot answer this question."
    assert emulator.requests[0].params["guardrailConfig"] == {
        "guardrailIdentifier": "gr-123",
        "guardrailVersion": "2",
        "trace": "disabled",
    }


def test_history_is_sent_as_alternating_turns(emulator: BedrockEmulator) -> None:
    prompt = Prompt(
        system="s",
        messages=[
            {"role": "assistant", "content": "Hello, how can I help?"},  # Converse must start with the user
            {"role": "user", "content": "first"},
            {"role": "user", "content": "second"},
            {"role": "assistant", "content": "answer"},
            {"role": "user", "content": "and then?"},
        ],
    )
    assert texts(chat(emulator).generate(prompt)) == "You said: and then?"
    roles = [(m["role"], m["content"][0]["text"]) for m in emulator.requests[0].params["messages"]]
    assert roles == [("user", "first\n\nsecond"), ("assistant", "answer"), ("user", "and then?")]


def test_inference_profile_and_arn_model_ids(emulator: BedrockEmulator) -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0"
    for model in ("us.anthropic.claude-3-5-sonnet-20240620-v1:0", arn):
        assert texts(chat(emulator, model=model).generate(PROMPT))
    assert [r.model_id for r in emulator.requests] == ["us.anthropic.claude-3-5-sonnet-20240620-v1:0", arn]


def test_throttling_is_retried_with_backoff_up_to_max_attempts(emulator: BedrockEmulator) -> None:
    emulator.script(["throttle", "unavailable", "ok"])
    assert texts(chat(emulator).generate(PROMPT))
    assert [r.outcome for r in emulator.requests] == ["throttle", "unavailable", "ok"]
    emulator.reset()
    emulator.script(["throttle"] * 5)
    with pytest.raises(ProviderError) as info:
        list(chat(emulator, max_attempts=3).generate(PROMPT))
    assert info.value.retryable and info.value.code == "throttled" and "ThrottlingException" in str(info.value)
    assert len(emulator.requests) == 3


@pytest.mark.parametrize(
    ("outcome", "code", "retryable"),
    [
        ("validation", "validation", False),
        ("access-denied", "access-denied", False),
        ("not-found", "not-found", False),
        ("model-not-ready", "not-ready", True),
        ("timeout", "timeout", True),
        ("internal", "unavailable", True),
    ],
)
def test_errors_map_to_provider_errors(emulator: BedrockEmulator, outcome: str, code: str, retryable: bool) -> None:
    emulator.script([outcome] * 3)
    with pytest.raises(ProviderError) as info:
        list(chat(emulator, max_attempts=2).generate(PROMPT))
    assert (info.value.code, info.value.retryable) == (code, retryable)
    assert len(emulator.requests) == (2 if retryable else 1)  # retried here only when it may help
    if code == "access-denied":
        assert "enable access to this model" in str(info.value)


def test_a_throttling_event_before_the_first_token_is_retried(emulator: BedrockEmulator) -> None:
    emulator.script(["stream-throttle", "ok"])
    assert texts(chat(emulator).generate(PROMPT)) == "Staff get 25 days of annual leave. [1]"
    assert len(emulator.requests) == 2


def test_a_mid_stream_error_is_raised_not_swallowed(emulator: BedrockEmulator) -> None:
    emulator.script(["stream-error"])
    received = []
    with pytest.raises(ProviderError, match=r"broke off mid-stream.*modelStreamErrorException") as info:
        for item in chat(emulator).generate(PROMPT):
            received.append(item)
    assert received and isinstance(received[0], str)  # the text before the break was delivered
    assert info.value.code == "stream" and len(emulator.requests) == 1  # never restarted after text


def test_read_timeout_is_retryable(emulator: BedrockEmulator) -> None:
    emulator.script(["slow", "ok"])
    assert texts(chat(emulator, read_timeout=0.5).generate(PROMPT))
    assert [r.outcome for r in emulator.requests] == ["slow", "ok"]


def test_missing_credentials_say_what_to_do(emulator: BedrockEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    provider = chat(emulator)
    with pytest.raises(InhouseError, match="no AWS credentials"):
        provider.check()
    with pytest.raises(ProviderError, match="no AWS credentials found") as info:
        list(provider.generate(PROMPT))
    assert not info.value.retryable and not emulator.requests


def test_named_profile_is_used(emulator: BedrockEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    creds = tmp_path / "credentials"
    creds.write_text("[team]\naws_access_key_id = AKIDFROMPROFILE\naws_secret_access_key = secret\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(creds))
    provider = chat(emulator, profile="team")
    assert "shared-credentials-file" in provider.check()
    assert texts(provider.generate(PROMPT))
    assert "Credential=AKIDFROMPROFILE/" in emulator.requests[0].headers["Authorization"]


# --- images -------------------------------------------------------------------------------


def test_text_to_image(emulator: BedrockEmulator) -> None:
    provider = build("providers", "bedrock-image", emulator, model=SD35, aspect_ratio="16:9", seed=42, negative_prompt="blur")
    prompt = Prompt(system="", messages=[{"role": "user", "content": "a lighthouse at dusk"}])
    items = list(provider.generate(prompt))
    [image] = [i for i in items if isinstance(i, Artifact)]
    assert image.data.startswith(b"\x89PNG\r\n\x1a\n") and image.mime == "image/png"
    assert image.meta == {"model": SD35, "format": "png", "finish_reason": None, "seed": 42}
    assert items[-1] == Usage(images=1)
    body = emulator.requests[0].params["body_json"]
    assert body == {
        "prompt": "a lighthouse at dusk",
        "output_format": "png",
        "mode": "text-to-image",
        "aspect_ratio": "16:9",
        "negative_prompt": "blur",
        "seed": 42,
    }


def test_image_to_image_sends_the_input_image(emulator: BedrockEmulator) -> None:
    provider = build("providers", "bedrock-image", emulator, model=SD35, strength=0.4)
    source = next(
        i
        for i in build("providers", "bedrock-image", emulator).generate(
            Prompt(system="", messages=[{"role": "user", "content": "a red square"}])
        )
        if isinstance(i, Artifact)
    )
    emulator.reset()
    prompt = Prompt(system="", messages=[{"role": "user", "content": "make it blue"}], images=[source])
    [image] = [i for i in provider.generate(prompt) if isinstance(i, Artifact)]
    body = emulator.requests[0].params["body_json"]
    assert body["mode"] == "image-to-image" and body["strength"] == 0.4 and "aspect_ratio" not in body
    assert base64.b64decode(body["image"]) == source.data and image.data.startswith(b"\x89PNG")


def test_image_to_image_needs_a_model_that_takes_images(emulator: BedrockEmulator) -> None:
    provider = build("providers", "bedrock-image", emulator, model="stability.stable-image-core-v1:1")
    prompt = Prompt(system="", messages=[{"role": "user", "content": "x"}], images=[Artifact(b"\x89PNG", "image/png")])
    with pytest.raises(ProviderError, match="does not take an input image"):
        list(provider.generate(prompt))
    assert not emulator.requests


def test_content_filtered_image_is_a_clear_message(emulator: BedrockEmulator) -> None:
    provider = build("providers", "bedrock-image", emulator, model="stability.stable-image-ultra-v1:1")
    prompt = Prompt(system="", messages=[{"role": "user", "content": "FILTERME"}])
    with pytest.raises(ProviderError, match=r"Filter reason: prompt.*rephrase") as info:
        list(provider.generate(prompt))
    assert info.value.code == "content-filtered" and not info.value.retryable


# --- embeddings ---------------------------------------------------------------------------


def test_titan_dimensions_and_usage(emulator: BedrockEmulator) -> None:
    embedder = build("embedders", "bedrock-embed", emulator, dimensions=256)
    vectors = embedder.embed(["annual leave", "password reset", "expense claims"])
    assert vectors.shape == (3, 256) and vectors.dtype == np.float32
    assert embedder.model_id == "bedrock:amazon.titan-embed-text-v2:0:256"
    assert embedder.usage.input_tokens > 0
    bodies = [r.params["body_json"] for r in emulator.requests]
    assert {b["inputText"] for b in bodies} == {"annual leave", "password reset", "expense claims"}
    assert all(b["dimensions"] == 256 and b["normalize"] is True for b in bodies)


def test_cohere_tells_documents_from_queries(emulator: BedrockEmulator) -> None:
    embedder = build("embedders", "bedrock-embed", emulator, model="cohere.embed-multilingual-v3")
    docs = embedder.embed([f"document {i}" for i in range(100)])  # two requests: 96 + 4
    query = embedder.embed_query("document 1")
    assert docs.shape == (100, 1024) and query.shape == (1024,)
    types = [(r.params["body_json"]["input_type"], len(r.params["body_json"]["texts"])) for r in emulator.requests]
    assert types == [("search_document", 96), ("search_document", 4), ("search_query", 1)]


def test_cohere_refuses_other_dimensions() -> None:
    from inhouse.errors import ConfigError

    with pytest.raises(ConfigError, match="1024 dimensions"):
        registry.build(
            "embedders",
            {"use": "bedrock-embed", "model": "cohere.embed-english-v3", "dimensions": 256},
            "embedder",
            home=Path("/tmp"),
            base_dir=Path("/tmp"),
        )


# --- the conformance kit -----------------------------------------------------------------


class TestBedrockChatConformance(ProviderTests):
    @pytest.fixture
    def provider(self, emulator: BedrockEmulator):
        return chat(emulator)


class TestBedrockImageConformance(ProviderTests):
    @pytest.fixture
    def provider(self, emulator: BedrockEmulator):
        return build("providers", "bedrock-image", emulator)


class TestTitanConformance(EmbedderTests):
    @pytest.fixture
    def embedder(self, emulator: BedrockEmulator):
        return build("embedders", "bedrock-embed", emulator)


class TestCohereConformance(EmbedderTests):
    @pytest.fixture
    def embedder(self, emulator: BedrockEmulator):
        return build("embedders", "bedrock-embed", emulator, model="cohere.embed-english-v3")


def test_invoke_model_bodies_are_declared_json(emulator: BedrockEmulator) -> None:
    build("embedders", "bedrock-embed", emulator).embed_query("x")
    headers = emulator.requests[0].headers
    assert headers["Content-Type"] == "application/json" and headers["Accept"] == "application/json"


# --- the assistant on Bedrock embeddings ----------------------------------------------------


@pytest.fixture
def titan_assistant(emulator: BedrockEmulator, tmp_path: Path):
    """Titan embeddings on the emulator, Claude for answers, the third-party `quote` model for private."""
    from inhouse import Assistant

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "leave.md").write_text("# Leave\n\nStaff get 25 days of annual leave. Unused days carry over until March.\n")
    (docs / "wifi.md").write_text("# Wi-Fi\n\nVisitors join the Lattice-Guest network; the password changes every Monday.\n")
    aws = f'region = "us-east-1"\nendpoint_url = "{emulator.endpoint_url}"\nbackoff_base = 0.001'
    config = tmp_path / "plugins.toml"
    config.write_text(
        f'[embedder]\nuse = "bedrock-embed"\ndimensions = 256\n{aws}\n[store]\nuse = "local"\n'
        f'[connectors.docs]\nuse = "filesystem"\npath = "{docs}"\n'
        f'[providers.claude]\nuse = "bedrock"\nmodel = "{CLAUDE}"\n{aws}\n[providers.quote]\nuse = "quote"\n'
        '[routing]\ndefault = ["claude"]\nprivate = ["claude", "quote"]\n[retrieval]\nmin_similarity = 0.05\n'
    )
    assistant = Assistant.from_config(config, home=tmp_path / "home")
    assert assistant.ingest().added == 2
    yield assistant
    assistant.close()


def test_assistant_on_titan_embeddings_answers_and_records_the_embedding_calls(
    titan_assistant, emulator: BedrockEmulator
) -> None:
    answer = titan_assistant.ask("How many days of annual leave do staff get?", user="ana")
    assert answer.provider == "claude" and answer.citations[0].source == "leave.md"
    assert [r.operation for r in emulator.requests][-2:] == ["InvokeModel", "ConverseStream"]  # query, then answer
    rows = {(r["kind"], r["user"]) for r in titan_assistant.ledger.calls()}
    assert ("embed", "") in rows and ("embed", "ana") in rows and ("generate", "ana") in rows  # ingestion, query, answer
    embed_rows = [r for r in titan_assistant.ledger.calls() if r["kind"] == "embed"]
    assert all(r["model"] == "bedrock:amazon.titan-embed-text-v2:0:256" and r["input_tokens"] > 0 for r in embed_rows)


def test_a_private_question_never_reaches_bedrock_not_even_to_be_embedded(titan_assistant, emulator: BedrockEmulator) -> None:
    emulator.reset()
    answer = titan_assistant.ask("How many days of annual leave do staff get?", mode="private")
    assert answer.provider == "quote" and answer.route["residency"] == "local"
    assert "25 days" in answer.text and answer.citations[0].source == "leave.md"  # found by BM25 alone
    assert emulator.requests == []
