"""A generated intranet site served on 127.0.0.1 by ``http.server`` in a thread, for the web
connector's tests: every page wrapped in the boilerplate real sites repeat (header, nav,
cookie banner, sidebar, footer), a sitemap, a robots.txt that disallows ``/private/``,
redirects within the site and off it, a redirect loop, a link loop, a 404, a 500, a slow page,
a huge page, ETags with 304s, and a page with only ``Last-Modified``. Every request is logged
(method, path, status, body bytes sent, time received)."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

BOILERPLATE = ("We use cookies", "Trending now", "All rights reserved", "Subscribe to the Acme newsletter")

FACTS = {
    "/guide/leave": ("Leave policy", "Employees get 27 days of paid annual leave per year, plus public holidays."),
    "/guide/expenses": ("Expenses", "Expense claims are reimbursed within 30 days of approval by your manager."),
    "/guide/security": ("Security", "Laptops must use full-disk encryption and lock after 5 minutes of inactivity."),
    "/news": ("News", "The new office in Lisbon opens on 3 March with room for 120 people."),
    "/cycle-1": ("Cycle one", "Cycle one links to cycle two, which links back to cycle one."),
    "/cycle-2": ("Cycle two", "Cycle two links back to cycle one: a crawler must not loop."),
    "/orphan": ("Orphan", "This page is listed only in the sitemap: the parking garage closes at 22:00."),
    "/private/salaries": ("Salaries", "Secret salary bands that robots.txt disallows."),
}
LINKS = [
    "/", "/guide/leave", "/guide/leave#top", "/guide/expenses/", "/news", "/private/salaries",
    "/old-leave", "/elsewhere", "/loop-a", "/missing", "/broken", "/slow", "/huge", "/huge-stream", "/cycle-1",
    "/search?b=2&a=1", "/search?a=1&b=2", "https://example.org/partner", "mailto:hr@acme.example",
]  # fmt: skip
# Links of one page only: a link loop, and the only link to the security guide (on the home page).
EXTRA = {"/cycle-1": ["/cycle-2"], "/cycle-2": ["/cycle-1"], "/": ["/guide/security"]}
REDIRECTS = {
    "/old-leave": "/guide/leave",
    "/elsewhere": "https://example.org/landing",
    "/loop-a": "/loop-b",
    "/loop-b": "/loop-a",
}
FILLER = (
    "This page belongs to the Acme handbook, which the people team keeps up to date. "
    "Ask your manager or the people team when something here is unclear or out of date."
)


def page(title: str, fact: str, links: list[str]) -> str:
    """One page of the site: the content (title, the fact, filler) in the site's boilerplate."""
    nav = " ".join(f'<a href="{href}">{href.strip("/") or "Home"}</a>' for href in links)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{title} | Acme Intranet</title></head><body>
<header><div class="logo">Acme Intranet</div><nav>{nav}</nav></header>
<div class="cookie-banner"><p>We use cookies to improve your experience. Accept all cookies or manage your settings.</p></div>
<div class="sidebar"><h3>Trending now</h3><ul><li><a href="/news">Canteen menu this week</a></li>
<li><a href="/news">Summer party photos</a></li><li><a href="/news">Subscribe to the Acme newsletter</a></li></ul></div>
<main><article><h1>{title}</h1><p>{fact} {FILLER}</p><h2>Details</h2><p>{FILLER} {fact}</p></article></main>
<footer><p>Copyright 2024 Acme Corp. All rights reserved.</p><a href="/">Home</a></footer>
</body></html>"""


@dataclass
class Site:
    """The site's content (tests change it between crawls) and its request log."""

    texts: dict[str, tuple[str, str]] = field(default_factory=lambda: dict(FACTS))
    links: list[str] = field(default_factory=lambda: list(LINKS))
    extra: dict[str, list[str]] = field(default_factory=lambda: {path: list(links) for path, links in EXTRA.items()})
    robots: str = "User-agent: *\nDisallow: /private/\n"
    slow_s: float = 1.0
    huge_bytes: int = 300_000
    last_modified_only: set[str] = field(default_factory=lambda: {"/news"})
    log: list[tuple[str, str, int, int, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def html(self, path: str) -> str | None:
        if path == "/":
            return page("Welcome", "Welcome to the Acme intranet: start with the handbook guides.", self.links + self.extra["/"])
        if path == "/search":
            return page("Search", "Search results for the handbook.", self.links)
        if path in self.texts:
            return page(*self.texts[path], self.links + self.extra.get(path, []))
        return None

    def sitemap(self, base: str) -> str:
        urls = "".join(
            f"<url><loc>{base}{p}</loc></url>" for p in ["/guide/leave", "/orphan", "/private/salaries", "/guide/leave#x"]
        )
        return (
            f'<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
        )

    def requested(self, since: int = 0) -> list[str]:
        """The paths (with query) requested since log entry ``since``."""
        with self.lock:
            return [entry[1] for entry in self.log[since:]]


class _Handler(BaseHTTPRequestHandler):
    site: Site
    base: str

    def log_message(self, format: str, *args: object) -> None:  # the test log is self.site.log
        return

    def do_GET(self) -> None:
        self.received = time.monotonic()
        path = urlsplit(self.path).path
        if path == "/robots.txt":
            return self._send(200, self.site.robots.encode(), "text/plain", etag=True)
        if path == "/sitemap.xml":
            return self._send(200, self.site.sitemap(self.base).encode(), "application/xml", etag=True)
        if path in REDIRECTS:
            target = REDIRECTS[path]
            return self._send(301, b"", "text/plain", headers={"Location": target if "://" in target else self.base + target})
        if path == "/broken":
            return self._send(500, b"<h1>Internal error</h1>", "text/html")
        if path == "/slow":
            time.sleep(self.site.slow_s)
            return self._send(200, page("Slow", "This page is too slow.", []).encode(), "text/html", etag=True)
        if path in ("/huge", "/huge-stream"):  # the second without Content-Length: the client must cut it
            body = b"<html><body><p>" + b"x" * self.site.huge_bytes + b"</p></body></html>"
            return self._send(200, body, "text/html", length=path == "/huge")
        html = self.site.html(path)
        if html is None:
            return self._send(404, b"<h1>Not found</h1>", "text/html")
        self._send(200, html.encode(), "text/html; charset=utf-8", etag=path not in self.site.last_modified_only)

    def _send(
        self,
        status: int,
        body: bytes,
        kind: str,
        *,
        etag: bool = False,
        headers: dict[str, str] | None = None,
        length: bool = True,
    ) -> None:
        headers = dict(headers or {})
        digest = hashlib.sha1(body).hexdigest()[:16]
        if status == 200 and etag:
            headers["ETag"] = f'"{digest}"'
            fresh = self.headers.get("If-None-Match") == headers["ETag"]
        elif status == 200:
            headers["Last-Modified"] = f"Mon, 0{int(digest, 16) % 9 + 1} Jan 2024 10:00:00 GMT"
            fresh = self.headers.get("If-Modified-Since") == headers["Last-Modified"]
        else:
            fresh = False
        if fresh:
            status, body = 304, b""
        with self.site.lock:  # logged before answering: a client that has its answer finds it in the log
            self.site.log.append(("GET", self.path, status, len(body), self.received))
        self.send_response(status)
        self.send_header("Content-Type", kind)
        if length:
            self.send_header("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (slow, huge pages)
            self.wfile.write(body)


class Server:
    """``Site`` served on 127.0.0.1 on a free port, until :meth:`stop`."""

    def __init__(self, site: Site):
        self.site = site
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        handler = type("Handler", (_Handler,), {"site": site, "base": self.url})
        self.httpd.RequestHandlerClass = handler
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
