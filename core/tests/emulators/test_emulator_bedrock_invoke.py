"""The Bedrock emulator's InvokeModel and InvokeModelWithResponseStream with real boto3 clients: Stability
images, Titan and Cohere embeddings, Anthropic Messages bodies and inference-profile ARNs."""

from __future__ import annotations

import base64
import json
import math
import struct
from typing import Any

import pytest
from botocore.exceptions import ClientError, EventStreamError

from bedrockkit import CLAUDE, CONTEXT, PROFILE_ARN, TITAN, user
from inhouse.testing.emulators.bedrock import BedrockEmulator
from inhouse.testing.emulators.bedrock_media import png

COHERE = "cohere.embed-english-v3"
SD35 = "stability.sd3-5-large-v1:0"

# The Bedrock emulator fixtures of test_emulator_bedrock, bound here: pytest finds fixtures by module attribute.


def claude_user(text: str) -> list[dict[str, Any]]:
    """A one-turn Anthropic Messages conversation."""
    return [{"role": "user", "content": [{"type": "text", "text": text}]}]


def invoke_json(client: Any, model_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """InvokeModel with a JSON body, returning the parsed JSON answer."""
    response = client.invoke_model(modelId=model_id, body=json.dumps(body), contentType="application/json")
    assert response["contentType"] == "application/json"
    return json.loads(response["body"].read())


def cosine(a: list[float], b: list[float]) -> float:
    """Cosine similarity."""
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# ------------------------------------------------------------------------------------------------ InvokeModel


def test_stability_text_to_image_and_filter(client: Any) -> None:
    answer = invoke_json(client, SD35, {"prompt": "a lighthouse at dusk", "aspect_ratio": "16:9", "seed": 42})
    assert answer["seeds"] == [42] and answer["finish_reasons"] == [None]
    assert png_size(base64.b64decode(answer["images"][0])) == (64, 64)
    again = invoke_json(client, "us.stability.stable-image-core-v1:1", {"prompt": "a lighthouse at dusk", "seed": 42})
    assert again["images"] == answer["images"]
    filtered = invoke_json(client, "stability.stable-image-ultra-v1:1", {"prompt": "FILTERME please"})
    assert filtered["finish_reasons"] == ["Filter reason: prompt"] and filtered["images"] == []


def test_stability_image_to_image_derives_from_the_input(emu: BedrockEmulator, client: Any) -> None:
    source = base64.b64encode(png(32, 16, (10, 20, 30))).decode()
    body = {"prompt": "make it blue", "mode": "image-to-image", "image": source, "strength": 0.6, "output_format": "png"}
    first = invoke_json(client, SD35, body)
    second = invoke_json(client, SD35, {**body, "image": base64.b64encode(png(32, 16, (200, 0, 0))).decode()})
    assert png_size(base64.b64decode(first["images"][0])) == (32, 16)
    assert first["images"] != second["images"]
    assert emu.requests[0].to_json()["params"]["body_json"]["image"] == {"omitted_chars": len(source)}


@pytest.mark.parametrize(
    ("model_id", "body", "field"),
    [
        (SD35, {"prompt": "x", "aspect_ratio": "7:3"}, "aspect_ratio"),
        (SD35, {"prompt": "x", "colour": "red"}, "colour"),
        (SD35, {"prompt": "x", "mode": "image-to-image", "strength": 0.5}, "image"),
        ("stability.stable-image-core-v1:1", {"prompt": "x", "mode": "image-to-image"}, "mode"),
        (TITAN, {"inputText": "x", "dimensions": 300}, "dimensions"),
        (COHERE, {"texts": ["x"] * 97, "input_type": "search_query"}, "texts"),
        (COHERE, {"texts": ["x"]}, "input_type"),
        (CLAUDE, {"anthropic_version": "bedrock-2023-05-31", "messages": claude_user("x")}, "max_tokens"),
    ],
)
def test_invoke_model_body_validation(
    emu: BedrockEmulator, client: Any, expect_invalid: None, model_id: str, body: dict[str, Any], field: str
) -> None:
    with pytest.raises(ClientError) as raised:
        client.invoke_model(modelId=model_id, body=json.dumps(body))
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert field in raised.value.response["Error"]["Message"]
    assert len(emu.invalid) == 1 and emu.invalid[0].params["body_json"] == body


def test_titan_embeddings(client: Any) -> None:
    small = invoke_json(client, TITAN, {"inputText": "annual vacation policy", "dimensions": 256, "normalize": True})
    assert len(small["embedding"]) == 256 and small["embeddingsByType"]["float"] == small["embedding"]
    assert math.isclose(math.sqrt(sum(value * value for value in small["embedding"])), 1.0, rel_tol=1e-9)
    assert small["inputTextTokenCount"] == 3

    def vector(text: str) -> list[float]:
        return invoke_json(client, TITAN, {"inputText": text})["embedding"]

    query, related, unrelated = (
        vector("vacation days"),
        vector("How many vacation days do staff get?"),
        vector("printer toner cartridge"),
    )
    assert len(query) == 1024
    assert cosine(query, related) > cosine(query, unrelated) + 0.2
    assert vector("vacation days") == query


def test_cohere_embeddings_depend_on_input_type(client: Any) -> None:
    texts = ["Staff get 25 vacation days.", "Expense reports are due monthly."]
    documents = invoke_json(client, COHERE, {"texts": texts, "input_type": "search_document"})
    assert documents["response_type"] == "embeddings_floats" and documents["texts"] == texts
    assert [len(vector) for vector in documents["embeddings"]] == [1024, 1024]
    query = invoke_json(client, COHERE, {"texts": ["vacation days"], "input_type": "search_query"})["embeddings"][0]
    assert cosine(query, documents["embeddings"][0]) > cosine(query, documents["embeddings"][1])
    as_document = invoke_json(client, COHERE, {"texts": [texts[0]], "input_type": "search_document"})["embeddings"][0]
    as_query = invoke_json(client, COHERE, {"texts": [texts[0]], "input_type": "search_query"})["embeddings"][0]
    assert as_document == documents["embeddings"][0]
    assert 0.99 < cosine(as_document, as_query) < 0.9999
    typed = invoke_json(client, COHERE, {"texts": texts, "input_type": "clustering", "embedding_types": ["int8", "ubinary"]})
    assert typed["response_type"] == "embeddings_by_type"
    assert len(typed["embeddings"]["int8"][0]) == 1024 and len(typed["embeddings"]["ubinary"][0]) == 128


def test_anthropic_invoke_model(client: Any) -> None:
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "system": CONTEXT, "messages": claude_user("days?")}
    response = client.invoke_model(modelId=CLAUDE, body=json.dumps(body))
    answer = json.loads(response["body"].read())
    assert answer["type"] == "message" and answer["role"] == "assistant" and answer["id"].startswith("msg_")
    assert answer["content"] == [{"type": "text", "text": "Staff get 25 vacation days a year. [1]"}]
    assert answer["stop_reason"] == "end_turn"
    assert answer["usage"]["output_tokens"] == 8
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-bedrock-output-token-count"] == "8"
    limited = invoke_json(
        client, CLAUDE, {**body, "messages": [{"role": "user", "content": "a b c"}], "system": "", "max_tokens": 2}
    )
    assert (limited["content"][0]["text"], limited["stop_reason"]) == ("You said:", "max_tokens")


def test_anthropic_invoke_with_response_stream(emu: BedrockEmulator, client: Any) -> None:
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "messages": claude_user("stream this please")}
    response = client.invoke_model_with_response_stream(modelId=PROFILE_ARN, body=json.dumps(body))
    assert response["contentType"] == "application/json"
    chunks = [json.loads(event["chunk"]["bytes"]) for event in response["body"]]
    kinds = [chunk["type"] for chunk in chunks]
    assert kinds == ["message_start", "content_block_start"] + ["content_block_delta"] * 5 + [
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    text = "".join(chunk["delta"]["text"] for chunk in chunks if chunk["type"] == "content_block_delta")
    assert text == "You said: stream this please"
    assert chunks[-2]["delta"]["stop_reason"] == "end_turn"
    metrics = chunks[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["outputTokenCount"] == 5 and metrics["inputTokenCount"] == 3
    assert emu.requests[-1].model_id == PROFILE_ARN and emu.requests[-1].first_delta_at is not None


def test_anthropic_stream_error(emu: BedrockEmulator, client: Any) -> None:
    emu.script(["stream-error"], model=CLAUDE)
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "messages": claude_user("a b c")}
    kinds = []
    with pytest.raises(EventStreamError) as raised:
        for event in client.invoke_model_with_response_stream(modelId=CLAUDE, body=json.dumps(body))["body"]:
            kinds.append(json.loads(event["chunk"]["bytes"])["type"])
    assert kinds == ["message_start", "content_block_start", "content_block_delta"]
    assert raised.value.response["Error"]["Code"] == "modelStreamErrorException"


def test_inference_profile_arn_model_ids(emu: BedrockEmulator, client: Any) -> None:
    response = client.converse(modelId=PROFILE_ARN, messages=user("hi"))
    assert response["output"]["message"]["content"][0]["text"] == "You said: hi"
    titan_arn = f"arn:aws:bedrock:us-east-1::foundation-model/{TITAN}"
    assert len(invoke_json(client, titan_arn, {"inputText": "x", "dimensions": 512})["embedding"]) == 512
    assert [record.model_id for record in emu.requests] == [PROFILE_ARN, titan_arn]
