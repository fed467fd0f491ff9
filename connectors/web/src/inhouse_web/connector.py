"""The web connector: the pages of one site, from a start page and/or a sitemap.

Same site only (scheme, host and port), robots.txt honoured (``Crawl-delay`` and
``Request-rate`` too), at most ``rate`` requests per second. Each page's hash is its ETag,
else its Last-Modified, else the SHA-256 of its bytes; the next crawl asks with
``If-None-Match``/``If-Modified-Since``, so an unchanged page costs a 304 without a body and
is neither downloaded nor embedded again (``inhouse_web.state`` keeps what the last crawl
learnt). Pages downloaded by the crawl are handed to ``open`` from memory, so a changed page
is downloaded once. HTML pages get the media type of ``inhouse_web.parser`` (boilerplate
removed by trafilatura); other types (a PDF) go to the parser of their type.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from inhouse.access import Principals
from inhouse.config import Label
from inhouse.errors import IngestError
from inhouse.plugins import Connector, PluginConfig
from inhouse.providerkit import host_residency
from inhouse.types import Source
from inhouse_web.client import Client
from inhouse_web.crawl import Crawl, Gate, Page
from inhouse_web.links import WEB_PAGE, is_html
from inhouse_web.state import CrawlState
from inhouse_web.urls import canonical, origin, page_path, page_url

CACHE_BYTES = 128 * 1024 * 1024  # bodies kept from a crawl for open(); beyond it, open() downloads again


class WebConnector(Connector):
    """Crawls one site and yields each page as a ``Source`` (``path``: the URL's path and query
    relative to the site; ``uri``: the URL; ``id``: a digest of the root and the URL)."""

    class Config(PluginConfig):
        """``[connectors.NAME]`` with ``use = "web"``."""

        url: str | None = Field(None, description="the start page: its links on the same site are followed")
        sitemap: str | None = Field(None, description="a sitemap.xml (or sitemap index) listing the pages")
        max_pages: int = Field(1000, ge=1, description="pages requested per crawl at most")
        max_depth: int = Field(5, ge=0, description="links followed from the start page and the sitemap's pages")
        include: list[str] = Field(default_factory=lambda: ["**"], description="globs on the URL path (no leading /)")
        exclude: list[str] = Field(default_factory=list, description="globs on the URL path (no leading /)")
        rate: float = Field(2.0, gt=0, description="requests per second at most (robots.txt may ask for fewer)")
        timeout_s: float = Field(30.0, gt=0, description="seconds a page may take, all of it")
        max_page_mb: float = Field(10.0, gt=0, description="a larger page is not downloaded past this and is reported")
        user_agent: str = Field("inhouse-web/0.1", min_length=1, description="sent, and matched against robots.txt")
        acl: Principals = Field(default_factory=list, description="who may read every page (empty: [[access.rules]])")
        label: Label | None = Field(None, description="sensitivity label of every page (else rules, default)")

        @field_validator("url", "sitemap")
        @classmethod
        def _web_address(cls, value: str | None) -> str | None:
            try:
                return None if value is None else canonical(value)
            except ValueError as exc:
                raise ValueError(f"{exc}: give an absolute http:// or https:// address") from None

        @model_validator(mode="after")
        def _one_site(self) -> WebConnector.Config:
            if self.url is None and self.sitemap is None:
                raise ValueError("give `url` (a start page), `sitemap` (a sitemap.xml URL) or both")
            if self.url and self.sitemap and origin(self.url) != origin(self.sitemap):
                raise ValueError(f"`url` and `sitemap` must be on one site: {origin(self.url)} is not {origin(self.sitemap)}")
            return self

    def __init__(self, config: PluginConfig | None = None, **kwargs: object):
        super().__init__(config, **kwargs)  # type: ignore[arg-type]
        self.site = origin(self.root)
        host = urlsplit(self.site).hostname or ""
        outside = f"pages are downloaded from {host} (requests carry URLs only, never documents)"
        self.residency, self.residency_note = host_residency(host, outside)
        self.skipped: list[tuple[str, str]] = []  # (url, reason) the last crawl did not request
        self._client: Client | None = None
        self._state: CrawlState | None = None
        self._gate: Gate | None = None
        self._bodies: dict[str, bytes] = {}

    @property
    def root(self) -> str:
        """The start page (else the sitemap): two connectors on one site keep apart."""
        return self.config.url or self.config.sitemap

    @property
    def client(self) -> Client:
        """The HTTP client (its ``requests`` and ``bodies`` count what was sent and downloaded)."""
        if self._client is None:
            c = self.config
            self._client = Client(rate=c.rate, timeout_s=c.timeout_s, max_page_mb=c.max_page_mb, user_agent=c.user_agent)
        return self._client

    def check(self) -> str:
        """The site's robots.txt must be readable (or absent)."""
        self._read_robots(CrawlState(None, self.root))
        return f"{self.root} (robots.txt read)"

    def fetch(self) -> Iterator[Source]:
        """Crawl the site and yield every page; one that failed comes with ``error`` set. Raises
        ``IngestError`` when the site cannot be crawled at all (robots.txt, the sitemap or the
        start page unreadable), before yielding anything."""
        state = self._state = CrawlState(self.home, self.root)
        c = self.config
        self._gate = self._read_robots(state)
        crawl = Crawl(
            self.client, state, self._gate, start=c.url, sitemap=c.sitemap, max_pages=c.max_pages, max_depth=c.max_depth
        )
        self._bodies.clear()
        cached = 0
        try:
            for page in crawl.pages():
                if page.body is not None and cached + len(page.body) <= CACHE_BYTES:
                    self._bodies[page.url] = page.body
                    cached += len(page.body)
                yield self._source(page)
        finally:
            self.skipped = crawl.skipped
            state.save()

    def open(self, path: str) -> bytes:
        """The original bytes of the page at ``path``. Refused (``IngestError``): anything the
        last crawl did not yield as a page (another site, ``file://``, a path that climbs, a
        page robots.txt or the globs now exclude); a failure that may pass (timeout, 429, 5xx)
        is ``retryable``."""
        url = self._known(path)
        body = self._bodies.pop(url, None)
        if body is not None:
            return body
        if self._gate is None:
            self._gate = self._read_robots(self._current_state())
        reply = self.client.get(url, refuse=self._gate.refuse)
        if reply.error:
            raise IngestError(reply.error, retryable=reply.transient)
        if not 200 <= reply.status < 300:
            raise IngestError(f"HTTP {reply.status} without a page")
        return reply.body

    def close(self) -> None:
        """Close the HTTP connections and drop the pages kept for ``open``."""
        self._bodies.clear()
        if self._client is not None:
            self._client.close()
            self._client = None

    def _known(self, path: str) -> str:
        """The URL of ``path`` when the last crawl yielded it as a page; else ``IngestError``."""
        url = page_url(self.site, path) if isinstance(path, str) and not path.startswith("/") else ""
        try:
            ok = bool(url) and canonical(url) == url and page_path(url) == path and origin(url) == self.site
            ok = ok and self._current_state().yielded(url)
        except ValueError:
            ok = False
        if not ok:
            raise IngestError(f"{path!r} is not a page this connector found on {self.site}")
        return url

    def _current_state(self) -> CrawlState:
        if self._state is None:
            self._state = CrawlState(self.home, self.root)
        return self._state

    def _read_robots(self, state: CrawlState) -> Gate:
        c = self.config
        return Gate.load(self.site, self.client, state, c.user_agent, c.include, c.exclude)

    def _source(self, page: Page) -> Source:
        root = str(self.root)
        common = dict(
            id=hashlib.sha1(f"{root}\0{page.url}".encode()).hexdigest()[:20],
            path=page_path(page.url),
            root=root,
            uri=page.url,
            acl=tuple(self.config.acl) or None,
            sensitivity=self.config.label,
        )
        if page.error:
            return Source(modified=0.0, hash="", size=0, error=page.error, **common)
        media_type = WEB_PAGE if is_html(page.media_type) else page.media_type.split(";", 1)[0].strip()
        return Source(modified=page.modified, hash=page.hash, size=page.size, media_type=media_type, **common)

