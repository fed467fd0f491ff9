"""The S3 connector: every object under a bucket prefix, listed (never downloaded) to find what changed.

``fetch`` pages through ListObjectsV2 (ListObjectVersions with ``versions = true``) and yields
each selected object with its ETag (plus VersionId) as the hash, so the ingester reads back
only new and changed objects and removes those no longer listed. Access comes from the
table's ``acl``/``label``, else the object's tags (``tags``, one GetObjectTagging per object),
else the longest matching ``prefix_access`` entry, else ``[[access.rules]]`` and the defaults.
Objects are read with the caller's credentials: SSE-S3 and SSE-KMS objects decrypt on
S3's side, so no key is ever configured here.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from pydantic import Field, field_validator

from inhouse.access import Principals, matches
from inhouse.config import Label
from inhouse.errors import IngestError, ProviderError
from inhouse.plugins import Connector
from inhouse.types import Source
from inhouse_aws import AwsClient, AwsSettings
from inhouse_s3.access import Access, PrefixAccess, TagNames, from_prefixes, from_tags
from inhouse_s3.errors import ERRORS, advice

T = TypeVar("T")
TAG_WORKERS = 8  # GetObjectTagging requests in flight at once (``tags`` set)
ROOT = re.compile(r"s3://([^/]+)/(.*)\Z", re.S)


class S3Connector(Connector):
    """Lists the objects under ``s3://bucket/prefix`` and reads them back with ``open``.

    Ids are stable (derived from the bucket and the key); paths are keys relative to the prefix.
    """

    class Config(AwsSettings):
        """``[connectors.NAME]`` with ``use = "s3"`` (plus the AWS keys of ``inhouse_aws.AwsSettings``)."""

        bucket: str = Field(description="the bucket's name")
        prefix: str = Field("", description="only objects under this folder of the bucket ('' is the whole bucket)")
        include: list[str] = Field(default_factory=lambda: ["**/*"], description="globs, relative to prefix")
        exclude: list[str] = Field(default_factory=list, description="globs, relative to prefix")
        acl: Principals = Field(
            default_factory=list,
            description="who may read every object: group names, 'user:NAME', '*' (empty: tags, prefix_access, rules)",
        )
        label: Label | None = Field(None, description="sensitivity label of every object (else tags, prefix_access, rules)")
        tags: TagNames | None = Field(None, description="read access from object tags (one GetObjectTagging per object)")
        prefix_access: list[PrefixAccess] = Field(default_factory=list, description="access by key prefix: longest wins")
        versions: bool = Field(False, description="list with ListObjectVersions and add VersionId to each hash")
        page_size: int = Field(1000, ge=1, le=1000, description="keys per listing request (S3's maximum: 1000)")

        @field_validator("bucket")
        @classmethod
        def _bucket(cls, value: str) -> str:
            if not value or "/" in value or ":" in value:
                raise ValueError(f"bucket must be the bucket's name alone (like 'handbook'), not {value!r}")
            return value

        @field_validator("prefix")
        @classmethod
        def _folder(cls, value: str) -> str:
            value = value.strip("/")
            return f"{value}/" if value else ""

    residency = "in-account"

    def __init__(self, config: Config | None = None, *, name: str = "", home: Any = None):
        super().__init__(config, name=name, home=home)
        cfg = self.config
        table = f"connectors.{name or 's3'}"
        self.aws = AwsClient(cfg, "s3", f"S3 [{table}]", ERRORS, advice(table, cfg.bucket))

    @property
    def root(self) -> str:
        """``s3://bucket/prefix``."""
        return f"s3://{self.config.bucket}/{self.config.prefix}"

    def check(self) -> str:
        """One listing request: the bucket exists, is in ``region`` and these credentials may list it."""
        self._call(lambda: self.aws.client.list_objects_v2(Bucket=self.config.bucket, Prefix=self.config.prefix, MaxKeys=1))
        return self.root

    def close(self) -> None:
        """Close the HTTP connections. Safe to call twice."""
        self.aws.close()

    def fetch(self) -> Iterator[Source]:
        """Yield every selected object in key order. A listing failure raises ``IngestError`` (so
        nothing is removed); an object whose tags cannot be read comes with ``error`` set."""
        with ThreadPoolExecutor(TAG_WORKERS if self._reads_tags else 1, thread_name_prefix="inhouse-s3-tags") as pool:
            for page in self._pages():
                chosen = [(obj, rel) for obj in page if (rel := obj["Key"][len(self.config.prefix) :]) and self._selected(rel)]
                yield from pool.map(lambda item: self._source(*item), chosen)

    def open(self, path: str) -> bytes:
        """The bytes of the object at ``path`` (relative to the prefix). Refused (``IngestError``):
        a path with an empty, ``.`` or ``..`` part (so nothing outside the prefix), one the globs
        do not select, a missing object, and any object these credentials may not read."""
        if not isinstance(path, str) or not _safe(path) or not self._selected(path):
            raise IngestError(f"{path!r} is not an object of {self.root}")
        key = self.config.prefix + path
        return self._call(lambda: self.aws.client.get_object(Bucket=self.config.bucket, Key=key)["Body"].read(), key)

    @classmethod
    def reopen(cls, root: str) -> S3Connector | None:
        """A connector on ``s3://bucket/prefix`` with the default credential chain and region
        (``AWS_PROFILE``, ``AWS_REGION``, ``AWS_ENDPOINT_URL_S3`` apply), or None for another root."""
        found = ROOT.match(root)
        if found is None:
            return None
        try:
            connector = cls(cls.Config(bucket=found[1], prefix=found[2]), name="reopened")
        except ValueError:
            return None
        return connector if connector.root == root else None

    def _pages(self) -> Iterator[list[dict[str, Any]]]:
        """The objects under the prefix, one listing page at a time (latest versions only)."""
        cfg, client = self.config, self.aws.client
        args: dict[str, Any] = {"Bucket": cfg.bucket, "Prefix": cfg.prefix, "MaxKeys": cfg.page_size}
        while True:
            if cfg.versions:
                page = self._call(lambda: client.list_object_versions(**args))
                yield [v for v in page.get("Versions", []) if v.get("IsLatest")]
                args.update(KeyMarker=page.get("NextKeyMarker"), VersionIdMarker=page.get("NextVersionIdMarker"))
            else:
                page = self._call(lambda: client.list_objects_v2(**args))
                yield page.get("Contents", [])
                args["ContinuationToken"] = page.get("NextContinuationToken")
            if not page.get("IsTruncated"):
                return

    @property
    def _reads_tags(self) -> bool:
        """Whether objects' tags are read: ``tags`` is set and the table does not fix both ACL and label."""
        return self.config.tags is not None and not (self.config.acl and self.config.label)

    def _selected(self, rel: str) -> bool:
        return not rel.endswith("/") and matches(rel, self.config.include) and not matches(rel, self.config.exclude)

    def _source(self, obj: dict[str, Any], rel: str) -> Source:
        cfg, key = self.config, obj["Key"]
        version = obj.get("VersionId")
        common = dict(
            id=hashlib.sha1(f"s3\0{cfg.bucket}\0{key}".encode()).hexdigest()[:20],
            path=rel,
            root=self.root,
            modified=obj["LastModified"].timestamp(),
            size=int(obj.get("Size", 0)),
            uri=f"s3://{cfg.bucket}/{key}",
            media_type=mimetypes.guess_type(key)[0] or "",
        )
        try:
            if not _safe(rel):
                raise IngestError(f"key {key!r} has an empty, '.' or '..' part: not read (rename the object)")
            acl, label = self._access(key, rel, version)
        except IngestError as exc:
            return Source(hash="", error=str(exc), **common)
        etag = str(obj.get("ETag", "")).strip('"')
        digest = f"{etag}:{version}" if version and version != "null" else etag
        return Source(hash=digest, acl=acl, sensitivity=label, **common)

    def _access(self, key: str, rel: str, version: str | None) -> Access:
        """The ACL and label of one object: the table's, else its tags', else the prefix map's (None: not said)."""
        cfg = self.config
        acl, label = tuple(cfg.acl) or None, cfg.label
        for said in (self._tags(key, version), from_prefixes(rel, cfg.prefix_access)):
            acl = said[0] if acl is None else acl
            label = said[1] if label is None else label
        return acl, label

    def _tags(self, key: str, version: str | None) -> Access:
        if not self._reads_tags:
            return None, None
        args = {"Bucket": self.config.bucket, "Key": key} | ({"VersionId": version} if version and version != "null" else {})
        tagging = self._call(lambda: self.aws.client.get_object_tagging(**args), key)
        return from_tags({t["Key"]: t["Value"] for t in tagging.get("TagSet", [])}, self.config.tags, key)

    def _call(self, fn: Callable[[], T], key: str | None = None) -> T:
        """``fn`` (one S3 request) with the client's retries; a failure as an ``IngestError``
        naming the bucket and key (or prefix) and what to fix."""
        try:
            return self.aws.call(fn)
        except ProviderError as exc:
            where = f"s3://{self.config.bucket}/{self.config.prefix if key is None else key}"
            raise IngestError(f"{where}: {exc}", retryable=exc.retryable) from exc


def _safe(rel: str) -> bool:
    """Whether a key relative to the prefix stays under it: no empty, ``.`` or ``..`` part (so
    no leading ``/`` either)."""
    return all(part not in ("", ".", "..") for part in rel.split("/"))
