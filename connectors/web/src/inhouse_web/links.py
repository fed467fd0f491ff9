"""What a crawl reads from a page besides its text: the links of an HTML page (``<a>`` and
``<area>``, resolved against ``<base>``; ``rel="nofollow"`` skipped), its robots ``<meta>``
(``noindex``, ``nofollow``), and the page URLs a sitemap (or sitemap index) lists."""

from __future__ import annotations

import codecs
import gzip
import io
import zlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin

from lxml import etree

from inhouse.errors import IngestError
from inhouse_web.urls import canonical

HTML_TYPES = {"text/html", "application/xhtml+xml"}
#: The media type the connector gives HTML pages: their parser (``inhouse_web.parser``) removes boilerplate.
WEB_PAGE = "application/vnd.inhouse.web-page+html"


@dataclass
class PageLinks:
    """The canonical http(s) URLs a page links to, and what its robots ``<meta>`` says."""

    urls: list[str] = field(default_factory=list)
    noindex: bool = False
    nofollow: bool = False


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []
        self.base: str | None = None
        self.robots: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Collect link targets, the first ``<base href>`` and robots ``<meta>`` tokens."""
        a = {k: v or "" for k, v in attrs}
        if tag in ("a", "area") and a.get("href") and "nofollow" not in a.get("rel", "").lower().split():
            self.hrefs.append(a["href"])
        elif tag == "base" and a.get("href") and self.base is None:
            self.base = a["href"]
        elif tag == "meta" and a.get("name", "").lower() == "robots":
            self.robots |= {token.strip().lower() for token in a.get("content", "").split(",")}


def read_links(body: bytes, url: str, charset: str | None) -> PageLinks:
    """The links of the HTML page ``body`` fetched from ``url`` (canonical, deduplicated, in order)."""
    reader = _Reader()
    reader.feed(body.decode(_codec(charset), errors="replace"))
    reader.close()
    base = urljoin(url, reader.base) if reader.base else url
    urls: dict[str, None] = {}
    for href in reader.hrefs:
        try:
            urls[canonical(urljoin(base, href.strip()))] = None
        except ValueError:  # mailto:, javascript:, a bad port...
            continue
    robots = reader.robots
    return PageLinks(
        list(urls), noindex="noindex" in robots or "none" in robots, nofollow="nofollow" in robots or "none" in robots
    )


def is_html(media_type: str) -> bool:
    """Whether a ``Content-Type`` value is an HTML page."""
    return media_type.split(";", 1)[0].strip().lower() in HTML_TYPES


_XML = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def read_sitemap(body: bytes, url: str, max_bytes: int) -> tuple[list[str], bool]:
    """The ``<loc>`` URLs of a sitemap (gzip-compressed or not), canonical, and whether it is a
    sitemap index (its URLs are sitemaps). Raises ``IngestError`` for one that is not XML."""
    if body[:2] == b"\x1f\x8b":
        try:
            body = gzip.GzipFile(fileobj=io.BytesIO(body)).read(max_bytes + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise IngestError(f"sitemap {url} is not valid gzip: {exc}") from None
        if len(body) > max_bytes:
            raise IngestError(f"sitemap {url} is over max_page_mb once decompressed")
    try:
        root = etree.fromstring(body, _XML)
    except etree.XMLSyntaxError as exc:
        raise IngestError(f"sitemap {url} is not XML: {exc}") from None
    index = etree.QName(root).localname == "sitemapindex"
    found: dict[str, None] = {}
    for loc in root.iter("{*}loc"):
        try:
            found[canonical(urljoin(url, (loc.text or "").strip()))] = None
        except ValueError:
            continue
    return list(found), index


def _codec(charset: str | None) -> str:
    try:
        return "utf-8" if not charset else codecs.lookup(charset).name
    except LookupError:
        return "utf-8"
