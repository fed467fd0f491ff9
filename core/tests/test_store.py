"""The `local` store: SQLite records, FAISS + bm25s snapshots, ACL and filters, crash safety.

Real SQLite, FAISS and bm25s throughout; vectors are random unit vectors (a chunk's own
vector is a perfect dense query for it) and texts carry unique words for BM25.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from inhouse.errors import ConfigError, IngestError
from inhouse.store import fusion
from inhouse.store.local import LocalStore
from inhouse.types import Chunk
from storekit import DIM, doc, open_store, unit


def test_round_trip_upsert_search_delete(tmp_path: Path, rng: np.random.Generator) -> None:
    """Upserted chunks are found by every mode with their metadata; deleted ones are gone."""
    store = open_store(tmp_path / "ix")
    vecs = {}
    texts = [("leave", "Annual leave is 25 days"), ("vpn", "Connect the tunnelbird VPN"), ("pay", "Salaries are paid monthly")]
    for name, text in texts:
        record, chunks = doc(name, [text], root="/hr" if name != "vpn" else "/it")
        vecs[name] = unit(rng, 1)
        store.upsert(record, chunks, vecs[name])
    assert store.count() == 3
    assert set(store.documents()) == {"leave", "vpn", "pay"} and set(store.documents("/it")) == {"vpn"}
    assert store.document("vpn") == store.documents()["vpn"] and store.document("nope") is None
    top = store.search(vecs["vpn"][0], "tunnelbird", k=2)[0]
    assert top.chunk.id == "vpn#0" and top.chunk.heading == "H0" and top.chunk.meta == {"n": 0}
    assert top.dense == pytest.approx(1.0, abs=1e-5) and top.bm25 > 0
    assert store.search(vecs["vpn"][0], "", k=1, mode="dense")[0].chunk.id == "vpn#0"
    bm = store.search(None, "salaries", k=3, mode="bm25")
    assert [h.chunk.id for h in bm] == ["pay#0"] and bm[0].dense is None and bm[0].score == bm[0].bm25
    store.delete(["vpn"])
    assert store.count() == 2 and "vpn" not in store.documents()
    assert all(h.chunk.doc_id != "vpn" for h in store.search(vecs["vpn"][0], "tunnelbird", k=5))
    assert store.get_chunks(["pay#0", "vpn#0"])[0].text == "Salaries are paid monthly"
    store.close()
    store.close()  # idempotent


def test_replacing_a_document_removes_its_old_chunks(tmp_path: Path, rng: np.random.Generator) -> None:
    """A second upsert of a document replaces all its chunks: old text is no longer searchable."""
    store = open_store(tmp_path / "ix")
    record, chunks = doc("d", ["alpha one", "alpha two", "alpha three"])
    store.upsert(record, chunks, unit(rng, 3))
    assert len(store.search(None, "alpha", k=5, mode="bm25")) == 3
    record, chunks = doc("d", ["beta only"])
    store.upsert(record, chunks, unit(rng, 1))
    assert store.count() == 1
    assert store.search(None, "alpha", k=5, mode="bm25") == []
    assert [h.chunk.text for h in store.search(None, "beta", k=5, mode="bm25")] == ["beta only"]
    assert store.get_chunks(["d#1", "d#2"]) == []
    store.close()


def test_acl_is_applied_inside_the_search(tmp_path: Path, rng: np.random.Generator) -> None:
    """Private chunks never reach other users, and k public results still come back when the
    best-matching chunks are all private (filtering happens before the top-k, not after)."""
    store = open_store(tmp_path / "ix", candidates=20)
    query = unit(rng, 1)[0]
    close = query + 0.01 * unit(rng, 200)  # 200 private chunks nearest the query
    close /= np.linalg.norm(close, axis=1, keepdims=True)
    for i in range(200):
        record, chunks = doc(f"secret{i}", ["salary bands salary bands"], acl=("hr-team", "alice"))
        store.upsert(record, chunks, close[i : i + 1])
    for i in range(30):
        record, chunks = doc(f"public{i}", [f"salary bands are published item{i}"])
        store.upsert(record, chunks, unit(rng, 1))
    for mode in ("hybrid", "dense", "bm25"):
        for principals in (["*", "user:bob"], ["*"], ["*", "user:bob", "group:everyone"]):
            hits = store.search(query, "salary bands", k=10, acl=principals, mode=mode)
            assert len(hits) == 10, (mode, principals)
            assert all(h.chunk.doc_id.startswith("public") for h in hits), (mode, principals)
        assert store.search(query, "salary bands", k=10, acl=[], mode=mode) == []  # no principal: nothing
        hits = store.search(query, "salary bands", k=10, acl=["user:alice"], mode=mode)
        assert all(h.chunk.doc_id.startswith("secret") for h in hits), mode
    assert len(store.search(query, "salary", k=300, acl=None)) == 230  # None: no filtering
    store.close()


def test_filters_exact_prefix_page_and_lists(tmp_path: Path, rng: np.random.Generator) -> None:
    """Filters match chunk fields exactly, by prefix with a trailing *, and any-of a list."""
    store = open_store(tmp_path / "ix")
    for name, source, page in [
        ("a", "hr/leave.md", None),
        ("b", "hr/pay/bands.md", None),
        ("c", "it/vpn.md", None),
        ("d", "manual.pdf", 3),
        ("e", "hrx.md", None),
    ]:
        record, chunks = doc(name, ["policy text"], source=source, page=page)
        store.upsert(record, chunks, unit(rng, 1))
    q = unit(rng, 1)[0]

    def found(filters: dict) -> set[str]:
        return {h.chunk.doc_id for h in store.search(q, "policy", k=10, filters=filters)}

    assert found({"source": "hr/*"}) == {"a", "b"}
    assert found({"source": "hr/leave.md"}) == {"a"}
    assert found({"source": "hr*"}) == {"a", "b", "e"}
    assert found({"page": 3}) == found({"page": "3"}) == {"d"}
    assert found({"doc_id": ["a", "c"]}) == {"a", "c"}
    assert found({"title": "B", "source": "hr/*"}) == {"b"}
    assert found({"source": "nothing/*"}) == set()
    assert found({"source": "hr/*", "heading": "H0"}) == {"a", "b"}
    with pytest.raises(ConfigError, match="cannot filter on 'colour'"):
        store.search(q, "policy", filters={"colour": "red"})
    store.close()


def test_hits_carry_dense_and_bm25_evidence(tmp_path: Path, rng: np.random.Generator) -> None:
    """Every hybrid hit has its true cosine, even one that only BM25 found; fusions all work."""
    for method in ("rrf", "minmax", "zscore"):
        store = open_store(tmp_path / method, fusion=method, candidates=2, alpha=0.5)
        vecs = unit(rng, 40)
        for i in range(40):
            record, chunks = doc(f"d{i}", ["needle haystack" if i == 33 else f"hay{i}"])
            store.upsert(record, chunks, vecs[i : i + 1])
        hits = store.search(vecs[0], "needle", k=5)
        assert hits[0].chunk.id in ("d0#0", "d33#0"), method
        by_id = {h.chunk.id: h for h in hits}
        assert "d33#0" in by_id and by_id["d33#0"].bm25 > 0
        assert by_id["d33#0"].dense == pytest.approx(float(vecs[33] @ vecs[0]), abs=1e-5)
        assert all(h.dense is not None and h.bm25 is not None for h in hits)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        store.close()


def test_fusion_functions() -> None:
    """RRF sums 1/(k + rank); the convex fusions normalise each method over the union."""
    pos, score = fusion.rrf([np.array([1, 2, 3]), np.array([3, 1])], rrf_k=60)
    assert pos.tolist() == [1, 3, 2]
    assert score[0] == pytest.approx(1 / 61 + 1 / 62)
    dense = {1: 0.9, 2: 0.5, 3: 0.1}
    bm25 = {1: 0.0, 2: 1.0, 3: 10.0}
    pos, score = fusion.fuse(
        "minmax",
        [np.array([1, 2]), np.array([3])],
        lambda p: np.array([dense[i] for i in p]),
        lambda p: np.array([bm25[i] for i in p]),
        alpha=0.4,
    )
    assert pos.tolist() == [3, 1, 2] and score.tolist() == pytest.approx([0.6, 0.4, 0.4 * 0.5 + 0.6 * 0.1])
    assert fusion.normalise(np.array([2.0, 2.0]), "zscore").tolist() == [0.0, 0.0]


def test_embedder_change_is_reported_and_reset_clears(tmp_path: Path, rng: np.random.Generator) -> None:
    """A store built with one embedder refuses another with a message that says how to fix it."""
    path = tmp_path / "ix"
    store = open_store(path)
    store.check_embedder("mini", DIM)
    record, chunks = doc("d", ["text"])
    store.upsert(record, chunks, unit(rng, 1))
    store.close()
    store = open_store(path)
    store.check_embedder("mini", DIM)
    with pytest.raises(ConfigError, match="--rebuild"):
        store.check_embedder("bigger", 768)
    with pytest.raises(ConfigError, match="768"):
        store.upsert(*doc("e", ["text"]), unit(rng, 1, 768))
    with pytest.raises(ConfigError, match="--rebuild"):
        store.search(unit(rng, 1, 768)[0], "text")
    store.reset()
    assert store.count() == 0 and store.documents() == {} and store.search(None, "text", mode="bm25") == []
    store.check_embedder("bigger", 768)
    store.upsert(*doc("e", ["text"]), unit(rng, 1, 768))
    assert store.search(unit(rng, 1, 768)[0], "text")[0].chunk.id == "e#0"
    store.close()


def test_bad_input_and_config(tmp_path: Path, rng: np.random.Generator) -> None:
    """Wrong shapes, foreign chunks and bad settings fail with errors that say what is wrong."""
    with pytest.raises(ConfigError, match="needs a directory"):
        LocalStore(LocalStore.Config())
    assert LocalStore(LocalStore.Config(), home=tmp_path / "home").directory == tmp_path / "home" / "index"
    with pytest.raises(ValidationError):
        LocalStore.Config(fusoin="rrf")
    with pytest.raises(ConfigError, match="stemmer"):
        open_store(tmp_path / "x", stemmer="klingon")
    store = open_store(tmp_path / "ix")
    assert store.search(unit(rng, 1)[0], "anything") == []  # empty store
    record, chunks = doc("d", ["a", "b"])
    with pytest.raises(IngestError, match="expected 2 vectors"):
        store.upsert(record, chunks, unit(rng, 1))
    with pytest.raises(IngestError, match="NaN"):
        store.upsert(record, chunks, np.full((2, DIM), np.nan, dtype=np.float32))
    with pytest.raises(IngestError, match="doc_id"):
        store.upsert(doc("other", ["x"])[0], chunks, unit(rng, 2))
    store.upsert(record, chunks, unit(rng, 2))
    with pytest.raises(IngestError, match="unique"):
        store.upsert(doc("e", ["x"])[0], [Chunk("d#0", "e", "e.md", "E", "x")], unit(rng, 1))
    assert store.count() == 2 and set(store.documents()) == {"d"}  # the failed upsert changed nothing
    store.upsert(*doc("empty", []), np.zeros((0, DIM), dtype=np.float32))
    assert "empty" in store.documents()
    store.close()
