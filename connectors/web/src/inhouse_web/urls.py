"""Canonical URLs: one spelling per page, so a crawl never visits a page twice.

The fragment and any user name or password are dropped, the scheme and host lower-cased, a
default port removed, ``.`` and ``..`` segments resolved, a trailing slash removed (except
for the site's root), unsafe characters percent-encoded and query parameters sorted (their
encoding kept as written). A page's ``Source.path`` is its canonical path and query without
the leading slash (the root page is ``./``): relative to the site, as the kit requires.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
ROOT_PAGE = "./"
_SAFE = "/%:@!$&'()*+,;=-._~"


def canonical(url: str) -> str:
    """The canonical spelling of absolute ``url``; raises ``ValueError`` for anything that is not
    an http(s) URL with a host (or has a bad port)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in DEFAULT_PORTS or not host:
        raise ValueError(f"not an http(s) URL: {url!r}")
    port = parts.port
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    path = quote(_without_dots(parts.path or "/"), safe=_SAFE)
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    query = "&".join(sorted(p for p in quote(parts.query, safe=_SAFE + "?").split("&") if p))
    return urlunsplit((scheme, netloc, path, query, ""))


def origin(url: str) -> str:
    """``scheme://host[:port]`` of a canonical URL: what "the same site" means."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def page_path(url: str) -> str:
    """``Source.path`` of canonical ``url``: its path and query relative to the site's root."""
    parts = urlsplit(url)
    rest = parts.path[1:] + (f"?{parts.query}" if parts.query else "")
    return rest if rest and not rest.startswith("?") else ROOT_PAGE + rest


def glob_path(url: str) -> str:
    """What ``include``/``exclude`` globs match: the URL's path without the leading slash or query."""
    return urlsplit(url).path[1:]


def page_url(site: str, path: str) -> str:
    """The URL of ``path`` (as :func:`page_path` writes it) on ``site`` (an origin)."""
    return f"{site}/{path.removeprefix(ROOT_PAGE)}"


def _without_dots(path: str) -> str:
    """``path`` with ``.`` and ``..`` segments resolved (RFC 3986, 5.2.4); never above the root."""
    out: list[str] = []
    segments = path.split("/")
    for segment in segments[1:]:
        if segment == "..":
            if out:
                out.pop()
        elif segment != ".":
            out.append(segment)
    if segments[-1] in (".", ".."):
        out.append("")
    return "/" + "/".join(out)
