"""The AWS kit: botocore's exceptions classified by an error table, calls and streams retried with the
client's backoff (its sleep recorded, never slept), and assumed roles against moto's STS over loopback HTTP."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    EventStreamError,
    NoCredentialsError,
    NoRegionError,
    ReadTimeoutError,
)

from inhouse.errors import InhouseError, ProviderError
from inhouse.testing.emulators.bedrock import BedrockEmulator
from inhouse_aws import AwsClient, AwsSettings, ErrorTable, map_error
from inhouse_aws.client import assumed_role_session

ERRORS: ErrorTable = {
    "throttlingexception": ("throttled", True, True),
    "validationexception": ("validation", False, False),
    "accessdeniedexception": ("access-denied", False, False),
    "modelstreamerrorexception": ("unavailable", False, True),
}
ADVICE = {"access-denied": "enable model access in the Bedrock console"}
ROLE = "arn:aws:iam::123456789012:role/inhouse-reader"
CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
HI = [{"role": "user", "content": [{"text": "hi"}]}]


def client_error(code: str, message: str = "", status: int = 400) -> ClientError:
    """A ClientError as botocore raises it for an error answer of ``status``."""
    error = {"Code": code, "Message": message} if message else {"Code": code}
    return ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}, "Converse")


def aws_client(waits: list[float], **settings: Any) -> AwsClient:
    """An AwsClient of bedrock-runtime with the test table whose backoff records its waits in ``waits``
    (seeded with 7) instead of sleeping."""
    aws = AwsClient(AwsSettings(**settings), "bedrock-runtime", "Bedrock test", ERRORS, ADVICE, provider="chat")
    aws.backoff.rng, aws.backoff.sleep = random.Random(7), waits.append
    return aws


def expected_waits(base: float, cap: float, retries: int) -> list[float]:
    """The full-jitter waits of retries 1..``retries`` drawn from ``random.Random(7)``."""
    rng = random.Random(7)
    return [rng.uniform(0, min(cap, base * 2 ** (retry - 1))) for retry in range(1, retries + 1)]


def failing(*failures: Exception, then: Any = "answer") -> tuple[list[int], Any]:
    """A call that raises ``failures`` one after the other, then returns ``then``; and its attempt count."""
    attempts = [0]

    def call() -> Any:
        attempts[0] += 1
        if attempts[0] <= len(failures):
            raise failures[attempts[0] - 1]
        return then

    return attempts, call


# --------------------------------------------------------------------------------------------------- map_error


@pytest.mark.parametrize(
    ("exc", "code", "retryable", "retry_here", "message"),
    [
        (
            client_error("ThrottlingException", "Rate exceeded", 429),
            "throttled",
            True,
            True,
            "ThrottlingException: Rate exceeded",
        ),
        (client_error("throttlingException", "slow down", 200), "throttled", True, True, "throttlingException: slow down"),
        (client_error("ValidationException"), "validation", False, False, "ValidationException"),
        (
            client_error("AccessDeniedException", "no access", 403),
            "access-denied",
            False,
            False,
            "AccessDeniedException: no access (enable model access in the Bedrock console)",
        ),
        (client_error("SomethingNew", "oops", 503), "error", True, False, "SomethingNew: oops"),
        (client_error("SomethingNew", "oops", 400), "error", False, False, "SomethingNew: oops"),
        (NoCredentialsError(), "access-denied", False, False, "no AWS credentials found"),
        (NoRegionError(), "validation", False, False, "no AWS region"),
        (ReadTimeoutError(endpoint_url="http://127.0.0.1:9"), "timeout", True, True, "read timed out"),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), "unavailable", True, True, "Could not connect"),
        (ConnectionResetError("reset by peer"), "unavailable", True, True, "reset by peer"),
    ],
)
def test_map_error_classifies_botocore_exceptions(
    exc: Exception, code: str, retryable: bool, retry_here: bool, message: str
) -> None:
    error, retry = map_error(exc, "Bedrock test", ERRORS, ADVICE, provider="chat")
    assert isinstance(error, ProviderError)
    assert (error.code, error.retryable, retry) == (code, retryable, retry_here)
    assert str(error).startswith(f"Bedrock test: {message}")
    assert error.provider == "chat"


def test_map_error_reraises_what_it_does_not_know() -> None:
    with pytest.raises(KeyError, match="not an AWS error"):
        map_error(KeyError("not an AWS error"), "Bedrock test", ERRORS)


# --------------------------------------------------------------------------------------------------- call


def test_call_retries_retryable_errors_up_to_max_attempts_with_the_backoff() -> None:
    waits: list[float] = []
    aws = aws_client(waits, max_attempts=4, backoff_base=0.2, backoff_max=0.3)
    attempts, call = failing(*[client_error("ThrottlingException", "Rate exceeded", 429)] * 5)
    with pytest.raises(ProviderError) as info:
        aws.call(call)
    assert attempts == [4]
    assert waits == expected_waits(0.2, 0.3, 3)  # bounds 0.2, 0.3 (capped), 0.3
    assert (info.value.code, info.value.retryable, info.value.provider) == ("throttled", True, "chat")
    assert isinstance(info.value.__cause__, ClientError)


def test_call_returns_once_a_retry_succeeds() -> None:
    waits: list[float] = []
    aws = aws_client(waits, max_attempts=3, backoff_base=0.5)
    attempts, call = failing(client_error("ThrottlingException", status=429), ReadTimeoutError(endpoint_url="http://x"))
    assert aws.call(call) == "answer"
    assert attempts == [3] and waits == expected_waits(0.5, 10.0, 2)


@pytest.mark.parametrize(
    "failure",
    [client_error("ValidationException", "bad"), client_error("SomethingNew", status=503), ProviderError("already mapped")],
)
def test_call_does_not_retry_what_may_not_be_retried_here(failure: Exception) -> None:
    waits: list[float] = []
    attempts, call = failing(failure)
    with pytest.raises(ProviderError) as info:
        aws_client(waits, max_attempts=5).call(call)
    assert attempts == [1] and waits == []
    if isinstance(failure, ProviderError):
        assert info.value is failure


def test_call_retries_a_refused_connection_for_real(aws_credentials: None) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"  # bound, never listening
        waits: list[float] = []
        aws = aws_client(waits, region="us-east-1", endpoint_url=url, max_attempts=2, connect_timeout=0.5)
        with pytest.raises(ProviderError) as info:
            aws.call(lambda: aws.client.converse(modelId=CLAUDE, messages=HI))
    assert (info.value.code, info.value.retryable) == ("unavailable", True)
    assert len(waits) == 1


# --------------------------------------------------------------------------------------------------- stream


def stream_of(*items: Any, closed: list[bool] | None = None) -> Iterator[str]:
    """Yield ``items``, raising those that are exceptions; note in ``closed`` when the generator ends."""
    try:
        for item in items:
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        if closed is not None:
            closed.append(True)


def has_text(event: str) -> bool:
    """Events named ``text...`` carry text."""
    return event.startswith("text")


def test_stream_retries_before_the_first_text() -> None:
    waits: list[float] = []
    opened: list[int] = []
    streams = [
        lambda: stream_of("start", client_error("ThrottlingException", status=200)),  # an error event before any text
        lambda: stream_of(client_error("ThrottlingException", status=429)),
        lambda: stream_of("start", "text one", "text two", "stop"),
    ]

    def open_stream() -> Iterator[str]:
        opened.append(1)
        return streams[len(opened) - 1]()

    aws = aws_client(waits, max_attempts=3, backoff_base=0.1)
    assert list(aws.stream(open_stream, has_text)) == ["start", "text one", "text two", "stop"]
    assert len(opened) == 3 and waits == expected_waits(0.1, 10.0, 2)


def test_stream_gives_up_before_the_first_text_after_max_attempts() -> None:
    waits: list[float] = []
    aws = aws_client(waits, max_attempts=2)
    with pytest.raises(ProviderError) as info:
        list(aws.stream(lambda: stream_of(client_error("ThrottlingException", status=429)), has_text))
    assert info.value.code == "throttled" and "broke off" not in str(info.value)
    assert len(waits) == 1


def test_stream_failure_after_the_first_text_is_one_error_without_retry() -> None:
    waits: list[float] = []
    opened: list[int] = []
    failure = EventStreamError({"Error": {"Code": "modelStreamErrorException", "Message": "shard died"}}, "ConverseStream")

    def open_stream() -> Iterator[str]:
        opened.append(1)
        return stream_of("start", "text one", failure, "text two")

    received: list[str] = []
    with pytest.raises(ProviderError) as info:
        received.extend(aws_client(waits, max_attempts=3).stream(open_stream, has_text))
    assert received == ["start", "text one"]
    assert str(info.value) == "the answer broke off mid-stream: Bedrock test: modelStreamErrorException: shard died"
    assert (info.value.code, info.value.retryable, info.value.provider) == ("unavailable", True, "chat")
    assert info.value.__cause__ is failure
    assert len(opened) == 1 and waits == []


def test_an_abandoned_stream_is_closed() -> None:
    closed: list[bool] = []
    events = aws_client([]).stream(lambda: stream_of("text one", "text two", closed=closed), has_text)
    assert next(events) == "text one"
    events.close()
    assert closed == [True]


# --------------------------------------------------------------------------------------------------- assumed roles


@pytest.fixture
def sts(moto_url: str, aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> str:
    """Test credentials (AKIDTESTING) and every STS call sent to moto."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto_url)
    return moto_url


def test_assumed_role_session_takes_the_roles_temporary_credentials(sts: str) -> None:
    source = boto3.Session(region_name="us-east-1")
    session = assumed_role_session(source, ROLE)
    credentials = session.get_credentials()
    assert credentials.method == "assume-role"
    frozen = credentials.get_frozen_credentials()
    assert frozen.access_key.startswith("ASIA") and frozen.access_key != "AKIDTESTING" and frozen.token
    identity = boto3.Session(botocore_session=session, region_name="us-east-1").client("sts").get_caller_identity()
    assert identity["Arn"] == "arn:aws:sts::123456789012:assumed-role/inhouse-reader/inhouse"  # RoleSessionName "inhouse"
    assert source.client("sts").get_caller_identity()["Arn"] != identity["Arn"]  # the source session is unchanged


def test_aws_client_with_role_arn_signs_with_the_assumed_role(sts: str) -> None:
    with BedrockEmulator() as emulator:
        settings = AwsSettings(region="us-east-1", role_arn=ROLE, endpoint_url=emulator.endpoint_url)
        aws = AwsClient(settings, "bedrock-runtime", "Bedrock test", ERRORS)
        try:
            assert "credentials from assume-role, us-east-1" in aws.credentials_status()
            answer = aws.call(lambda: aws.client.converse(modelId=CLAUDE, messages=HI))
        finally:
            aws.close()
        assert answer["output"]["message"]["content"][0]["text"] == "You said: hi"
        [request] = emulator.requests
        assert "Credential=ASIA" in request.headers["Authorization"] and "X-Amz-Security-Token" in request.headers
        assert emulator.invalid == []


def test_role_arn_without_source_credentials_is_access_denied(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    aws = AwsClient(AwsSettings(region="us-east-1", role_arn=ROLE), "bedrock-runtime", "Bedrock test", ERRORS)
    with pytest.raises(ProviderError, match="no source credentials") as info:
        aws.client  # noqa: B018 - built on first use
    assert info.value.code == "access-denied"


def test_an_unknown_profile_names_it(aws_credentials: None) -> None:
    aws = AwsClient(AwsSettings(region="us-east-1", profile="nobody"), "bedrock-runtime", "Bedrock test", ERRORS)
    with pytest.raises(InhouseError, match="AWS profile 'nobody'"):
        aws.client  # noqa: B018 - built on first use
