"""The OpenAI-compatible routes, through the official ``openai`` client against the running
server (uvicorn on loopback): answers with citations in the ``inhouse`` field, streamed and
not, the model list, the conversation as history (a private turn kept from a less private
model), embeddings from the configured embedder, and the refusal when ``[policy]`` keeps text
from a remote embedder. The answers come from the OpenAI-compatible emulator (profile
``echo``), which echoes the first sentence of passage [1]."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import pytest

from inhouse.testing.emulators.openai_server import OpenAIServer
from ui_support import api_assistant, served

PARKING = "Where do visitors park?"


@pytest.fixture(scope="module")
def model() -> Iterator[OpenAIServer]:
    """The emulator that writes the answers (this module's own: its requests are ours)."""
    with OpenAIServer() as emu:
        yield emu


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, model: OpenAIServer) -> Iterator[tuple[Any, str]]:
    """The assistant and the API's base URL (no API keys: loopback clients as the local user)."""
    assistant = api_assistant(tmp_path_factory.mktemp("api-openai"), model.base_url)
    with served(assistant) as (_, base):
        yield assistant, base
    assistant.close()


@pytest.fixture
def client(api: tuple[Any, str], model: OpenAIServer) -> openai.OpenAI:
    """The official client (any key: none is needed on loopback while no key exists)."""
    model.reset()
    return openai.OpenAI(base_url=api[1], api_key="unused", max_retries=0)


def test_a_completion_answers_from_the_documents_with_citations_in_the_inhouse_field(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model="inhouse-auto", messages=[{"role": "user", "content": PARKING}])
    assert completion.object == "chat.completion" and completion.model == "inhouse-auto"
    [choice] = completion.choices
    assert "level -2" in choice.message.content and choice.message.role == "assistant" and choice.finish_reason == "stop"
    extra = completion.model_extra["inhouse"]
    assert extra["citations"][0]["source"].endswith("parking.md") and not extra["abstained"]
    assert extra["route"]["use_case"] == "default" and extra["route"]["provider"] == "echo" and extra["provider"] == "echo"
    assert any("level -2" in passage["text"] for passage in extra["context"]) and extra["kind"] == "generated"
    assert completion.usage.prompt_tokens > 0 and completion.usage.total_tokens >= completion.usage.prompt_tokens


def test_a_streamed_completion_sends_the_pieces_then_the_inhouse_field_usage_and_done(
    client: openai.OpenAI, api: tuple[Any, str]
) -> None:
    chunks = list(
        client.chat.completions.create(
            model="inhouse-default",
            messages=[{"role": "user", "content": PARKING}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 1, "the answer streams in pieces"
    assert "level -2" in "".join(pieces)
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)
    [last] = [c for c in chunks if c.choices and c.choices[0].finish_reason == "stop"]
    assert last.model_extra["inhouse"]["citations"][0]["source"].endswith("parking.md")
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens > 0
    # On the wire: server-sent events ending with [DONE], and no visitor cookie for an API client.
    body = {"model": "inhouse-auto", "messages": [{"role": "user", "content": PARKING}], "stream": True}
    with httpx.stream("POST", f"{api[1]}/chat/completions", json=body, timeout=60) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "set-cookie" not in response.headers
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]" and all(line.startswith("data: ") for line in lines)


def test_the_streamed_and_whole_answers_are_the_same(client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": "When does the canteen close?"}]
    whole = client.chat.completions.create(model="echo", messages=messages).choices[0].message.content
    streamed = "".join(
        c.choices[0].delta.content or "" for c in client.chat.completions.create(model="echo", messages=messages, stream=True)
    )
    assert streamed == whole and "three on Fridays" in whole


def test_models_lists_auto_each_use_case_each_profile_and_the_embedder(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert ids == ["inhouse-auto", "inhouse-default", "echo", "inhouse-embed"]
    assert client.models.retrieve("echo").owned_by == "inhouse"
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("gpt-4o")
    assert caught.value.code == "model_not_found"


def test_an_unknown_model_is_404_naming_the_known_ones(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": PARKING}])
    assert caught.value.code == "model_not_found" and caught.value.param == "model"
    assert "inhouse-auto" in caught.value.message


def test_the_conversation_goes_to_the_model_as_history_except_a_turn_more_private_than_it(
    client: openai.OpenAI, model: OpenAIServer
) -> None:
    messages = [
        {"role": "system", "content": "You are a pirate."},
        {"role": "user", "content": "Where is the garage?"},
        {"role": "assistant", "content": "In Rotterdam."},
        {"role": "user", "content": "And the door code?"},
        {"role": "assistant", "content": "The door code is 7-7-3.", "residency": "local"},
        {"role": "user", "content": PARKING},
    ]
    client.chat.completions.create(model="inhouse-auto", messages=messages)
    sent = [m["content"] for m in model.requests[-1].body["messages"]]
    assert "In Rotterdam." in sent and "Where is the garage?" in sent
    assert not any("7-7-3" in text or "pirate" in text for text in sent), sent


def test_the_last_message_must_be_a_user_question(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="inhouse-auto", messages=[{"role": "assistant", "content": "Hello"}])
    assert caught.value.param == "messages" and "last message" in caught.value.message
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="inhouse-auto", messages=[{"role": "user", "content": "x" * 4001}])


def test_a_model_failure_before_the_answer_is_502_and_after_it_started_an_error_event(
    client: openai.OpenAI, model: OpenAIServer
) -> None:
    model.script(["server-error"] * 4)
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="echo", messages=[{"role": "user", "content": PARKING}])
    assert caught.value.status_code == 502 and "error " in caught.value.message
    model.reset()
    model.script(["stream-error"])
    stream = client.chat.completions.create(model="echo", messages=[{"role": "user", "content": PARKING}], stream=True)
    with pytest.raises(openai.APIError) as failed:
        list(stream)
    assert "server log" in failed.value.message


def test_embeddings_are_the_configured_embedders_vectors(client: openai.OpenAI, api: tuple[Any, str]) -> None:
    texts = ["Visitors park on level -2.", "The canteen closes at three."]
    result = client.embeddings.create(model="inhouse-embed", input=texts)  # the client asks for base64
    vectors = np.array([d.embedding for d in result.data])
    expected = api[0].embedder.embed(texts)
    assert vectors.shape == expected.shape == (2, 384) and result.model == api[0].embedder.model_id
    assert np.allclose(vectors, expected, atol=1e-6)
    floats = client.embeddings.create(model="inhouse-embed", input=texts[0], encoding_format="float")
    assert np.allclose(floats.data[0].embedding, expected[0], atol=1e-6)
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="inhouse-embed", input="x", dimensions=12)
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="text-embedding-3-small", input="x")


def test_embeddings_are_refused_when_policy_keeps_text_from_a_remote_embedder(tmp_path: Path, model: OpenAIServer) -> None:
    from inhouse import Assistant

    # A Bedrock embedder (in-account) that [policy] does not let internal text reach; its
    # endpoint is a closed port: the refusal must come before any call.
    (tmp_path / "plugins.toml").write_text(
        f"""
[embedder]
use = "bedrock-embed"
region = "us-east-1"
endpoint_url = "http://127.0.0.1:9"

[store]
use = "local"

[providers.echo]
use = "openai-compatible"
base_url = "{model.base_url}"
model = "test-model"

[routing]
default = ["echo"]

[policy.labels]
internal = ["local", "self-hosted"]
""",
        encoding="utf-8",
    )
    assistant = Assistant.from_config(tmp_path / "plugins.toml", home=tmp_path / "home")
    with served(assistant) as (_, base):
        client = openai.OpenAI(base_url=base, api_key="unused", max_retries=0)
        with pytest.raises(openai.PermissionDeniedError) as caught:
            client.embeddings.create(model="inhouse-embed", input="Ana's salary")
    assert caught.value.code == "policy_forbids"
    assert "[policy]" in caught.value.message and "in-account" in caught.value.message
    assert assistant.embedder.usage.input_tokens == 0
    assistant.close()


def test_embeddings_by_a_remote_embedder_are_recorded_for_the_keys_user(
    tmp_path: Path, model: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inhouse import Assistant
    from inhouse.keys import KeyStore
    from inhouse.testing.emulators.bedrock import BedrockEmulator

    for name, value in {"AWS_ACCESS_KEY_ID": "AKIDTESTING", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": str(tmp_path / "none"),
                        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    with BedrockEmulator() as bedrock:
        (tmp_path / "plugins.toml").write_text(
            f'[embedder]\nuse = "bedrock-embed"\nregion = "us-east-1"\nendpoint_url = "{bedrock.endpoint_url}"\n'
            f'[store]\nuse = "local"\n[providers.echo]\nuse = "openai-compatible"\nbase_url = "{model.base_url}"\n'
            'model = "test-model"\n[routing]\ndefault = ["echo"]\n[users.ana]\ngroups = []\n',
            encoding="utf-8",
        )
        assistant = Assistant.from_config(tmp_path / "plugins.toml", home=tmp_path / "home")
        _, key = KeyStore(assistant.home).create("ana")
        with served(assistant) as (_, base):
            client = openai.OpenAI(base_url=base, api_key=key, max_retries=0)
            made = client.embeddings.create(model="inhouse-embed", input=["Ana's salary", "the parking garage"])
        assert len(made.data) == 2
        [call] = [c for c in assistant.ledger.calls() if c["user"] == "ana"]
        assert call["residency"] == "in-account" and call["input_tokens"] > 0
        assistant.close()
