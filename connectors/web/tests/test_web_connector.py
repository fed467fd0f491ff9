"""The web connector against the generated site (``web_site``): the conformance kit, the
crawl's rules (same site, robots.txt, redirects, loops, bad pages), conditional re-crawls,
politeness and hostile ``open`` paths."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from pydantic import ValidationError
from web_site import BOILERPLATE, LINKS, Server, page

from inhouse.errors import IngestError
from inhouse.parsing import parser_for
from inhouse.testing import ConnectorTests
from inhouse_web.connector import WebConnector
from inhouse_web.links import WEB_PAGE
from inhouse_web.urls import canonical, page_path, page_url

FAST = {"rate": 200.0, "timeout_s": 2.0, "max_page_mb": 0.1}
SLOW = ["slow"]  # the slow page (3 s) is left out of the tests that do not time it out


def make(server: Server, home: Path | None, **options: object) -> WebConnector:
    spec = {"url": server.url + "/", **FAST, "exclude": SLOW, **options}
    return WebConnector(WebConnector.Config.model_validate(spec), name="site", home=home)


def statuses(server: Server, since: int = 0) -> dict[str, int]:
    """The status each path got in the requests logged since ``since`` (the last one wins)."""
    return {path: status for _, path, status, _, _ in server.site.log[since:]}


class TestWebConformance(ConnectorTests):
    @pytest.fixture
    def connector(self, site: Server, tmp_path: Path) -> WebConnector:
        return make(site, tmp_path / "home", exclude=["slow", "huge*"])


def test_crawls_the_site_once_per_page_and_reports_each_bad_page(site: Server, tmp_path: Path) -> None:
    """Links are followed on the site only, each page once (fragments dropped, query sorted,
    trailing slash, a link loop, a redirect to a page already seen); each bad page is one
    source with its reason, and the crawl goes on past it."""
    sources = {s.path: s for s in make(site, tmp_path, exclude=[], timeout_s=1.0).fetch()}
    pages = {p for p, s in sources.items() if not s.error}
    assert pages == {"./", "guide/leave", "guide/expenses", "guide/security", "news", "cycle-1", "cycle-2", "search?a=1&b=2"}
    errors = {p: s.error for p, s in sources.items() if s.error}
    assert set(errors) == {"elsewhere", "loop-a", "missing", "broken", "slow", "huge", "huge-stream"}
    assert errors["elsewhere"] == "redirects off the site to https://example.org/landing: not followed"
    assert errors["loop-a"].startswith("redirect loop:") and errors["loop-a"].endswith("/loop-b -> " + site.url + "/loop-a")
    assert errors["missing"] == "HTTP 404 Not Found" and errors["broken"] == "HTTP 500 Internal Server Error"
    assert errors["slow"] == "timed out after 1 s (timeout_s)"
    assert errors["huge"] == "page is over 0.1 MB (max_page_mb): not downloaded"
    assert errors["huge-stream"] == "page is over 0.1 MB (max_page_mb): download stopped"
    requested = site.site.requested()
    assert requested.count("/cycle-1") == requested.count("/cycle-2") == 1 and requested.count("/search?a=1&b=2") == 1
    leave = sources["guide/leave"]
    assert leave.uri == site.url + "/guide/leave" and leave.media_type == WEB_PAGE and leave.hash.startswith('etag:"')
    assert sources["news"].hash.startswith("last-modified:")  # no ETag: Last-Modified is the version


def test_robots_txt_disallowed_pages_are_never_requested(site: Server, tmp_path: Path) -> None:
    """``/private/`` is linked from every page and listed in the sitemap, yet never requested."""
    connector = make(site, tmp_path, sitemap=site.url + "/sitemap.xml")
    paths = {s.path for s in connector.fetch()}
    assert "orphan" in paths and not any(p.startswith("private") for p in paths)
    assert not [p for p in site.site.requested() if p.startswith("/private")]
    assert (site.url + "/private/salaries", "disallowed by robots.txt") in connector.skipped


def test_sitemap_alone_with_depth_zero_lists_its_pages(site: Server, tmp_path: Path) -> None:
    connector = WebConnector(WebConnector.Config(sitemap=site.url + "/sitemap.xml", max_depth=0, **FAST), home=tmp_path)
    assert [s.path for s in connector.fetch()] == ["guide/leave", "orphan"]
    assert connector.root == site.url + "/sitemap.xml"


def test_a_no_change_recrawl_downloads_no_page_body(site: Server, tmp_path: Path) -> None:
    """The second crawl (a new connector: the state is on disk) asks with If-None-Match /
    If-Modified-Since: every page, robots.txt and the sitemap answer 304, without a body."""
    options = {"sitemap": site.url + "/sitemap.xml", "exclude": ["slow", "huge*"]}
    first = [(s.id, s.hash) for s in make(site, tmp_path, **options).fetch()]
    since = len(site.site.log)
    connector = make(site, tmp_path, **options)
    assert [(s.id, s.hash) for s in connector.fetch()] == first
    log = site.site.log[since:]
    assert [entry for entry in log if entry[2] == 200] == []
    assert sum(size for *_, size, _ in log if _ != 304) < 100  # only the 404 and 500 error pages' bytes
    assert connector.client.bodies == 0 and sum(1 for entry in log if entry[2] == 304) >= 10


def test_a_changed_page_is_downloaded_again_with_a_new_hash(site: Server, tmp_path: Path) -> None:
    before = {s.path: s.hash for s in make(site, tmp_path).fetch()}
    site.site.texts["/guide/leave"] = ("Leave policy", "Employees now get 30 days of paid annual leave.")
    site.site.texts["/news"] = ("News", "The Lisbon office opening moved to 10 March.")
    since = len(site.site.log)
    connector = make(site, tmp_path)
    after = {s.path: s.hash for s in connector.fetch()}
    changed = {p for p in before if before[p] != after.get(p)}
    assert changed == {"guide/leave", "news"}
    assert {(p, s) for _, p, s, _, _ in site.site.log[since:] if s == 200} >= {("/guide/leave", 200), ("/news", 200)}
    since = len(site.site.log)
    assert b"30 days" in connector.open("guide/leave")  # kept from the crawl: not downloaded twice
    assert site.site.requested(since) == []


def test_a_page_no_longer_linked_is_no_longer_listed_nor_opened(site: Server, tmp_path: Path) -> None:
    assert "guide/security" in {s.path for s in make(site, tmp_path).fetch()}
    site.site.extra["/"].remove("/guide/security")
    connector = make(site, tmp_path)
    assert "guide/security" not in {s.path for s in connector.fetch()}
    with pytest.raises(IngestError, match="not a page this connector found"):
        connector.open("guide/security")


def test_requests_keep_to_the_rate(site: Server, tmp_path: Path) -> None:
    """At ``rate = 8`` consecutive requests are at least 1/8 s apart."""
    list(make(site, tmp_path, rate=8.0, max_pages=4).fetch())
    times = [t for *_, t in site.site.log]
    assert len(times) == 5  # robots.txt and four pages
    assert min(b - a for a, b in itertools.pairwise(times)) >= 1 / 8 - 0.02
    assert times[-1] - times[0] >= 4 / 8 - 0.02


def test_robots_txt_crawl_delay_slows_the_crawl(site: Server, tmp_path: Path) -> None:
    site.site.robots = "User-agent: inhouse-web\nCrawl-delay: 1\nDisallow: /private/\n"
    list(make(site, tmp_path, max_pages=2).fetch())
    times = [t for *_, t in site.site.log]
    assert len(times) == 3 and min(b - a for a, b in itertools.pairwise(times)) >= 0.95


def test_open_refuses_hostile_paths_without_a_request(site: Server, tmp_path: Path) -> None:
    connector = make(site, tmp_path)
    list(connector.fetch())
    since = len(site.site.log)
    hostile = [
        "http://example.org/x", "https://example.org/", "file:///etc/passwd", "//example.org/x", "/etc/passwd",
        "private/salaries", "guide/leave/../../private/salaries", "guide/../private/salaries", "../../etc/passwd",
        "guide/leave#x", "guide/leave ", "missing", "elsewhere", "./../../x", "@example.org/", "",
    ]  # fmt: skip
    for path in hostile:
        with pytest.raises(IngestError):
            connector.open(path)
    assert site.site.requested(since) == []
    assert b"27 days" in connector.open("guide/leave")


def test_open_after_a_restart_reads_from_the_site(site: Server, tmp_path: Path) -> None:
    """A new connector (a restarted server) opens the pages the last crawl listed, from the site."""
    list(make(site, tmp_path).fetch())
    again = make(site, tmp_path)
    assert b"Lisbon" in again.open("news") and b"Welcome" in again.open("./")
    with pytest.raises(IngestError):
        make(site, None).open("news")  # no data folder, no crawl: nothing is known


def test_an_unreadable_site_raises_before_listing_anything(site: Server, tmp_path: Path) -> None:
    """robots.txt answering 5xx or the site unreachable stops the crawl (RFC 9309): nothing is
    listed, so the ingester removes nothing."""
    connector = WebConnector(WebConnector.Config(url="http://127.0.0.1:9/", **FAST), home=tmp_path)
    with pytest.raises(IngestError, match=r"robots\.txt") as failure:
        list(connector.fetch())
    assert failure.value.retryable
    with pytest.raises(IngestError, match="start page"):
        list(make(site, tmp_path, url=site.url + "/missing").fetch())


def test_config_errors_name_the_key() -> None:
    for spec, key in [
        ({}, "url"),
        ({"url": "file:///etc/passwd"}, "url"),
        ({"url": "ftp://example.org/"}, "url"),
        ({"url": "http://a.example/", "sitemap": "http://b.example/sitemap.xml"}, "sitemap"),
        ({"url": "http://a.example/", "rate": 0}, "rate"),
        ({"url": "http://a.example/", "acl": ["user:"]}, "acl"),
    ]:
        with pytest.raises(ValidationError, match=key):
            WebConnector.Config.model_validate(spec)


def test_residency_follows_the_site_address() -> None:
    def residency(url: str) -> str:
        return WebConnector(WebConnector.Config(url=url)).residency

    assert residency("http://127.0.0.1:8000/") == residency("http://localhost/") == "local"
    assert residency("http://10.1.2.3/") == "self-hosted" and residency("https://intranet.example/") == "external"


def test_canonical_urls_spell_each_page_once() -> None:
    same = [
        "HTTP://Example.ORG:80/a/./b/../c/?y=2&x=1#top",
        "http://example.org/a/c?x=1&y=2",
        "http://user:pw@example.org/a/c/?x=1&y=2",
    ]
    assert {canonical(u) for u in same} == {"http://example.org/a/c?x=1&y=2"}
    assert canonical("https://example.org:8443") == "https://example.org:8443/"
    assert canonical("http://example.org/a b") == "http://example.org/a%20b"
    for url in ("http://example.org/", "http://example.org/a/c?x=1", "http://example.org/?q=1"):
        assert page_url("http://example.org", page_path(url)) == url
    assert page_path("http://example.org/") == "./" and page_path("http://example.org/?q=1") == "./?q=1"
    for bad in ("file:///etc/passwd", "mailto:a@b", "http:///x", "http://example.org:99999/"):
        with pytest.raises(ValueError):
            canonical(bad)


def test_web_pages_get_the_boilerplate_free_parser_and_other_html_keeps_the_core_one() -> None:
    """The media type the connector sets picks this distribution's parser (trafilatura): the
    main text with its headings, none of the chrome. An HTML file from elsewhere keeps the
    core's parser, which drops only ``<nav>``/``<header>``/``<footer>`` and so keeps the
    cookie banner and the sidebar of such a page."""
    html = page("Leave policy", "Employees get 27 days of paid annual leave per year.", LINKS).encode()
    web = parser_for("guide/leave", WEB_PAGE).parse(html, "guide/leave")
    text = "\n".join(s.text for s in web.sections)
    assert web.title == "Leave policy" and [s.heading for s in web.sections] == ["Leave policy", "Leave policy > Details"]
    assert "27 days" in text and not [b for b in BOILERPLATE if b in text]
    core = parser_for("guide/leave", "text/html").parse(html, "guide/leave")
    assert "We use cookies" in "\n".join(s.text for s in core.sections)
