"""The default store plugin, ``local``: SQLite records plus FAISS and bm25s snapshots.

Modules: ``sqlite`` (the record of truth), ``snapshots`` (derived indexes, atomic files),
``catalog`` (ACL and filter masks), ``retrieve`` (ranking), ``fusion`` and ``local`` (the plugin).
"""

from __future__ import annotations

from typing import Any

__all__ = ["LocalStore"]


def __getattr__(name: str) -> Any:
    if name == "LocalStore":  # imported lazily: FAISS and bm25s load only when the store is used
        from inhouse.store.local import LocalStore

        return LocalStore
    raise AttributeError(name)
