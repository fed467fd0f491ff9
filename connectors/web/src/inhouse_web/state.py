"""What the last crawl learnt about each URL, kept under the connector's data folder so the
next crawl can ask "changed since?" (``If-None-Match`` / ``If-Modified-Since``) and, for a
page that has not changed (HTTP 304, no body), reuse its links instead of downloading it.

One JSON file per connector root (``<home>/web/<digest>.json``), written atomically at the
end of each crawl; without a data folder it lives in memory. Nothing in it is trusted for
content: a page's bytes always come from the site, so a lost or stale file costs only a
full download, never a wrong document.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)
VERSION = 1


class CrawlState:
    """Per canonical URL: its validators (``etag``, ``last_modified``), ``hash``, ``links``,
    ``media_type``, ``size``, ``modified``, whether it was ``yielded`` as a page, or the
    ``redirect`` it leads to."""

    def __init__(self, home: Path | None, root: str):
        self.path = home / "web" / f"{hashlib.sha256(root.encode()).hexdigest()[:24]}.json" if home else None
        self.urls: dict[str, dict[str, Any]] = self._load()

    def validators(self, url: str) -> dict[str, str]:
        """The conditional headers for ``url`` (empty when nothing is known about it)."""
        entry = self.urls.get(url, {})
        headers = {}
        if entry.get("etag"):
            headers["If-None-Match"] = entry["etag"]
        if entry.get("last_modified"):
            headers["If-Modified-Since"] = entry["last_modified"]
        return headers

    def yielded(self, url: str) -> bool:
        """Whether the last crawl yielded ``url`` as a page (``open`` accepts only those)."""
        return bool(self.urls.get(url, {}).get("yielded"))

    def save(self) -> None:
        """Write the state (atomically: a crash leaves the previous file)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        partial.write_text(json.dumps({"version": VERSION, "urls": self.urls}), encoding="utf-8")
        os.replace(partial, self.path)

    def _load(self) -> dict[str, dict[str, Any]]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("version") == VERSION and isinstance(data.get("urls"), dict):
                return data["urls"]
        except (OSError, ValueError, AttributeError) as exc:
            log.warning("crawl state %s is unreadable (%s): pages are downloaded again", self.path, exc)
        return {}
