"""Per-row chunk metadata held in memory, turned into boolean masks for ACL and filters.

Masks are computed over every row before any ranking, so the ACL and filters act inside
the search: the top-k is chosen among visible rows only, never cut down afterwards. A row is
visible to principals its ACL names; ``*`` is one like any other, and a row with an empty ACL
is visible to nobody (``inhouse.access``).
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from inhouse.store.sqlite import CATALOG_COLUMNS
from inhouse.store_rules import Term, filter_terms

_CACHE_SIZE = 256


class Catalog:
    """Metadata of one generation's rows, in snapshot order (ascending SQLite key)."""

    def __init__(self, generation: int, rows: list[tuple]):
        self.generation = generation
        self.size = n = len(rows)
        self.pks = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
        cols = list(zip(*rows, strict=True)) if rows else [()] * (len(CATALOG_COLUMNS) + 1)
        self.columns = {name: cols[i + 1] for i, name in enumerate(CATALOG_COLUMNS) if name != "acl"}
        parsed: dict[str, list[str]] = {"[]": []}  # ACL strings repeat: parse each distinct one once
        acls = [parsed[a] if a in parsed else parsed.setdefault(a, json.loads(a)) for a in cols[CATALOG_COLUMNS.index("acl") + 1]]
        members: dict[str, list[int]] = defaultdict(list)
        for i, acl in enumerate(acls):
            for p in acl:
                members[p].append(i)
        self.members = {p: np.asarray(ix, dtype=np.int64) for p, ix in members.items()}
        self._cache: dict[Any, np.ndarray] = {}
        self._lock = threading.Lock()

    def mask(self, acl: Sequence[str] | None, filters: dict[str, Any] | None) -> np.ndarray | None:
        """Rows the caller may see and that match every filter; None means all rows."""
        out: np.ndarray | None = None
        if acl is not None:
            out = self._cached(("acl", frozenset(acl)), lambda: self._acl_mask(acl))
        for field, terms in filter_terms(filters).items():
            m = self._cached((field, tuple(terms)), lambda f=field, t=terms: self._filter_mask(f, t))
            out = m if out is None else out & m
        return out

    def _cached(self, key: Any, make: Any) -> np.ndarray:
        with self._lock:
            m = self._cache.get(key)
        if m is None:
            m = make()
            m.flags.writeable = False
            with self._lock:
                if len(self._cache) >= _CACHE_SIZE:
                    self._cache.clear()
                self._cache[key] = m
        return m

    def _acl_mask(self, acl: Sequence[str]) -> np.ndarray:
        m = np.zeros(self.size, dtype=bool)
        for p in set(acl):
            if p in self.members:
                m[self.members[p]] = True
        return m

    def _filter_mask(self, field: str, terms: list[Term]) -> np.ndarray:
        col, m = self.columns[field], np.zeros(self.size, dtype=bool)
        for term in terms:
            if term.prefix:
                prefix = str(term.value)
                m |= np.fromiter((s.startswith(prefix) for s in col), dtype=bool, count=self.size)
            else:
                m |= np.fromiter((s == term.value for s in col), dtype=bool, count=self.size)
        return m
