"""The Confluence Cloud connector: the pages (and attachments) of some spaces, with their view
restrictions as access lists.

``fetch`` makes only listing requests (REST API v2 spaces, pages and attachments, and each
page's read restriction), so a re-sync with nothing changed downloads no body: a page's hash
is its version number, an attachment's its own version. ``open`` downloads one page's body
(storage format, as an HTML document: ``inhouse_confluence.storage``) or one attachment, and
only for ids of the configured spaces.

Paths: ``KEY/PAGEID-title-slug`` for a page, ``KEY/PAGEID/ATTID-file-name.ext`` for an
attachment. A space whose pages cannot be listed, or a page whose attachments cannot, is
reported as a failed item and left as it is in the index (``covers`` says no for it), so a
failed listing never deletes anything.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from inhouse.access import Principals
from inhouse.config import Label
from inhouse.errors import IngestError
from inhouse.plugins import Connector, Residency
from inhouse.providerkit import Backoff, RetrySettings, host_residency
from inhouse.types import Source
from inhouse_confluence.client import Client, ConfluenceError
from inhouse_confluence.restrictions import AccessMap, Restriction, read_restriction
from inhouse_confluence.storage import page_html

API = "/wiki/api/v2"
PAGE_PATH = re.compile(r"(?P<key>[A-Za-z0-9_~-]{1,255})/(?P<page>\d{1,20})(?:-[a-z0-9-]*|/(?P<att>att\d{1,20})-[a-z0-9.-]*)?")
ATTACHMENT_ID = re.compile(r"att\d{1,20}")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _site(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not a site address like https://your-domain.atlassian.net")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK:
        raise ValueError(f"{value!r}: use https (the token would cross the network in clear)")
    return f"{parts.scheme}://{parts.netloc}"  # ".../wiki" and a trailing slash are dropped


@dataclass
class _Page:
    """One listed page and what is known of it by the end of the listing."""

    data: dict[str, Any]
    restriction: Restriction | ConfluenceError | None = None
    attachments: list[dict[str, Any]] | ConfluenceError = field(default_factory=list)

    @property
    def id(self) -> str:
        return str(self.data["id"])


class ConfluenceConnector(Connector):
    """Yields the pages of the configured spaces (and their attachments) as ``Source``s."""

    class Config(RetrySettings):
        """``[connectors.NAME]`` with ``use = "confluence"``."""

        base_url: str = Field(description="the site, https://your-domain.atlassian.net")
        email: str = Field(min_length=3, description="the Atlassian account the API token belongs to")
        token: SecretStr = Field(description='an Atlassian API token; write { env = "NAME" }')
        spaces: list[str] = Field(default_factory=list, description="space keys (empty: every space the account can read)")
        attachments: bool = Field(True, description="also yield each page's attachments")
        label: Label | None = Field(None, description="sensitivity label of everything (else [[access.rules]], default)")
        acl: Principals = Field(
            default_factory=list,
            description="who may read pages without a view restriction: group names, 'user:NAME', '*' (empty: the rules)",
        )
        user_map: dict[str, str] = Field(default_factory=dict, description="Atlassian accountId -> inhouse user name")
        group_map: dict[str, str] = Field(default_factory=dict, description="Confluence group -> inhouse group (else same name)")
        page_size: int = Field(100, ge=1, le=250, description="items per listing request")
        workers: int = Field(4, ge=1, le=16, description="listing requests in flight at once (restrictions, attachments)")
        max_attempts: int = Field(5, ge=1, le=10, description="attempts per request, the first included")
        max_retry_after: float = Field(60.0, ge=0, description="longest Retry-After waited for; a longer one fails the request")
        timeout: float = Field(30.0, gt=0, description="seconds per request")

        @field_validator("base_url")
        @classmethod
        def _address(cls, value: str) -> str:
            return _site(value)

        @field_validator("user_map", "group_map")
        @classmethod
        def _names(cls, value: dict[str, str]) -> dict[str, str]:
            bad = [name for name in value.values() if not name.strip() or ":" in name or name == "*"]
            if bad:
                raise ValueError(f"{bad[0]!r} is not a name (write the inhouse user or group name, without a prefix)")
            return value

        @field_validator("spaces")
        @classmethod
        def _keys(cls, value: list[str]) -> list[str]:
            bad = [key for key in value if not re.fullmatch(r"[A-Za-z0-9_~-]{1,255}", key)]
            if bad:
                raise ValueError(f"{bad[0]!r} is not a space key (the short key in a space's address, like ENG)")
            return value

    residency: Residency = "external"  # set from base_url in __init__ (providerkit.host_residency)

    def __init__(self, config: Config | None = None, *, name: str = "", home: Any = None):
        super().__init__(config, name=name, home=home)
        c = self.config
        host = urlsplit(c.base_url).hostname or ""
        outside = f"reads from {host} (Confluence Cloud); sends it nothing but its requests"
        self.residency, self.residency_note = host_residency(host, outside)
        self.client = Client(
            c.base_url,
            c.email,
            c.token.get_secret_value(),
            max_attempts=c.max_attempts,
            backoff=Backoff(c.backoff_base, c.backoff_max),
            max_retry_after=c.max_retry_after,
            timeout=c.timeout,
        )
        self.access = AccessMap(c.user_map, c.group_map, tuple(c.acl) or None)
        self._space_ids: dict[str, str] = {}  # key -> id, of the spaces this connector reads
        self._uncovered: set[str] = set()  # path prefixes the last fetch could not list

    @property
    def root(self) -> str:
        """The site and the spaces: two tables on one site with other spaces never mix."""
        keys = "+".join(sorted(self.config.spaces))
        return f"{self.config.base_url}/wiki" + (f"/spaces/{keys}" if keys else "")

    def check(self) -> str:
        """The spaces must be readable with the credentials."""
        return f"{self.root}: {len(self._spaces())} space(s)"

    def fetch(self) -> Iterator[Source]:
        """Every page (and attachment) of the spaces; a space that cannot be listed is one failed item."""
        self._uncovered = set()
        spaces = self._spaces()  # no space list at all (bad credentials): raised, nothing removed
        for key in self.config.spaces:
            if key not in spaces:
                yield self._failed(key, key, "space not found, or the account may not read it")
        for key, space in sorted(spaces.items()):
            try:
                pages = {str(p["id"]): _Page(p) for p in self._pages(space)}
            except ConfluenceError as exc:
                yield self._failed(key, key, f"pages could not be listed: {exc}")
                continue
            with ThreadPoolExecutor(self.config.workers, thread_name_prefix="inhouse-confluence") as pool:
                list(pool.map(self._details, pages.values()))
            for page in pages.values():
                yield from self._sources(key, page, pages)

    def covers(self, path: str) -> bool:
        """False for what the last ``fetch`` could not list (a space, a page's attachments):
        the ingester then keeps those documents rather than removing them."""
        return not any(path == p or path.startswith(p + "/") for p in self._uncovered)

    def open(self, path: str) -> bytes:
        """A page as an HTML document, or an attachment's bytes, for a path ``fetch`` yields;
        ``IngestError`` for anything else (another space, an attachment of another page, a
        trashed page, a malformed path)."""
        match = PAGE_PATH.fullmatch(path)
        if match is None:
            raise IngestError(f"{path!r} is not a page or attachment path of {self.root}")
        key, page_id, att_id = match.group("key", "page", "att")
        if self.config.spaces and key not in self.config.spaces:
            raise IngestError(f"space {key} is not one of this connector's spaces")
        space_id = self._space_ids.get(key) or self._spaces([key]).get(key, {}).get("id")
        if space_id is None:
            raise IngestError(f"space {key} not found, or the account may not read it")
        page = self.client.json(f"{API}/pages/{page_id}", None if att_id else {"body-format": "storage"})
        if str(page.get("spaceId")) != str(space_id) or page.get("status") != "current":
            raise IngestError(f"page {page_id} is not a current page of space {key}")
        if att_id is None:
            body = ((page.get("body") or {}).get("storage") or {}).get("value")
            if not isinstance(body, str):
                raise ConfluenceError(f"page {page_id}: the answer has no storage-format body")
            return page_html(str(page.get("title") or page_id), body)
        if not self.config.attachments:
            raise IngestError("attachments are not read by this connector (attachments = false)")
        attachment = self.client.json(f"{API}/attachments/{att_id}")
        if str(attachment.get("pageId")) != page_id or attachment.get("status", "current") != "current":
            raise IngestError(f"attachment {att_id} is not a current attachment of page {page_id}")
        return self.client.download(_download_link(attachment))

    def close(self) -> None:
        """Close the connection pool."""
        self.client.close()

    # listing -----------------------------------------------------------------------------

    def _spaces(self, keys: list[str] | None = None) -> dict[str, dict[str, Any]]:
        """The spaces by key (``keys``, else the configured ones, else every readable one)."""
        keys = keys if keys is not None else self.config.spaces
        params: dict[str, Any] = {"limit": min(self.config.page_size, 250)}
        if keys:
            params["keys"] = ",".join(keys)
        found = {str(s["key"]): s for s in self.client.results(f"{API}/spaces", params) if s.get("key") and s.get("id")}
        found = {k: s for k, s in found.items() if not keys or k in keys}
        self._space_ids.update({k: str(s["id"]) for k, s in found.items()})
        return found

    def _pages(self, space: dict[str, Any]) -> Iterator[dict[str, Any]]:
        params = {"limit": self.config.page_size, "status": "current"}
        return (p for p in self.client.results(f"{API}/spaces/{space['id']}/pages", params) if str(p.get("id")).isdigit())

    def _details(self, page: _Page) -> None:
        """The page's read restriction and attachments (errors kept, for its sources to report)."""
        try:
            page.restriction = read_restriction(self.client, page.id)
        except ConfluenceError as exc:
            page.restriction = exc
        if self.config.attachments:
            try:
                listing = self.client.results(f"{API}/pages/{page.id}/attachments", {"limit": self.config.page_size})
                page.attachments = list(listing)
            except ConfluenceError as exc:
                page.attachments = exc

    def _sources(self, key: str, page: _Page, pages: dict[str, _Page]) -> Iterator[Source]:
        data = page.data
        path = f"{key}/{page.id}-{_slug(str(data.get('title') or ''))}".rstrip("-")
        acl, error = self._acl(page, pages)
        common = dict(root=self.root, acl=acl, sensitivity=self.config.label)
        version = data.get("version") or {}
        yield Source(
            id=self._id("page", page.id),
            path=path,
            modified=_timestamp(version.get("createdAt") or data.get("createdAt")),
            hash=_hash(version, path) if not error else "",
            size=0,
            uri=self._web(data),
            media_type="text/html",
            error=error,
            **common,
        )
        if isinstance(page.attachments, ConfluenceError):
            self._uncovered.add(f"{key}/{page.id}")
            yield self._failed(f"{key}/{page.id}", f"{key}/{page.id}", f"attachments could not be listed: {page.attachments}")
            return
        for att in page.attachments:
            if att.get("status", "current") != "current" or not ATTACHMENT_ID.fullmatch(str(att.get("id"))):
                continue  # an id not like att123 could not be opened again
            name = str(att.get("title") or att["id"])
            stem, dot, suffix = name.rpartition(".")
            file_name = f"{_slug(stem)}.{_slug(suffix)}" if dot and stem else _slug(name)
            att_path = f"{key}/{page.id}/{att['id']}-{file_name}"
            yield Source(
                id=self._id("attachment", str(att["id"])),
                path=att_path,
                modified=_timestamp((att.get("version") or {}).get("createdAt") or att.get("createdAt")),
                hash=_hash(att.get("version") or {}, att_path) if not error else "",
                size=int(att.get("fileSize") or 0),
                uri=self._web(att),
                media_type=str(att.get("mediaType") or ""),
                error=error,
                **common,
            )

    def _acl(self, page: _Page, pages: dict[str, _Page]) -> tuple[tuple[str, ...] | None, str]:
        """The page's access list from its own restriction and its ancestors', or the error
        that hides it (an ancestor's restriction could not be read: never guess)."""
        chain: list[Restriction] = []
        current: _Page | None = page
        while current is not None and len(chain) <= len(pages):
            if isinstance(current.restriction, ConfluenceError):
                return (), f"view restrictions could not be read: {current.restriction}"
            chain.append(current.restriction or Restriction())
            parent = current.data.get("parentId")
            current = pages.get(str(parent)) if parent is not None else None
        return self.access.acl(chain), ""

    def _failed(self, ident: str, path: str, error: str) -> Source:
        self._uncovered.add(path)
        return Source(id=self._id("listing", ident), path=path, root=self.root, modified=0.0, hash="", size=0, error=error)

    def _id(self, kind: str, ident: str) -> str:
        return hashlib.sha1(f"{self.root}\0{kind}\0{ident}".encode()).hexdigest()[:20]

    def _web(self, item: dict[str, Any]) -> str:
        link = item.get("webuiLink") or (item.get("_links") or {}).get("webui")
        return f"{self.config.base_url}/wiki{link}" if isinstance(link, str) and link.startswith("/") else ""



def _download_link(attachment: dict[str, Any]) -> str:
    link = attachment.get("downloadLink") or (attachment.get("_links") or {}).get("download")
    if not isinstance(link, str) or not link.startswith("/"):
        raise ConfluenceError(f"attachment {attachment.get('id')}: no download link")
    return "/wiki" + link


def _hash(version: dict[str, Any], path: str) -> str:
    """The version number, and the path: a page renamed or moved to another space without a
    new version is read again, so the index never keeps a path ``open`` would refuse."""
    return f"v{version.get('number', 0)} {path}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80].strip("-")


def _timestamp(value: Any) -> float:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
