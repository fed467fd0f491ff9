"""HTTP to Confluence Cloud: basic auth (email and API token), bounded and polite retries,
cursor pagination, and requests that never leave the configured site.

A 429 (or 503) is retried after the ``Retry-After`` the server asks for, never sooner; one that
asks for longer than ``max_retry_after`` is given up rather than retried early. Other 5xx
answers and dropped or timed-out connections are retried with full-jitter backoff. Every
failure is a ``ConfluenceError`` (an ``IngestError``) that names the request and says whether
trying again later may help (``retryable``).
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from inhouse.errors import IngestError
from inhouse.providerkit import Backoff, LazyClient

RETRIED = frozenset({429, 500, 502, 503, 504})
ADVICE = {
    401: "Confluence refused the credentials: check email and token (an Atlassian API token)",
    403: "the account may not read this",
    404: "not found, or the account may not see it",
    429: "throttled by Confluence",
}


class ConfluenceError(IngestError):
    """A request Confluence refused or did not answer; ``status`` is the HTTP status (None: no answer)."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False):
        super().__init__(message, retryable=retryable)
        self.status = status


class Client:
    """One site's REST API: ``json``/``results``/``download`` with retries; ``requests`` counts
    every HTTP request sent (retries included), for the ingestion figures."""

    def __init__(
        self,
        site: str,
        email: str,
        token: str,
        *,
        max_attempts: int,
        backoff: Backoff,
        max_retry_after: float,
        timeout: float,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.site = site
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_retry_after = max_retry_after
        self.sleep = sleep
        self.requests = 0
        self._count_lock = threading.Lock()
        headers = {"Accept": "application/json", "User-Agent": "inhouse-confluence/0.1"}
        self._http = LazyClient(
            lambda: httpx.Client(auth=httpx.BasicAuth(email, token), timeout=timeout, headers=headers, trust_env=False)
        )

    def url(self, link: str) -> str:
        """The absolute URL of an API path or of a link a response gave (``_links.next``,
        ``downloadLink``); raises ``ConfluenceError`` for one that points at another site, so the
        credentials never go anywhere but the configured ``base_url``."""
        url = urljoin(self.site + "/", link)
        ours, theirs = urlsplit(self.site), urlsplit(url)
        if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc):
            raise ConfluenceError(f"refused a link to another site: {theirs.scheme}://{theirs.netloc}")
        return url

    def json(self, link: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """The JSON object at ``link`` (an API path or a link of a response)."""
        response = self._get(self.url(link), params)
        try:
            body = response.json()
        except ValueError:
            raise ConfluenceError(f"{_where(response.url)}: the answer is not JSON", status=response.status_code) from None
        if not isinstance(body, dict):
            raise ConfluenceError(f"{_where(response.url)}: expected a JSON object", status=response.status_code)
        return body

    def results(self, link: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every item of a cursor-paginated list: ``results`` of each page, following
        ``_links.next`` until there is none (a link seen twice is an error, not a loop)."""
        seen: set[str] = set()
        body = self.json(link, params)
        while True:
            yield from (item for item in body.get("results") or [] if isinstance(item, dict))
            following = (body.get("_links") or {}).get("next")
            if not following:
                return
            if following in seen:
                raise ConfluenceError(f"{_where(following)}: the server sent the same next page twice")
            seen.add(following)
            body = self.json(following)

    def download(self, link: str) -> bytes:
        """The bytes behind a download link (redirects followed; httpx drops the credentials on
        a redirect to another host, such as Atlassian's media store)."""
        return self._get(self.url(link), None, follow=True).content

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _get(self, url: str, params: dict[str, Any] | None, follow: bool = False) -> httpx.Response:
        attempt = 1
        while True:
            wait: float | None = None
            with self._count_lock:
                self.requests += 1
            try:
                response = self._http.get().get(url, params=params, follow_redirects=follow)
            except httpx.TransportError as exc:  # refused, dropped, timed out
                failure = ConfluenceError(f"{_where(url)}: no answer ({type(exc).__name__}: {exc})", retryable=True)
            else:
                if response.is_success:
                    return response
                failure = _failure(response)
                wait = _retry_after(response) if failure.retryable else None
            if not failure.retryable or attempt >= self.max_attempts:
                raise failure
            if wait is None:
                self.backoff.wait(attempt)
            elif wait > self.max_retry_after:
                raise ConfluenceError(
                    f"{failure}: the server asks to wait {wait:g} s, over max_retry_after ({self.max_retry_after:g} s)",
                    status=failure.status,
                    retryable=True,
                )
            else:
                self.sleep(wait)
            attempt += 1


def _failure(response: httpx.Response) -> ConfluenceError:
    status = response.status_code
    advice = ADVICE.get(status) or ("Confluence is unavailable" if status >= 500 else "refused")
    return ConfluenceError(f"{_where(response.url)}: HTTP {status}, {advice}", status=status, retryable=status in RETRIED)


def _retry_after(response: httpx.Response) -> float | None:
    """The wait ``Retry-After`` asks for (seconds, or an HTTP date), or None when absent or unreadable."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _where(url: str | httpx.URL) -> str:
    """The request's path, for messages (no host, no query: cursors are long and say nothing)."""
    return urlsplit(str(url)).path or "/"
