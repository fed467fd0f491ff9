"""The wire checks and encodings the AWS emulators share, seen through the Bedrock emulator: botocore's
service model and SigV4 (requests refused as AWS refuses them), chunked request bodies, the event-stream
encoding and the routing of raw paths to operations."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from typing import Any

import boto3
import botocore.eventstream
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from bedrockkit import CLAUDE, TITAN, user
from inhouse.testing.emulators import eventstream
from inhouse.testing.emulators.bedrock import BedrockEmulator
from inhouse.testing.emulators.wire import match_operation, parse_request

# The Bedrock emulator fixtures of test_emulator_bedrock, bound here: pytest finds fixtures by module attribute.


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
