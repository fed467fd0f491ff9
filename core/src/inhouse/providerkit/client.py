"""A client built on first use and shared between threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class LazyClient(Generic[T]):
    """Holds one client (a boto3 client, an ``httpx.Client``): ``build`` makes it on the first
    ``get()``, ``close()`` releases it (the next ``get()`` builds a new one). Thread-safe."""

    def __init__(self, build: Callable[[], T], close: Callable[[T], None] | None = None):
        self._build = build
        self._close = close or (lambda client: client.close())  # type: ignore[attr-defined]
        self._client: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        """The client, built now if there is none."""
        with self._lock:
            if self._client is None:
                self._client = self._build()
            return self._client

    def close(self) -> None:
        """Close the client if one was built. Safe to call twice."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            self._close(client)
