"""The S3 connector against moto's S3 over HTTP: the conformance kit, listing (paged, never
downloading), hashes that follow content and versions, hostile paths, SSE-KMS objects, reopen,
and errors that name the configuration key to fix."""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from pydantic import ValidationError

from inhouse.errors import IngestError
from inhouse.testing import ConnectorTests
from inhouse_s3.connector import S3Connector

Make = Callable[..., S3Connector]
OBJECTS = {
    "docs/hr/leave.md": b"# Leave\nTwenty days.",
    "docs/it/vpn.txt": b"Use the VPN.",
    "docs/notes.md": b"notes",
    "docs/drafts/plan.md": b"draft",
    "docs/archive/": b"",  # a folder marker
    "secret.md": b"outside the prefix",
}


@pytest.fixture
def filled(s3: Any, bucket: str) -> str:
    for key, body in OBJECTS.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)
    return bucket


class TestS3Conformance(ConnectorTests):
    @pytest.fixture
    def connector(self, make: Make, filled: str) -> S3Connector:
        return make(prefix="docs")


def test_lists_objects_under_the_prefix_without_downloading(make: Make, filled: str, requests) -> None:
    connector = make(prefix="/docs/", exclude=["drafts/**"])
    sent = requests(connector)
    sources = list(connector.fetch())
    assert [s.path for s in sources] == ["hr/leave.md", "it/vpn.txt", "notes.md"]  # no marker, nothing outside
    assert dict(sent) == {"ListObjectsV2": 1}
    leave = sources[0]
    assert leave.root == connector.root == f"s3://{filled}/docs/"
    assert leave.uri == f"s3://{filled}/docs/hr/leave.md" and leave.media_type == "text/markdown"
    assert leave.hash == hashlib.md5(OBJECTS["docs/hr/leave.md"]).hexdigest()  # the ETag
    assert leave.size == len(OBJECTS["docs/hr/leave.md"]) and leave.modified > 0
    assert leave.id == hashlib.sha1(f"s3\0{filled}\0docs/hr/leave.md".encode()).hexdigest()[:20]
    assert (leave.acl, leave.sensitivity) == (None, None)  # left to [[access.rules]] and the defaults
    assert [s.path for s in make(prefix="docs", include=["*.md"]).fetch()] == ["drafts/plan.md", "hr/leave.md", "notes.md"]


def test_the_tables_acl_and_label_apply_to_every_object(make: Make, filled: str) -> None:
    sources = list(make(prefix="docs", acl=["hr", "user:ana"], label="confidential").fetch())
    assert {(s.acl, s.sensitivity) for s in sources} == {(("group:hr", "user:ana"), "confidential")}


def test_the_hash_follows_content_so_a_same_size_rewrite_is_seen(make: Make, filled: str, s3: Any) -> None:
    connector = make(prefix="docs")
    before = {s.path: s.hash for s in connector.fetch()}
    s3.put_object(Bucket=filled, Key="docs/notes.md", Body=b"NOTES")  # same size, new bytes
    after = {s.path: s.hash for s in connector.fetch()}
    assert before["notes.md"] != after["notes.md"] and before["hr/leave.md"] == after["hr/leave.md"]
    assert connector.open("notes.md") == b"NOTES"


def test_versions_add_the_version_id_so_a_rewrite_with_the_same_etag_is_seen(make: Make, bucket: str, s3: Any) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="a.md", Body=b"same bytes")
    s3.put_object(Bucket=bucket, Key="gone.md", Body=b"deleted: a delete marker is its latest version")
    s3.delete_object(Bucket=bucket, Key="gone.md")
    connector = make(versions=True)
    [first] = connector.fetch()
    s3.put_object(Bucket=bucket, Key="a.md", Body=b"same bytes")
    [second] = connector.fetch()
    etag = hashlib.md5(b"same bytes").hexdigest()
    assert first.hash.startswith(etag + ":") and second.hash.startswith(etag + ":") and first.hash != second.hash
    assert [s.path for s in make().fetch()] == ["a.md"]  # without versions: the ETag alone
    assert next(make().fetch()).hash == etag


def test_pagination_lists_every_object(make: Make, bucket: str, s3: Any, requests) -> None:
    keys = [f"many/{n:04d}.txt" for n in range(1003)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: s3.put_object(Bucket=bucket, Key=key, Body=key.encode()), keys))
    connector = make(prefix="many")
    sent = requests(connector)
    assert [s.path for s in connector.fetch()] == [k.removeprefix("many/") for k in keys]
    assert dict(sent) == {"ListObjectsV2": 2}  # S3 answers at most 1000 keys a page
    small = make(prefix="many", page_size=250, include=["000*.txt"])
    sent = requests(small)
    assert len(list(small.fetch())) == 10 and dict(sent) == {"ListObjectsV2": 5}


@pytest.mark.parametrize(
    "path",
    [
        "../secret.md",
        "/docs/notes.md",
        "hr/../../secret.md",
        "hr//leave.md",
        "./notes.md",
        "",
        "archive/",
        "drafts/plan.md",  # excluded
        "no/such.md",
        "s3://other/notes.md",
    ],
)
def test_open_refuses_what_fetch_would_not_yield(make: Make, filled: str, path: str) -> None:
    with pytest.raises(IngestError):
        make(prefix="docs", exclude=["drafts/**"]).open(path)


def test_a_key_with_dot_dot_parts_is_reported_never_read(make: Make, bucket: str, s3: Any, requests) -> None:
    s3.put_object(Bucket=bucket, Key="docs/../secret.md", Body=b"a key that climbs out")
    s3.put_object(Bucket=bucket, Key="docs/ok.md", Body=b"fine")
    connector = make(prefix="docs")
    by_path = {s.path: s for s in connector.fetch()}
    assert "not read" in by_path["../secret.md"].error and not by_path["ok.md"].error
    sent = requests(connector)
    with pytest.raises(IngestError):
        connector.open("../secret.md")
    assert not sent  # refused before any request


def test_a_missing_object_is_a_clear_error(make: Make, filled: str) -> None:
    with pytest.raises(IngestError, match=r"s3://.*/docs/gone\.md: .*NoSuchKey.*gone"):
        make(prefix="docs").open("gone.md")


def test_sse_kms_objects_are_read_with_the_callers_credentials(make: Make, bucket: str, s3: Any, moto_url: str) -> None:
    kms = boto3.client("kms", region_name="us-east-1", endpoint_url=moto_url)
    key_id = kms.create_key(Description="inhouse test")["KeyMetadata"]["KeyId"]
    s3.put_object(Bucket=bucket, Key="enc/pay.md", Body=b"# Pay\nsealed", ServerSideEncryption="aws:kms", SSEKMSKeyId=key_id)
    assert s3.head_object(Bucket=bucket, Key="enc/pay.md")["ServerSideEncryption"] == "aws:kms"
    connector = make(prefix="enc")
    [source] = connector.fetch()
    assert not source.error and connector.open(source.path) == b"# Pay\nsealed"


def test_reopen_rebuilds_a_connector_from_an_s3_root(filled: str, moto_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_url)  # boto3's own variable: the default chain finds moto
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    root = f"s3://{filled}/docs/"
    reopened = S3Connector.reopen(root)
    assert reopened is not None and reopened.root == root
    assert reopened.open("hr/leave.md") == OBJECTS["docs/hr/leave.md"]
    with pytest.raises(IngestError):
        reopened.open("../secret.md")
    assert S3Connector.reopen("/srv/handbook") is None and S3Connector.reopen("s3://") is None


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"bucket": "s3://handbook"}, "bucket"),
        ({}, "bucket"),
        ({"bucket": "b", "acl": ["role:x"]}, "acl"),
        ({"bucket": "b", "prefix_access": [{"prefix": "hr/", "groups": ["user:"]}]}, "prefix_access"),
        ({"bucket": "b", "tags": {"group": "x"}}, "tags"),
        ({"bucket": "b", "page_size": 5000}, "page_size"),
    ],
)
def test_a_bad_table_is_refused_naming_the_key(table: dict[str, Any], key: str) -> None:
    with pytest.raises(ValidationError, match=key):
        S3Connector.Config.model_validate(table)


def test_a_missing_bucket_names_the_bucket_key(make: Make) -> None:
    with pytest.raises(IngestError, match=r"no bucket 'inhouse-nope-.*check `bucket` in \[connectors.docs\]"):
        list(make(bucket="inhouse-nope-" + "x" * 8).fetch())
    with pytest.raises(IngestError, match="check `bucket`"):
        make(bucket="inhouse-nope-" + "x" * 8).check()


@pytest.fixture
def iam_auth(moto_url: str, s3: Any) -> Iterator[dict[str, str]]:
    """A user allowed to list buckets but not to read objects; moto checks signatures and IAM
    policies while the fixture lasts (the server's switch, put back afterwards)."""
    iam = boto3.client("iam", region_name="us-east-1", endpoint_url=moto_url)
    user = f"lister-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}
    iam.put_user_policy(UserName=user, PolicyName="list-only", PolicyDocument=json.dumps(policy))

    def switch(count: bytes) -> None:
        request = urllib.request.Request(
            f"{moto_url}/moto-api/reset-auth", data=count, method="POST", headers={"Content-Type": "text/plain"}
        )
        urllib.request.urlopen(request, timeout=10).read()

    switch(b"0")
    try:
        yield {"id": key["AccessKeyId"], "secret": key["SecretAccessKey"]}
    finally:
        switch(b"inf")


def test_bad_credentials_and_access_denied_are_clear(
    make: Make, filled: str, iam_auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDUNKNOWN")
    with pytest.raises(IngestError, match=r"InvalidAccessKeyId.*check `profile` / `role_arn` in \[connectors.docs\]"):
        list(make(prefix="docs").fetch())
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", iam_auth["id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong")
    with pytest.raises(IngestError, match=r"SignatureDoesNotMatch.*check `profile`"):
        list(make(prefix="docs").fetch())
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", iam_auth["secret"])
    connector = make(prefix="docs")
    assert len(list(connector.fetch())) == 4  # listing is allowed
    with pytest.raises(IngestError, match=rf"s3://{filled}/docs/notes\.md: .*AccessDenied.*s3:GetObject") as info:
        connector.open("notes.md")
    assert not info.value.retryable


class WrongRegion(BaseHTTPRequestHandler):
    """S3's answer to a request signed for the wrong region (400 AuthorizationHeaderMalformed, naming
    the bucket's region), given again after botocore's one redirect, as an endpoint pinned to
    another region (a VPC endpoint's URL) does."""

    def do_GET(self) -> None:
        """Every request: the region is wrong."""
        body = (
            b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AuthorizationHeaderMalformed</Code><Message>The '
            b"authorization header is malformed; the region 'eu-west-1' is wrong; expecting 'eu-central-1'</Message>"
            b"<Region>eu-central-1</Region></Error>"
        )
        self.send_response(400)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet."""


def test_a_bucket_in_another_region_names_the_region_key(aws_credentials: None) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), WrongRegion)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        table = {"bucket": "handbook", "region": "eu-west-1", "endpoint_url": url, "max_attempts": 1}
        with pytest.raises(IngestError, match=r"another region: set `region` in \[connectors.docs\]"):
            list(S3Connector(S3Connector.Config.model_validate(table), name="docs").fetch())
    finally:
        server.shutdown()
        server.server_close()
