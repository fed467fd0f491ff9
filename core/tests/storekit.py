"""Helpers shared by the store tests: random unit vectors, documents, stores."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from inhouse.plugins import DocumentRecord
from inhouse.store.local import LocalStore
from inhouse.types import Chunk

DIM = 16


def unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def doc(
    doc_id: str,
    texts: list[str],
    *,
    source: str | None = None,
    acl: tuple[str, ...] = ("*",),
    root: str = "/r",
    page: int | None = None,
) -> tuple[DocumentRecord, list[Chunk]]:
    source = source or f"{doc_id}.md"
    record = DocumentRecord(doc_id, source, root, doc_id.title(), f"hash-{texts}", 1.0, acl)
    chunks = [
        Chunk(f"{doc_id}#{i}", doc_id, source, doc_id.title(), t, heading=f"H{i}", page=page, acl=acl, ordinal=i, meta={"n": i})
        for i, t in enumerate(texts)
    ]
    return record, chunks


def open_store(path: Path, **cfg) -> LocalStore:
    return LocalStore(LocalStore.Config(path=str(path), **cfg), name="test")


def snapshot_files(path: Path) -> dict[str, float]:
    return {str(p.relative_to(path)): p.stat().st_mtime_ns for p in (path / "snapshots").rglob("*") if p.is_file()}
