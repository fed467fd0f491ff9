"""Microsoft Graph over HTTP: an app token (client credentials), requests retried when Graph
throttles, paging, and content downloads that follow redirects only to allowed hosts.

- The token comes from ``POST {authority}/{tenant}/oauth2/v2.0/token`` (``grant_type =
  client_credentials``, scope ``{graph_url}/.default``), is reused until a minute before it
  expires, and is fetched again once when Graph answers 401.
- 429, 502, 503 and 504 (and dropped connections, timeouts) are retried up to
  ``max_attempts`` in all, waiting what ``Retry-After`` says (at most ``max_retry_wait_s``),
  else an exponential backoff.
- The bearer token is only ever sent to ``graph_url``'s own scheme, host and port: a
  ``@odata.nextLink`` elsewhere is refused. A download's redirect (Graph answers
  ``/content`` with 302 to a pre-authenticated URL) is followed without the token, and only
  to ``graph_url``'s host or one matching ``download_hosts``, over https (or http when
  ``graph_url`` itself is http, a local test server).
"""

from __future__ import annotations

import fnmatch
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from inhouse.errors import IngestError
from inhouse.providerkit import LazyClient

RETRIED = frozenset({429, 502, 503, 504})
MAX_REDIRECTS = 3


class Gone(IngestError):
    """Graph answered 410: a delta link expired; the caller starts a fresh enumeration."""


class Graph:
    """A Microsoft Graph client for one app registration (thread-safe: permission reads run in a pool)."""

    def __init__(
        self,
        *,
        graph_url: str,
        authority: str,
        tenant: str,
        client_id: str,
        client_secret: str,
        download_hosts: list[str],
        timeout_s: float,
        max_attempts: int,
        max_retry_wait_s: float,
    ):
        self.graph_url = graph_url.rstrip("/")
        self.token_url = f"{authority.rstrip('/')}/{tenant}/oauth2/v2.0/token"
        self.client_id, self._secret = client_id, client_secret
        self.download_hosts = [h.lower() for h in download_hosts]
        self.max_attempts, self.max_retry_wait_s = max_attempts, max_retry_wait_s
        self._client = LazyClient(lambda: httpx.Client(timeout=timeout_s, follow_redirects=False))
        self._token: tuple[str, float] | None = None  # (access token, expiry on the monotonic clock)
        self._token_lock = threading.Lock()

    def close(self) -> None:
        """Close the HTTP connections. Safe to call twice."""
        self._client.close()

    # requests ----------------------------------------------------------------------------------

    def get_json(self, url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        """``GET`` a Graph URL (absolute, or a path such as ``/v1.0/sites/...``) and its JSON body."""
        response = self._authorized(url, headers or {})
        if response.status_code == 410:
            raise Gone(_describe(response, url))
        if response.status_code != 200:
            raise _error(response, url)
        try:
            body = response.json()
        except ValueError:
            raise IngestError(f"Graph GET {_short(url)}: the answer is not JSON") from None
        if not isinstance(body, dict):
            raise IngestError(f"Graph GET {_short(url)}: the answer is not a JSON object")
        return body

    def pages(self, url: str, headers: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
        """Every page of a collection, following ``@odata.nextLink``; the last page holds the
        ``@odata.deltaLink`` of a delta query."""
        while url:
            page = self.get_json(url, headers)
            yield page
            url = page.get("@odata.nextLink") or ""

    def download(self, path: str) -> bytes:
        """The bytes at a Graph ``.../content`` path: Graph's own answer, or the pre-authenticated
        URL it redirects to (checked, fetched without the token)."""
        url = self._absolute(path)
        response = self._authorized(url, {})
        for _ in range(MAX_REDIRECTS):
            if response.status_code not in (301, 302, 303, 307, 308):
                break
            url = self._redirect_target(url, response.headers.get("Location", ""))
            response = self._send(lambda target=url: self._client.get().get(target), url)
        if response.status_code != 200:
            raise _error(response, path)
        return response.content

    # plumbing ----------------------------------------------------------------------------------

    def _authorized(self, url: str, headers: dict[str, str]) -> httpx.Response:
        """A GET with the bearer token, fetched again once if Graph says 401."""
        url = self._absolute(url)
        for fresh in (False, True):
            token = self._bearer(force=fresh)
            every = {**headers, "Authorization": f"Bearer {token}", "Accept": "application/json"}
            response = self._send(lambda every=every: self._client.get().get(url, headers=every), url)
            if response.status_code != 401:
                return response
        return response

    def _send(self, call: Any, url: str) -> httpx.Response:
        """``call()`` retried on throttling, 5xx and connection failures."""
        for attempt in range(1, self.max_attempts + 1):
            last = attempt == self.max_attempts
            try:
                response = call()
            except httpx.TransportError as exc:
                if last:
                    raise IngestError(f"Graph {_short(url)}: {type(exc).__name__}: {exc}", retryable=True) from exc
                time.sleep(min(self.max_retry_wait_s, 0.5 * 2 ** (attempt - 1)))
                continue
            if response.status_code not in RETRIED or last:
                return response
            time.sleep(self._wait(response, attempt))
        raise AssertionError("unreachable: the last attempt returns")

    def _wait(self, response: httpx.Response, attempt: int) -> float:
        """Seconds to wait before retrying: ``Retry-After`` (seconds), else exponential; bounded."""
        try:
            after = float(response.headers.get("Retry-After", ""))
        except ValueError:
            after = 0.5 * 2 ** (attempt - 1)
        return max(0.0, min(after, self.max_retry_wait_s))

    def _bearer(self, force: bool) -> str:
        with self._token_lock:
            if force or self._token is None or time.monotonic() >= self._token[1]:
                self._token = self._sign_in()
            return self._token[0]

    def _sign_in(self) -> tuple[str, float]:
        form = {
            "client_id": self.client_id,
            "client_secret": self._secret,
            "scope": f"{self.graph_url}/.default",
            "grant_type": "client_credentials",
        }
        response = self._send(lambda: self._client.get().post(self.token_url, data=form), self.token_url)
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not isinstance(body, dict) or not body.get("access_token"):
            code = body.get("error", response.status_code) if isinstance(body, dict) else response.status_code
            raise IngestError(
                f"signing in to Microsoft Entra ID failed ({code}): check tenant, client_id and client_secret "
                "(the app registration needs the Sites.Read.All or Files.Read.All application permission)"
            )
        expires_in = float(body.get("expires_in", 3600))
        return str(body["access_token"]), time.monotonic() + max(0.0, expires_in - 60)

    def _absolute(self, url: str) -> str:
        """``url`` made absolute on ``graph_url``; refused when it points anywhere else (the token
        goes with it)."""
        full = url if url.startswith(("http://", "https://")) else self.graph_url + url
        if _origin(full) != _origin(self.graph_url):
            raise IngestError(f"Graph sent a link to {_origin(full)}, not {self.graph_url}: refused")
        return full

    def _redirect_target(self, current: str, location: str) -> str:
        target = urljoin(current, location)
        parts, graph = urlsplit(target), urlsplit(self.graph_url)
        host = (parts.hostname or "").lower()
        scheme_ok = parts.scheme == "https" or (parts.scheme == "http" and graph.scheme == "http")
        host_ok = host == (graph.hostname or "").lower() or any(fnmatch.fnmatchcase(host, p) for p in self.download_hosts)
        if not (location and scheme_ok and host_ok):
            raise IngestError(
                f"the download redirected to {parts.scheme}://{host or '?'}, which is not an allowed download host: "
                "refused (add it to download_hosts if it is yours)"
            )
        return target


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def _short(url: str) -> str:
    """A URL without its query string (delta tokens, signatures) for messages."""
    return url.split("?", 1)[0]


def _describe(response: httpx.Response, url: str) -> str:
    try:
        error = response.json().get("error", {})
        detail = f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")
    except (ValueError, AttributeError):
        detail = ""
    return f"Graph GET {_short(url)} answered {response.status_code}" + (f" ({detail})" if detail else "")


def _error(response: httpx.Response, url: str) -> IngestError:
    """The error for a failed answer; retryable for throttling and server errors."""
    status = response.status_code
    advice = {
        403: ": the app registration lacks the permission (Sites.Read.All or Files.Read.All)",
        404: ": not found (check site and drives)",
    }.get(status, "")
    return IngestError(_describe(response, url) + advice, retryable=status in RETRIED or status >= 500)
