"""Search behaviour beyond the kit: the HNSW index and pgvector's iterative scans under an ACL that
hides most rows, the exact fallback, the index parameters, hybrid fusion, filters and their errors."""

from __future__ import annotations

import numpy as np
import pytest

from inhouse.access import readable
from inhouse.errors import ConfigError
from inhouse.plugins import DocumentRecord
from inhouse.types import Chunk

DIM = 16


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def document(doc_id: str, texts: list[str], acl: tuple[str, ...] = ("*",), source: str | None = None, page: int | None = None):
    source = source or f"{doc_id}.md"
    record = DocumentRecord(doc_id, source, "/r", doc_id.title(), f"h-{len(texts)}", 1.0, acl)
    chunks = [
        Chunk(f"{doc_id}#{i}", doc_id, source, doc_id.title(), t, page=page, acl=acl, ordinal=i) for i, t in enumerate(texts)
    ]
    return record, chunks


@pytest.fixture
def crowded(open_store):
    """4,000 chunks in 40 documents; two documents (200 chunks, 5%) readable by group:few. The
    HNSW index is built (flush) and the vectors returned, by document."""
    store = open_store()
    rng = np.random.default_rng(7)
    vectors = {}
    for d in range(40):
        acl = ("group:few",) if d % 20 == 0 else ("group:many",)
        record, chunks = document(f"d{d}", [f"passage {i} of document {d}" for i in range(100)], acl)
        vectors[record.id] = unit(rng, 100)
        store.upsert(record, chunks, vectors[record.id])
    store.flush()
    return vectors


@pytest.mark.parametrize(("scan", "fallbacks"), [("relaxed_order", 0), ("strict_order", 0), ("off", 5)])
def test_a_filtered_search_returns_k_through_iterative_scans(open_store, crowded, scan: str, fallbacks: int) -> None:
    """With ef_search 10 the index alone finds about 10 * 5% visible rows; iterative scans keep
    going until k are found (no exact fallback needed), and without them the exact fallback still
    gives k. Either way the hits are the true nearest visible chunks, best first."""
    store = open_store(ef_search=10, iterative_scan=scan)
    visible = np.concatenate([crowded["d0"], crowded["d20"]])
    ids = [f"d0#{i}" for i in range(100)] + [f"d20#{i}" for i in range(100)]
    rng = np.random.default_rng(1)
    recall = []
    for q in unit(rng, 5):
        hits = store.search(q, "", k=10, acl=["group:few", "user:ann"], mode="dense")
        assert len(hits) == 10 and all(h.chunk.acl == ("group:few",) for h in hits)
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)
        truth = {ids[i] for i in np.argsort(-(visible @ q))[:10]}
        recall.append(len(truth & {h.chunk.id for h in hits}) / 10)
    assert store.stats["exact_fallbacks"] == fallbacks
    assert np.mean(recall) >= 0.9


def test_fewer_visible_chunks_than_k_come_back_all(open_store, crowded) -> None:
    store = open_store(ef_search=10)
    hits = store.search(unit(np.random.default_rng(3), 1)[0], "", k=300, acl=["group:few"], mode="dense")
    assert len(hits) == 200 and {h.chunk.doc_id for h in hits} == {"d0", "d20"}


def test_the_index_takes_its_parameters_and_flush_rebuilds_it_when_they_change(open_store, crowded) -> None:
    store = open_store(hnsw_m=16, hnsw_ef_construction=64)
    assert "HNSW index built" in store.check()
    store.flush()
    assert store.stats["index_builds"] == 0  # same parameters: kept
    rebuilt = open_store(hnsw_m=8, hnsw_ef_construction=32)
    rebuilt.flush()
    assert rebuilt.stats["index_builds"] == 1
    with rebuilt._pool.connection() as conn:
        options = conn.execute("SELECT reloptions FROM pg_class WHERE oid = to_regclass(%s)", (rebuilt.tables.hnsw,)).fetchone()[
            0
        ]
    assert sorted(options) == ["ef_construction=32", "m=8"]


def test_every_mode_shows_exactly_what_the_access_rule_allows(open_store) -> None:
    """Random ACLs (empty ones included) and random callers: each search returns the best
    min(k, visible) chunks among those ``inhouse.access.readable`` admits, and no other."""
    store = open_store(ef_search=400)  # wide enough for the index to be exact on 300 rows
    rng = np.random.default_rng(21)
    pool = ["*", "user:ann", "user:bob", "group:hr", "group:it", "group:legal"]

    def draw(low: int, high: int) -> list[str]:
        return [str(p) for p in rng.choice(pool, size=int(rng.integers(low, high)), replace=False)]

    acls = [tuple(draw(0, 3)) for _ in range(300)]
    vectors = unit(rng, 300)
    for i, acl in enumerate(acls):
        store.upsert(*document(f"m{i}", [f"memo {i}"], acl), vectors[i : i + 1])
    store.flush()
    for caller in [None, [], [""], *(draw(1, 4) for _ in range(12))]:
        visible = [i for i, acl in enumerate(acls) if readable(acl, caller)]
        q = unit(rng, 1)[0]
        truth = [f"m{i}#0" for i in sorted(visible, key=lambda i: -float(vectors[i] @ q))[:10]]
        assert [h.chunk.id for h in store.search(q, "", k=10, acl=caller, mode="dense")] == truth, caller
        for mode in ("bm25", "hybrid"):
            hits = store.search(q, "memo", k=10, acl=caller, mode=mode)
            assert len(hits) == min(10, len(visible)) and all(readable(h.chunk.acl, caller) for h in hits), (mode, caller)


def test_hybrid_fuses_full_text_and_dense_ranks(open_store) -> None:
    """A chunk that is second in both lists beats chunks that top only one of them (RRF), and
    each hit carries its cosine and its ts_rank_cd."""
    store = open_store()
    axes = np.eye(DIM, dtype=np.float32)
    near = axes[0] * 0.9 + axes[1] * 0.1
    store.upsert(*document("a", ["unrelated words entirely"]), axes[:1])  # best dense, no text match
    store.upsert(*document("b", ["parking garage rules"]), near[None, :])  # second dense, matches
    store.upsert(*document("c", ["garage garage parking garage"]), axes[2:3])  # best text, weak dense
    for i, filler in enumerate(("d", "e")):  # closer than c, no text match: c ranks 5th of 5 in the dense list
        store.upsert(*document(filler, ["other matters"]), (axes[0] * 0.5 + axes[3 + i])[None, :])
    hits = store.search(axes[0], "parking garage", k=3, mode="hybrid")
    assert hits[0].chunk.doc_id == "b"
    by_id = {h.chunk.doc_id: h for h in hits}
    assert by_id["a"].bm25 == 0.0 and by_id["a"].dense == pytest.approx(1.0, abs=1e-5)
    assert by_id["c"].bm25 > by_id["b"].bm25 > 0
    only_text = store.search(None, "parking garage", k=3, mode="hybrid")
    assert [h.chunk.doc_id for h in only_text] == ["c", "b"] and all(h.dense is None for h in only_text)
    assert [h.chunk.doc_id for h in store.search(axes[0], "", k=2, mode="hybrid")] == ["a", "b"]  # no words: dense order


def test_full_text_needs_one_query_word_not_all_and_stems(open_store) -> None:
    store = open_store()
    store.upsert(*document("a", ["the committees approved budgets"]), unit(np.random.default_rng(0), 1))
    assert [h.chunk.id for h in store.search(None, "committee meetings", k=5, mode="bm25")] == ["a#0"]
    assert store.search(None, "the of and", k=5, mode="bm25") == []  # stopwords only: nothing to match
    assert store.search(None, "it's a \\ 'quoted' word: approved!", k=5, mode="bm25")[0].chunk.id == "a#0"


def test_filters_exact_prefix_lists_and_numbers(open_store) -> None:
    store = open_store()
    rng = np.random.default_rng(0)
    store.upsert(*document("leave", ["leave policy"], source="hr/leave.md", page=2), unit(rng, 1))
    store.upsert(*document("fire", ["leave the building"], source="it/fire.md", page=3), unit(rng, 1))
    store.upsert(*document("pay", ["pay day leave"], source="hr_old/pay.md"), unit(rng, 1))

    def found(filters):
        return sorted(h.chunk.doc_id for h in store.search(None, "leave", k=5, filters=filters, mode="bm25"))

    assert found({"source": "hr/*"}) == ["leave"]
    assert found({"source": "hr*"}) == ["leave", "pay"]
    assert found({"source": ["it/fire.md", "hr/leave.md"]}) == ["fire", "leave"]
    assert found({"page": 3}) == ["fire"] and found({"page": "2"}) == ["leave"]
    assert found({"source": "hr*", "page": 2}) == ["leave"]
    assert found({"source": []}) == []
    assert found({"title": "100%_*"}) == []  # LIKE wildcards are plain characters


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"colour": "red"}, "cannot filter on 'colour'"),
        ({"page": "two"}, "filter 'page' takes a number, not 'two'"),
        ({"page": "1*"}, "takes a number, not a prefix"),
        ({"source": 5}, "filter 'source' takes text, not 5"),
    ],
)
def test_a_bad_filter_is_a_clear_error(open_store, filters, message) -> None:
    store = open_store()
    with pytest.raises(ConfigError, match=message):
        store.search(None, "x", filters=filters, mode="bm25")


def test_a_query_vector_of_another_dimension_is_refused(open_store) -> None:
    store = open_store()
    store.upsert(*document("a", ["text"]), unit(np.random.default_rng(0), 1))
    with pytest.raises(ConfigError, match=r"The query vector \(8-d\) does not fit the index"):
        store.search(np.ones(8, dtype=np.float32), "", mode="dense")
    with pytest.raises(ConfigError, match="unknown search mode"):
        store.search(None, "x", mode="sparse")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="needs a query vector"):
        store.search(None, "x", mode="dense")
