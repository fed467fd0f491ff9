"""Conformance tests for ``inhouse.stores`` plugins."""

from __future__ import annotations

import numpy as np
import pytest

from inhouse.plugins import DocumentRecord, Store
from inhouse.testing.common import PluginContract
from inhouse.types import Chunk

DIM = 8


def _vec(i: int) -> np.ndarray:
    v = np.zeros(DIM, dtype=np.float32)
    v[i % DIM] = 1.0
    return v


def _doc(doc_id: str, texts: list[str], *, acl: tuple[str, ...] = (), source: str | None = None, axis: int = 0):
    source = source or f"{doc_id}.md"
    record = DocumentRecord(doc_id, source, "/root", doc_id.title(), f"hash-{doc_id}-{len(texts)}", 0.0, acl)
    chunks = [Chunk(f"{doc_id}-{i}", doc_id, source, doc_id.title(), t, acl=acl, ordinal=i) for i, t in enumerate(texts)]
    vectors = np.stack([_vec(axis + i) for i in range(len(texts))])
    return record, chunks, vectors


class StoreTests(PluginContract):
    """Subclass and provide a ``store`` fixture: a new, empty store for vectors of ``DIM`` (8)."""

    @pytest.fixture
    def plugin(self, store: Store) -> Store:
        return store

    def test_dense_search_finds_nearest(self, store: Store) -> None:
        """``search`` in dense mode ranks by inner product of unit vectors."""
        store.upsert(*_doc("alpha", ["first passage"], axis=0))
        store.upsert(*_doc("beta", ["second passage"], axis=3))
        hits = store.search(_vec(3), "", k=2, mode="dense")
        assert hits[0].chunk.doc_id == "beta"

    def test_keyword_search(self, store: Store) -> None:
        """``search`` in bm25 mode finds a rare word without any vector."""
        store.upsert(*_doc("alpha", ["the parking garage opens at seven"], axis=0))
        store.upsert(*_doc("beta", ["expense reports are due monthly"], axis=1))
        hits = store.search(None, "garage", k=1, mode="bm25")
        assert [h.chunk.doc_id for h in hits] == ["alpha"]

    def test_hybrid_returns_dense_similarity(self, store: Store) -> None:
        """Hybrid hits carry ``dense`` (cosine similarity): the assistant abstains on it."""
        store.upsert(*_doc("alpha", ["holiday calendar"], axis=2))
        hits = store.search(_vec(2), "holiday", k=1, mode="hybrid")
        assert hits and hits[0].dense == pytest.approx(1.0, abs=1e-4)

    def test_upsert_replaces_chunks(self, store: Store) -> None:
        """Upserting a document again replaces all its chunks (no stale passages)."""
        store.upsert(*_doc("alpha", ["old text one", "old text two"]))
        store.upsert(*_doc("alpha", ["new text"]))
        assert store.count() == 1
        assert store.search(None, "old", k=5, mode="bm25") == []

    def test_delete(self, store: Store) -> None:
        """``delete`` removes the documents and their chunks from every index."""
        store.upsert(*_doc("alpha", ["remove me please"]))
        store.upsert(*_doc("beta", ["keep me"], axis=1))
        store.delete(["alpha"])
        assert set(store.documents()) == {"beta"}
        assert store.search(None, "remove", k=5, mode="bm25") == []

    def test_documents_keep_hash(self, store: Store) -> None:
        """``documents()`` returns each record with its hash: incremental ingestion relies on it."""
        record, chunks, vectors = _doc("alpha", ["text"])
        store.upsert(record, chunks, vectors)
        assert store.documents()["alpha"].hash == record.hash

    def test_acl_filter_inside_search(self, store: Store) -> None:
        """With ``acl`` given, return only chunks whose acl is empty or shares a principal —
        filter inside the search so k results still come back."""
        store.upsert(*_doc("secret", ["salary bands table"], acl=("hr",), axis=0))
        for i in range(6):
            store.upsert(*_doc(f"pub{i}", [f"salary question {i}"], axis=1))
        visible = store.search(_vec(0), "salary", k=5, acl=["alice"])
        assert len(visible) == 5 and all(h.chunk.doc_id != "secret" for h in visible)
        assert store.search(_vec(0), "salary", k=1, acl=["hr"])[0].chunk.doc_id == "secret"

    def test_prefix_filter(self, store: Store) -> None:
        """``filters={"source": "hr/*"}`` keeps only sources under hr/."""
        store.upsert(*_doc("a", ["leave policy"], source="hr/leave.md"))
        store.upsert(*_doc("b", ["leave the building"], source="it/fire.md", axis=1))
        hits = store.search(None, "leave", k=5, filters={"source": "hr/*"}, mode="bm25")
        assert [h.chunk.source for h in hits] == ["hr/leave.md"]
