"""Polite HTTP: one request at a time at the configured rate, redirects followed only within
the site, a time limit and a size limit on every page.

Every request waits its turn (``Limiter``: ``rate`` requests per second, slowed further by
robots.txt's ``Crawl-delay``/``Request-rate`` and by a server's ``Retry-After``). A response
is read in pieces and abandoned as soon as it passes ``max_page_mb`` or its deadline, so a
huge or slow page costs at most that. Redirects are followed by hand: a target on another
site, a loop or a target the crawl may not request ends the chain with the reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin

import httpx

from inhouse_web.urls import canonical, origin

REDIRECTS = {301, 302, 303, 307, 308}
MAX_REDIRECTS = 10
MAX_RETRY_AFTER_S = 60.0


@dataclass
class Reply:
    """What one GET (with its redirects) came to: the canonical URL it ended at, the status
    (0 when no response came), the headers and body, or the reason it failed."""

    url: str
    status: int = 0
    headers: httpx.Headers = field(default_factory=httpx.Headers)
    body: bytes = b""
    error: str = ""
    transient: bool = False  # a failure that may pass (timeout, 429, 5xx, connection)


class Limiter:
    """Spaces requests at least ``interval`` seconds apart (thread-safe)."""

    def __init__(self, rate: float):
        self.interval = 1.0 / rate
        self._last = self._next = 0.0
        self._lock = threading.Lock()

    def slow_to(self, interval: float) -> None:
        """Never go faster than one request per ``interval`` seconds (robots.txt's crawl delay),
        counting from the last request sent."""
        with self._lock:
            self.interval = max(self.interval, interval)
            self._next = max(self._next, self._last + self.interval)

    def hold(self, seconds: float) -> None:
        """Send nothing for ``seconds`` (a server's ``Retry-After``)."""
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds)

    def wait(self) -> None:
        """Block until the next request may go."""
        with self._lock:
            now = time.monotonic()
            start = self._last = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            time.sleep(start - now)


class Client:
    """GETs within one site (``origin``), politely; counts what it sent."""

    def __init__(self, *, rate: float, timeout_s: float, max_page_mb: float, user_agent: str):
        self.limiter = Limiter(rate)
        self.timeout_s = timeout_s
        self.max_page_mb = max_page_mb
        self.max_bytes = int(max_page_mb * 1048576)
        self.requests = 0  # requests sent
        self.bodies = 0  # responses whose body was downloaded (2xx)
        self._http = httpx.Client(timeout=timeout_s, follow_redirects=False, headers={"User-Agent": user_agent})

    def get(
        self,
        url: str,
        validators: Callable[[str], dict[str, str]] = lambda url: {},
        refuse: Callable[[str], str | None] = lambda url: None,
    ) -> Reply:
        """GET canonical ``url``, following redirects within its site. ``validators(url)`` gives
        the conditional headers for a URL (``If-None-Match``...); ``refuse(url)`` the reason not
        to request a redirect's target (robots.txt, the globs), or None."""
        chain = [url]  # a failed chain is reported under ``url``, the page that was asked for
        while True:
            reply = self._once(chain[-1], validators(chain[-1]))
            location = reply.headers.get("location")
            if reply.status not in REDIRECTS or not location:
                return reply
            try:
                target = canonical(urljoin(chain[-1], location))
            except ValueError:
                return Reply(url, reply.status, error=f"redirects to {location!r}, not a web page: not followed")
            if origin(target) != origin(url):
                return Reply(url, reply.status, error=f"redirects off the site to {target}: not followed")
            if target in chain:
                return Reply(url, reply.status, error="redirect loop: " + " -> ".join([*chain, target]))
            if len(chain) > MAX_REDIRECTS:
                return Reply(url, reply.status, error=f"more than {MAX_REDIRECTS} redirects")
            if reason := refuse(target):
                return Reply(url, reply.status, error=f"redirects to {target}: {reason}")
            chain.append(target)

    def _once(self, url: str, headers: dict[str, str]) -> Reply:
        self.limiter.wait()
        self.requests += 1
        deadline = time.monotonic() + self.timeout_s
        try:
            with self._http.stream("GET", url, headers=headers) as response:
                status, got = response.status_code, response.headers
                if status in (429, 503) and (delay := _retry_after(got)) is not None:
                    self.limiter.hold(min(delay, MAX_RETRY_AFTER_S))
                if not 200 <= status < 300:
                    return Reply(
                        url, status, got, error="" if status < 400 else _status_error(response), transient=_transient(status)
                    )
                self.bodies += 1
                return self._read(url, response, deadline)
        except httpx.TimeoutException:
            return Reply(url, error=f"timed out after {self.timeout_s:g} s (timeout_s)", transient=True)
        except httpx.HTTPError as exc:
            return Reply(url, error=f"unreachable: {exc}", transient=True)

    def _read(self, url: str, response: httpx.Response, deadline: float) -> Reply:
        """The body, stopped at ``max_bytes`` (after decompression) or at the deadline."""
        limit_mb = self.max_page_mb
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return Reply(
                url, response.status_code, response.headers, error=f"page is over {limit_mb:g} MB (max_page_mb): not downloaded"
            )
        pieces, size = [], 0
        for piece in response.iter_bytes():
            size += len(piece)
            if size > self.max_bytes:
                return Reply(
                    url,
                    response.status_code,
                    response.headers,
                    error=f"page is over {limit_mb:g} MB (max_page_mb): download stopped",
                )
            if time.monotonic() > deadline:
                return Reply(url, error=f"timed out after {self.timeout_s:g} s (timeout_s)", transient=True)
            pieces.append(piece)
        return Reply(url, response.status_code, response.headers, b"".join(pieces))

    def close(self) -> None:
        """Close the connections."""
        self._http.close()


def _status_error(response: httpx.Response) -> str:
    return f"HTTP {response.status_code} {response.reason_phrase}".rstrip()


def _transient(status: int) -> bool:
    return status in (408, 425, 429) or status >= 500


def _retry_after(headers: httpx.Headers) -> float | None:
    value = headers.get("retry-after", "").strip()
    return float(value) if value.isdigit() else None
