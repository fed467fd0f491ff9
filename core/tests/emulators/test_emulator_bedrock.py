"""The Bedrock Runtime emulator, exercised with real boto3 clients over loopback HTTP: Converse, its stream
and the faults it injects.

The fixtures are in this folder's conftest.py, the shared names in bedrockkit.py.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError, EventStreamError, ReadTimeoutError

from bedrockkit import CLAUDE, CONTEXT, PROFILE_ARN, STATUSES, make_client, user
from inhouse.testing.emulators.bedrock import HTTP_ERROR_OUTCOMES, BedrockEmulator

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
