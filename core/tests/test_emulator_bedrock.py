"""The Bedrock Runtime emulator, exercised with real boto3 clients over loopback HTTP."""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import math
import struct
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.eventstream
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, EventStreamError, ReadTimeoutError

from inhouse.testing.emulators import eventstream
from inhouse.testing.emulators.bedrock import HTTP_ERROR_OUTCOMES, BedrockEmulator
from inhouse.testing.emulators.bedrock_models import png
from inhouse.testing.emulators.wire import match_operation, parse_request

TESTS = Path(__file__).resolve().parent
CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
PROFILE_ARN = f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.{CLAUDE}"
TITAN = "amazon.titan-embed-text-v2:0"
COHERE = "cohere.embed-english-v3"
SD35 = "stability.sd3-5-large-v1:0"
CONTEXT = "Use these.\n[1] (handbook/leave.md)\nStaff get 25 vacation days a year.\nUnused days expire.\n[2] (x.md)\nOther."
STATUSES = {"throttle": 429, "unavailable": 503, "internal": 500, "model-not-ready": 429}
STATUSES |= {"timeout": 408, "validation": 400, "access-denied": 403, "not-found": 404}


@pytest.fixture(scope="module")
def emu() -> Iterator[BedrockEmulator]:
    """One emulator for the module."""
    with BedrockEmulator(seed=3) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def clean(emu: BedrockEmulator, request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts from a reset emulator and, unless it asks for ``expect_invalid``, sends only valid requests."""
    emu.reset()
    yield
    if "expect_invalid" not in request.fixturenames:
        assert emu.invalid == []


@pytest.fixture
def expect_invalid() -> None:
    """Marks a test that sends invalid requests on purpose."""


def make_client(url: str, **config: Any) -> Any:
    """A plain boto3 bedrock-runtime client on ``url`` that never retries."""
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, **config),
    )


@pytest.fixture(scope="module")
def client(emu: BedrockEmulator) -> Any:
    """A client of the module's emulator."""
    return make_client(emu.endpoint_url)


def user(text: str) -> list[dict[str, Any]]:
    """A one-turn Converse conversation."""
    return [{"role": "user", "content": [{"text": text}]}]


def claude_user(text: str) -> list[dict[str, Any]]:
    """A one-turn Anthropic Messages conversation."""
    return [{"role": "user", "content": [{"type": "text", "text": text}]}]


def invoke_json(client: Any, model_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """InvokeModel with a JSON body, returning the parsed JSON answer."""
    response = client.invoke_model(modelId=model_id, body=json.dumps(body), contentType="application/json")
    assert response["contentType"] == "application/json"
    return json.loads(response["body"].read())


def raw_request(url: str, path: str, body: bytes, sign: bool = True, scope: str = "bedrock") -> tuple[int, dict[str, str], bytes]:
    """POST ``body`` to ``url + path`` with urllib, SigV4-signed for ``scope`` unless ``sign`` is false."""
    request = AWSRequest(method="POST", url=url + path, data=body, headers={"Content-Type": "application/json"})
    if sign:
        SigV4Auth(Credentials("testing", "testing"), scope, "us-east-1").add_auth(request)
    prepared = urllib.request.Request(url + path, data=body, headers=dict(request.headers.items()), method="POST")
    try:
        with urllib.request.urlopen(prepared, timeout=5) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def cosine(a: list[float], b: list[float]) -> float:
    """Cosine similarity."""
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# ------------------------------------------------------------------------------------------------ Converse


def test_converse_answers_from_passage_one_with_usage(emu: BedrockEmulator, client: Any) -> None:
    response = client.converse(modelId=CLAUDE, system=[{"text": CONTEXT}], messages=user("How many vacation days?"))
    assert response["output"]["message"] == {"role": "assistant", "content": [{"text": "Staff get 25 vacation days a year. [1]"}]}
    assert response["stopReason"] == "end_turn"
    input_tokens = len(CONTEXT.split()) + 4
    assert response["usage"] == {"inputTokens": input_tokens, "outputTokens": 8, "totalTokens": input_tokens + 8}
    assert response["metrics"]["latencyMs"] >= 0
    assert response["ResponseMetadata"]["RequestId"]
    (record,) = emu.requests
    assert (record.operation, record.model_id, record.status, record.outcome) == ("Converse", CLAUDE, 200, "ok")
    assert record.params["messages"] == user("How many vacation days?")
    assert record.started_at <= record.first_byte_at
    assert record.first_delta_at is None


def test_converse_echoes_without_context(client: Any) -> None:
    response = client.converse(modelId="amazon.nova-lite-v1:0", messages=user("hello  there"))
    assert response["output"]["message"]["content"] == [{"text": "You said: hello  there"}]


def test_converse_max_tokens_truncates(client: Any) -> None:
    response = client.converse(modelId=CLAUDE, messages=user("one two three four"), inferenceConfig={"maxTokens": 3})
    assert response["output"]["message"]["content"][0]["text"] == "You said: one"
    assert response["stopReason"] == "max_tokens"
    assert response["usage"]["outputTokens"] == 3


def test_converse_stop_sequence(client: Any) -> None:
    config = {"stopSequences": ["STOP"], "maxTokens": 50}
    response = client.converse(modelId=CLAUDE, messages=user("alpha beta STOP gamma"), inferenceConfig=config)
    assert response["output"]["message"]["content"][0]["text"] == "You said: alpha beta"
    assert response["stopReason"] == "stop_sequence"


def test_converse_guardrail_intervenes(client: Any) -> None:
    guardrail = {"guardrailIdentifier": "abc123", "guardrailVersion": "1"}
    blocked = client.converse(modelId=CLAUDE, messages=user("please BLOCKME now"), guardrailConfig=guardrail)
    assert blocked["output"]["message"]["content"][0]["text"] == "Sorry, the model cannot answer this question."
    assert blocked["stopReason"] == "guardrail_intervened"
    unguarded = client.converse(modelId=CLAUDE, messages=user("please BLOCKME now"))
    assert unguarded["stopReason"] == "end_turn"


def test_reply_overrides_per_model_until_cleared(emu: BedrockEmulator, client: Any) -> None:
    emu.reply("Fixed answer here.", model=CLAUDE)
    emu.reply("Any model.")
    assert client.converse(modelId=CLAUDE, messages=user("x"))["output"]["message"]["content"][0]["text"] == "Fixed answer here."
    assert client.converse(modelId="meta.llama3-8b-instruct-v1:0", messages=user("x"))["output"]["message"]["content"][0][
        "text"
    ] == ("Any model.")
    emu.reply(None, model=CLAUDE)
    assert client.converse(modelId=CLAUDE, messages=user("x"))["output"]["message"]["content"][0]["text"] == "Any model."


def test_converse_stream_events_reassemble(emu: BedrockEmulator, client: Any) -> None:
    expected = client.converse(modelId=CLAUDE, system=[{"text": CONTEXT}], messages=user("days?"))
    response = client.converse_stream(modelId=CLAUDE, system=[{"text": CONTEXT}], messages=user("days?"))
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["content-type"] == "application/vnd.amazon.eventstream"
    assert headers["transfer-encoding"] == "chunked"
    events = list(response["stream"])
    kinds = [next(iter(event)) for event in events]
    pieces = [event["contentBlockDelta"]["delta"]["text"] for event in events if "contentBlockDelta" in event]
    assert kinds == ["messageStart"] + ["contentBlockDelta"] * len(pieces) + ["contentBlockStop", "messageStop", "metadata"]
    assert events[0]["messageStart"] == {"role": "assistant"}
    assert "".join(pieces) == expected["output"]["message"]["content"][0]["text"]
    assert len(pieces) == expected["usage"]["outputTokens"]
    assert events[-2]["messageStop"] == {"stopReason": "end_turn"}
    assert events[-1]["metadata"]["usage"] == expected["usage"]
    assert events[-1]["metadata"]["metrics"]["latencyMs"] >= 0
    record = emu.requests[-1]
    assert record.operation == "ConverseStream"
    assert record.started_at <= record.first_byte_at <= record.first_delta_at


def test_latency_and_token_delay(emu: BedrockEmulator, client: Any) -> None:
    emu.faults(latency_ms=80, token_delay_ms=20)
    response = client.converse_stream(modelId=CLAUDE, messages=user("a b c d"))
    assert len([event for event in response["stream"] if "contentBlockDelta" in event]) == 6
    record = emu.requests[-1]
    assert record.first_byte_at - record.started_at >= 0.08
    assert record.first_delta_at - record.first_byte_at < 0.05


# ------------------------------------------------------------------------------------------------ event stream


def test_eventstream_round_trip_and_checksums() -> None:
    message = eventstream.event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "hi"}})
    extra = eventstream.encode_message({"flag": True, "off": False, "count": 7, "big": 2**40, "raw": b"\x00\x01"}, b"payload")
    buffer = botocore.eventstream.EventStreamBuffer()
    buffer.add_data(message + extra + eventstream.exception("throttlingException", {"message": "slow down"}))
    first, second, third = list(buffer)
    assert first.headers == {":event-type": "contentBlockDelta", ":content-type": "application/json", ":message-type": "event"}
    assert json.loads(first.payload) == {"contentBlockIndex": 0, "delta": {"text": "hi"}}
    assert second.headers == {"flag": True, "off": False, "count": 7, "big": 2**40, "raw": b"\x00\x01"}
    assert third.to_response_dict()["status_code"] == 400
    for position in (5, len(message) - 8):
        corrupted = bytearray(message)
        corrupted[position] ^= 0x01
        broken = botocore.eventstream.EventStreamBuffer()
        broken.add_data(bytes(corrupted))
        with pytest.raises(botocore.eventstream.ChecksumMismatch):
            list(broken)


# ------------------------------------------------------------------------------------------------ faults


@pytest.mark.parametrize("outcome", sorted(STATUSES))
def test_modeled_errors(emu: BedrockEmulator, client: Any, outcome: str) -> None:
    emu.script([outcome, outcome])
    code = HTTP_ERROR_OUTCOMES[outcome][0]
    for call in (client.converse, client.converse_stream):
        with pytest.raises(ClientError) as raised:
            call(modelId=CLAUDE, messages=user("hi"))
        assert raised.value.response["Error"]["Code"] == code
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == STATUSES[outcome]
    assert [record.status for record in emu.requests] == [STATUSES[outcome]] * 2


def test_stream_error_arrives_after_first_delta(emu: BedrockEmulator, client: Any) -> None:
    emu.script(["stream-error"])
    seen = []
    with pytest.raises(EventStreamError) as raised:
        for event in client.converse_stream(modelId=CLAUDE, messages=user("one two three"))["stream"]:
            seen.append(next(iter(event)))
    assert seen == ["messageStart", "contentBlockDelta"]
    assert raised.value.response["Error"]["Code"] == "modelStreamErrorException"
    assert emu.requests[-1].first_delta_at is not None


def test_stream_throttle_arrives_before_any_delta(emu: BedrockEmulator, client: Any) -> None:
    emu.script(["stream-throttle"])
    response = client.converse_stream(modelId=CLAUDE, messages=user("hi"))
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(EventStreamError) as raised:
        list(response["stream"])
    assert raised.value.response["Error"]["Code"] == "throttlingException"
    assert emu.requests[-1].first_delta_at is None


def test_stream_outcomes_on_non_streaming_operations(emu: BedrockEmulator, client: Any) -> None:
    emu.script(["stream-error", "stream-throttle"])
    codes = []
    for _ in range(2):
        with pytest.raises(ClientError) as raised:
            client.converse(modelId=CLAUDE, messages=user("hi"))
        codes.append(raised.value.response["Error"]["Code"])
    assert codes == ["ModelErrorException", "ThrottlingException"]


def test_scripts_apply_per_model_before_any_model(emu: BedrockEmulator, client: Any) -> None:
    other = "mistral.mistral-large-2402-v1:0"
    emu.script(["throttle", "ok", "internal"], model=CLAUDE)
    emu.script(["unavailable"])
    outcomes = []
    for model in (other, PROFILE_ARN, CLAUDE, CLAUDE, other, CLAUDE):
        try:
            client.converse(modelId=model, messages=user("hi"))
            outcomes.append("ok")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])
    assert outcomes == ["ServiceUnavailableException", "ThrottlingException", "ok", "InternalServerException", "ok", "ok"]
    with pytest.raises(ValueError, match="unknown outcomes"):
        emu.script(["explode"])


def test_random_fault_shares(emu: BedrockEmulator, client: Any) -> None:
    emu.faults(throttle=0.2, server_error=0.1, seed=11)
    for _ in range(200):
        with contextlib.suppress(ClientError):
            client.converse(modelId=CLAUDE, messages=user("x"))
    counts = Counter(record.outcome for record in emu.requests)
    assert abs(counts["throttle"] / 200 - 0.2) < 0.07
    assert abs((counts["internal"] + counts["unavailable"]) / 200 - 0.1) < 0.05
    assert abs(counts["internal"] - counts["unavailable"]) <= 1
    assert counts["ok"] + counts["throttle"] + counts["internal"] + counts["unavailable"] == 200


def test_slow_outcome_trips_read_timeout(emu: BedrockEmulator) -> None:
    emu.script(["slow"])
    impatient = make_client(emu.endpoint_url, read_timeout=0.4)
    with pytest.raises(ReadTimeoutError):
        impatient.converse(modelId=CLAUDE, messages=user("hi"))


def test_concurrent_requests_are_all_recorded(emu: BedrockEmulator, client: Any) -> None:
    def worker() -> None:
        for _ in range(10):
            client.converse(modelId=CLAUDE, messages=user("hi"))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(emu.requests) == 60
    assert {record.status for record in emu.requests} == {200}


# ------------------------------------------------------------------------------------------------ validation


def test_raw_request_with_unknown_field_is_invalid(emu: BedrockEmulator, expect_invalid: None) -> None:
    body = json.dumps({"messages": user("hi"), "temperature": 0.5}).encode()
    status, headers, answer = raw_request(emu.endpoint_url, f"/model/{CLAUDE}/converse", body)
    assert status == 400
    assert headers["x-amzn-ErrorType"].startswith("ValidationException:")
    assert 'Unknown parameter in input: "temperature"' in json.loads(answer)["message"]
    (record,) = emu.invalid
    assert record.operation == "Converse" and record.status == 400 and "temperature" in record.validation_errors


def test_raw_request_with_bad_types_and_missing_messages(emu: BedrockEmulator, expect_invalid: None) -> None:
    bad_type = json.dumps({"messages": "hi"}).encode()
    assert raw_request(emu.endpoint_url, f"/model/{CLAUDE}/converse", bad_type)[0] == 400
    missing = raw_request(emu.endpoint_url, f"/model/{CLAUDE}/converse", b"{}")
    assert missing[0] == 400 and "at least one message" in json.loads(missing[2])["message"]
    assistant_first = json.dumps({"messages": [{"role": "assistant", "content": [{"text": "x"}]}]}).encode()
    assert raw_request(emu.endpoint_url, f"/model/{CLAUDE}/converse-stream", assistant_first)[0] == 400
    assert [record.operation for record in emu.invalid] == ["Converse", "Converse", "ConverseStream"]
    assert "Invalid type for parameter messages" in emu.invalid[0].validation_errors


def test_missing_or_misscoped_sigv4_is_rejected(emu: BedrockEmulator, expect_invalid: None) -> None:
    unsigned = boto3.client(
        "bedrock-runtime", region_name="us-east-1", endpoint_url=emu.endpoint_url, config=Config(signature_version=UNSIGNED)
    )
    with pytest.raises(ClientError) as raised:
        unsigned.converse(modelId=CLAUDE, messages=user("hi"))
    assert raised.value.response["Error"]["Code"] == "MissingAuthenticationTokenException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    body = json.dumps({"messages": user("hi")}).encode()
    assert raw_request(emu.endpoint_url, f"/model/{CLAUDE}/converse", body, scope="sagemaker")[0] == 400
    assert [record.outcome for record in emu.invalid] == ["invalid", "invalid"]
    assert "correct service" in emu.invalid[1].validation_errors


def test_chunked_request_body_on_a_kept_alive_connection(emu: BedrockEmulator) -> None:
    body = json.dumps({"messages": user("chunked hello")}).encode()
    request = AWSRequest(method="POST", url=f"{emu.endpoint_url}/model/{CLAUDE}/converse", data=body)
    SigV4Auth(Credentials("testing", "testing"), "bedrock", "us-east-1").add_auth(request)
    connection = http.client.HTTPConnection("127.0.0.1", int(emu.endpoint_url.rsplit(":", 1)[1]), timeout=5)
    try:
        for _ in range(2):
            headers = dict(request.headers.items())
            pieces = iter([body[:7], body[7:]])
            connection.request("POST", f"/model/{CLAUDE}/converse", body=pieces, headers=headers, encode_chunked=True)
            response = connection.getresponse()
            assert response.status == 200
            assert json.loads(response.read())["output"]["message"]["content"][0]["text"] == "You said: chunked hello"
    finally:
        connection.close()
    assert [record.headers.get("Transfer-Encoding") for record in emu.requests] == ["chunked", "chunked"]


def test_unknown_model_identifier(emu: BedrockEmulator, client: Any) -> None:
    for call in (
        lambda: client.converse(modelId="acme.unknown-model-v1", messages=user("hi")),
        lambda: client.invoke_model(modelId="meta.llama3-8b-instruct-v1:0", body=b"{}"),
    ):
        with pytest.raises(ClientError) as raised:
            call()
        assert raised.value.response["Error"] == {
            "Code": "ValidationException",
            "Message": "The provided model identifier is invalid.",
        }
    with pytest.raises(ClientError, match="doesn't support the model"):
        client.converse(modelId=TITAN, messages=user("hi"))
    assert {record.outcome for record in emu.requests} == {"invalid-model"}


def test_wire_routes_greedy_labels_and_reports_unknown_paths() -> None:
    operation, labels = match_operation("s3", "GET", "/bucket/a/b%20c.txt", "x-id=GetObject")
    assert (operation.name, labels) == ("GetObject", {"Bucket": "bucket", "Key": "a/b c.txt"})
    assert parse_request("bedrock-runtime", "POST", "/nowhere", "", {}, b"").operation is None


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


# ------------------------------------------------------------------------------------------------ separate process


def control(url: str, path: str, payload: dict[str, Any] | None = None) -> Any:
    """Call a control endpoint: POST ``payload`` as JSON, or GET when it is None."""
    data = None if payload is None else json.dumps(payload).encode()
    with urllib.request.urlopen(urllib.request.Request(url + path, data=data), timeout=5) as response:
        return json.loads(response.read())


@pytest.mark.timeout(60)
def test_subprocess_mode_with_control_endpoints() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "inhouse.testing.emulators.bedrock", "--port", "0"], cwd=TESTS, stdout=subprocess.PIPE, text=True
    )
    try:
        line = process.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.split()[-1]
        client = make_client(url)
        image = {"image": {"format": "png", "source": {"bytes": png(8, 8, (1, 2, 3))}}}
        messages = [{"role": "user", "content": [{"text": "look"}, image]}]
        assert client.converse(modelId=CLAUDE, messages=messages)["output"]["message"]["content"][0]["text"] == "You said: look"
        assert control(url, "/_emulator/script", {"outcomes": ["throttle"], "model": CLAUDE}) == {"ok": True}
        with pytest.raises(ClientError, match="ThrottlingException"):
            client.converse(modelId=CLAUDE, messages=user("again"))
        control(url, "/_emulator/reply", {"text": "Remote reply."})
        assert client.converse(modelId=CLAUDE, messages=user("x"))["output"]["message"]["content"][0]["text"] == "Remote reply."
        records = control(url, "/_emulator/requests")
        assert [(record["operation"], record["status"], record["outcome"]) for record in records] == [
            ("Converse", 200, "ok"),
            ("Converse", 429, "throttle"),
            ("Converse", 200, "ok"),
        ]
        assert records[0]["params"]["messages"][0]["content"][1]["image"]["source"]["bytes"] == {
            "omitted_bytes": len(png(8, 8, (1, 2, 3)))
        }
        assert records[0]["started_at"] <= records[0]["first_byte_at"]
        control(url, "/_emulator/faults", {"throttle": 1.0})
        with pytest.raises(ClientError, match="ThrottlingException"):
            client.converse(modelId=CLAUDE, messages=user("x"))
        control(url, "/_emulator/reset", {})
        assert control(url, "/_emulator/requests") == [] and control(url, "/_emulator/invalid") == []
        with pytest.raises(urllib.error.HTTPError) as raised:
            control(url, "/_emulator/faults", {"throttle": 2.0})
        assert raised.value.code == 400
    finally:
        process.kill()
        process.wait()
