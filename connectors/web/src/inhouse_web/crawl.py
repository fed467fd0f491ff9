"""The crawl: breadth first from the start page and the sitemap's pages, same site only,
robots.txt honoured, each page asked for with its validators so an unchanged one is a 304
without a body whose links are those the last crawl saw.

One bad page never stops a crawl: it comes back as a ``Page`` with ``error`` (404, 5xx, a
timeout, a page over the size limit, a redirect off the site or in a loop). A page that fails
for a reason that may pass (a timeout, 429, 5xx) keeps the links it had, so the pages behind
it are still listed (and not removed from the index). What cannot be crawled at all (robots.txt
or the sitemap unreadable, the start page gone) raises ``IngestError`` before anything is
listed, so an outage never empties the index.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.robotparser import RobotFileParser

import httpx

from inhouse.access import matches
from inhouse.errors import IngestError
from inhouse_web.client import Client, Reply
from inhouse_web.links import is_html, read_links, read_sitemap
from inhouse_web.state import CrawlState
from inhouse_web.urls import glob_path, origin

MAX_SITEMAPS = 50


@dataclass
class Page:
    """One page the crawl reached: its canonical URL, hash (ETag, Last-Modified or SHA-256),
    size, time, ``Content-Type`` and, when it was downloaded in this crawl, its ``body``."""

    url: str
    hash: str = ""
    size: int = 0
    modified: float = 0.0
    media_type: str = ""
    error: str = ""
    body: bytes | None = None


class Gate:
    """What the crawl may request on ``site``: robots.txt's rules for ``user_agent`` and the
    ``include``/``exclude`` globs (matched on the URL's path without its leading slash)."""

    def __init__(self, site: str, robots: RobotFileParser, user_agent: str, include: list[str], exclude: list[str]):
        self.site, self.robots, self.user_agent = site, robots, user_agent
        self.url = robots.url  # where robots.txt was read (after redirects)
        self.include, self.exclude = include, exclude

    @classmethod
    def load(cls, site: str, client: Client, state: CrawlState, user_agent: str, include: list[str], exclude: list[str]) -> Gate:
        """Read ``site``'s robots.txt (conditionally) and slow ``client`` to its crawl delay. A
        missing robots.txt (4xx) allows everything; one that cannot be read (5xx, timeout)
        stops the crawl, as RFC 9309 asks."""
        url = f"{site}/robots.txt"
        reply = client.get(url, state.validators)
        known = state.urls.get(reply.url, {})
        if reply.status == 304 and "text" in known:
            text = known["text"]
        elif 200 <= reply.status < 300 and not reply.error:
            text = reply.body.decode("utf-8", errors="replace")
            state.urls[reply.url] = {**_validators(reply), "text": text}
        elif 400 <= reply.status < 500:
            text = ""
        else:
            raise IngestError(
                f"{url}: {reply.error or reply.status}: not crawling while robots.txt cannot be read", retryable=True
            )
        robots = RobotFileParser(reply.url)
        robots.parse(text.splitlines())
        delay = robots.crawl_delay(user_agent)
        rate = robots.request_rate(user_agent)
        client.limiter.slow_to(max(float(delay or 0), rate.seconds / rate.requests if rate and rate.requests else 0.0))
        return cls(site, robots, user_agent, include, exclude)

    def refuse(self, url: str, globs: bool = True) -> str | None:
        """Why ``url`` may not be requested (another site, robots.txt, the globs), or None."""
        if origin(url) != self.site:
            return "on another site"
        if not self.robots.can_fetch(self.user_agent, url):
            return "disallowed by robots.txt"
        if globs and not self.selects(url):
            return "outside include/exclude"
        return None

    def selects(self, url: str) -> bool:
        """Whether the globs select ``url``."""
        path = glob_path(url)
        return matches(path, self.include) and not matches(path, self.exclude)


class Crawl:
    """One crawl of a site from ``start`` (a page) and ``sitemap``; iterate :meth:`pages`.
    ``skipped`` lists ``(url, reason)`` for what it chose not to request."""

    def __init__(
        self,
        client: Client,
        state: CrawlState,
        gate: Gate,
        *,
        start: str | None,
        sitemap: str | None,
        max_pages: int,
        max_depth: int,
    ):
        self.client, self.state, self.gate = client, state, gate
        self.start, self.sitemap = start, sitemap
        self.max_pages, self.max_depth = max_pages, max_depth
        self.skipped: list[tuple[str, str]] = []
        self.complete = False  # every reachable page was visited (not cut by max_pages or a stop)
        self._seen: set[str] = {gate.url}

    def pages(self) -> Iterator[Page]:
        """Every page reached, in breadth-first order; the state forgets URLs not seen once done."""
        seeds = ([self.start] if self.start else []) + (self._sitemap_pages() if self.sitemap else [])
        queue = deque((url, 0) for url in dict.fromkeys(seeds))
        queued = {url for url, _ in queue}
        requested = 0
        while queue:
            url, depth = queue.popleft()
            if url in self._seen:
                continue
            if reason := self.gate.refuse(url, globs=url != self.start):
                self.skipped.append((url, reason))
                continue
            if requested >= self.max_pages:
                return
            requested += 1
            page, links = self._visit(url)
            for link in links if depth < self.max_depth else ():
                if link not in queued and origin(link) == self.gate.site:
                    queued.add(link)
                    queue.append((link, depth + 1))
            if page is not None and (url != self.start or self.gate.selects(page.url)):
                yield page
        self.complete = True
        self.state.urls = {url: entry for url, entry in self.state.urls.items() if url in self._seen}

    def _visit(self, url: str) -> tuple[Page | None, list[str]]:
        reply = self.client.get(url, self.state.validators, self.gate.refuse)
        final = reply.url
        self._seen.add(url)
        if final != url:
            self.state.urls[url] = {"redirect": final}
            if final in self._seen:
                return None, []
            self._seen.add(final)
        known = self.state.urls.get(final, {})
        if reply.error:
            if url == self.start and not (reply.transient and known.get("links")):
                raise IngestError(f"the start page {url} cannot be crawled: {reply.error}", retryable=reply.transient)
            if not reply.transient:
                self.state.urls.pop(final, None)
            return Page(final, error=reply.error), known.get("links", []) if reply.transient else []
        if reply.status == 304 and "hash" in known:
            keep = ("hash", "size", "modified", "media_type")
            return (None if known.get("noindex") else Page(final, **{k: known[k] for k in keep})), known.get("links", [])
        if not 200 <= reply.status < 300:
            self.state.urls.pop(final, None)
            return Page(final, error=f"HTTP {reply.status} without a page"), []
        return self._downloaded(reply)

    def _downloaded(self, reply: Reply) -> tuple[Page | None, list[str]]:
        media_type = reply.headers.get("content-type", "")
        found = read_links(reply.body, reply.url, _charset(reply.headers)) if is_html(media_type) else None
        links = [] if found is None or found.nofollow else found.urls
        noindex = found is not None and found.noindex
        entry: dict[str, Any] = {
            **_validators(reply),
            "hash": _digest(reply),
            "size": len(reply.body),
            "modified": _modified(reply.headers),
            "media_type": media_type,
            "links": links,
            "noindex": noindex,
            "yielded": not noindex,
        }
        self.state.urls[reply.url] = entry
        if noindex:
            return None, links
        return Page(reply.url, entry["hash"], entry["size"], entry["modified"], media_type, body=reply.body), links

    def _sitemap_pages(self) -> list[str]:
        """The pages the sitemap lists (following a sitemap index), on this site only."""
        assert self.sitemap is not None
        pending, done, found = [self.sitemap], set(), {}
        while pending and len(done) < MAX_SITEMAPS:
            url = pending.pop(0)
            done.add(url)
            if reason := self.gate.refuse(url, globs=False):
                self.skipped.append((url, reason))
                continue
            reply = self.client.get(url, self.state.validators, lambda target: self.gate.refuse(target, globs=False))
            known = self.state.urls.get(reply.url, {})
            self._seen.add(reply.url)
            if (reply.status == 304 and "urls" in known) or (reply.error and reply.transient and "urls" in known):
                urls, index = known["urls"], known["index"]
            elif reply.error or not 200 <= reply.status < 300:
                if url == self.sitemap:
                    raise IngestError(
                        f"the sitemap {url} cannot be read: {reply.error or reply.status}", retryable=reply.transient
                    )
                self.skipped.append((url, reply.error or f"HTTP {reply.status}"))
                continue
            else:
                urls, index = read_sitemap(reply.body, reply.url, self.client.max_bytes)
                self.state.urls[reply.url] = {**_validators(reply), "urls": urls, "index": index}
            targets = [u for u in urls if origin(u) == self.gate.site]
            if index:
                pending += [u for u in targets if u not in done]
            else:
                found.update(dict.fromkeys(targets))
        return list(found)


def _validators(reply: Reply) -> dict[str, str]:
    return {"etag": reply.headers.get("etag", ""), "last_modified": reply.headers.get("last-modified", "")}


def _digest(reply: Reply) -> str:
    """The page's version: its ETag, else its Last-Modified, else the SHA-256 of its bytes."""
    if etag := reply.headers.get("etag"):
        return f"etag:{etag}"
    if modified := reply.headers.get("last-modified"):
        return f"last-modified:{modified}"
    return "sha256:" + hashlib.sha256(reply.body).hexdigest()


def _modified(headers: httpx.Headers) -> float:
    try:
        return parsedate_to_datetime(headers["last-modified"]).timestamp()
    except (KeyError, TypeError, ValueError, IndexError):
        return time.time()


def _charset(headers: httpx.Headers) -> str | None:
    for param in headers.get("content-type", "").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip('"') or None
    return None
