"""Fixtures of the S3 connector's tests: real boto3 against the moto server over loopback HTTP
(the root ``moto_url`` fixture), a fresh bucket per test, and a count of the requests a
connector sends (a botocore event hook on its own client)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from inhouse_s3.connector import S3Connector

REGION = "us-east-1"


@pytest.fixture
def s3(moto_url: str, aws_credentials: None) -> Any:
    """A boto3 S3 client on the moto server (the test's hands: puts, tags, deletes)."""
    return boto3.client("s3", region_name=REGION, endpoint_url=moto_url)


@pytest.fixture
def bucket(s3: Any) -> str:
    """A new, empty bucket (the moto server lives for the whole session: names never repeat)."""
    name = f"inhouse-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def make(moto_url: str, bucket: str) -> Callable[..., S3Connector]:
    """Build a connector on ``bucket`` (the table ``[connectors.docs]``) with extra keys."""

    def build(**options: Any) -> S3Connector:
        table = {"bucket": bucket, "region": REGION, "endpoint_url": moto_url, "max_attempts": 1, **options}
        connector = S3Connector(S3Connector.Config.model_validate(table), name="docs")
        connector.use = "s3"
        return connector

    return build


def count_requests(connector: S3Connector) -> Counter[str]:
    """A counter of the S3 operations ``connector`` sends from now on (every HTTP request, retries too)."""
    sent: Counter[str] = Counter()

    def note(event_name: str, **_: Any) -> None:
        sent[event_name.rsplit(".", 1)[-1]] += 1

    connector.aws.client.meta.events.register("before-send.s3", note)
    return sent


@pytest.fixture
def requests() -> Callable[[S3Connector], Counter[str]]:
    """``requests(connector)``: a counter of the operations it sends from now on."""
    return count_requests
