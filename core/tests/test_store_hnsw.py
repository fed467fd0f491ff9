"""The `local` store with an HNSW graph (``index = "hnsw"``): the store kit, recall, ACL inside the walk, persistence.

Real SQLite, FAISS and bm25s. The recall tests use clustered unit vectors (a mixture of gaussians
on the sphere, like real embeddings) and queries near the data, against numpy brute force.
"""

from __future__ import annotations

import json
from pathlib import Path

import faiss
import numpy as np
import pytest

from inhouse import registry
from inhouse.errors import ConfigError
from inhouse.store import snapshots
from inhouse.store.retrieve import dense_top
from inhouse.testing import StoreTests
from storekit import doc, open_store

DIM, ROWS, PER_DOC, K = 32, 12_000, 400, 10
GRAPH = {"index": "hnsw", "hnsw_m": 12, "hnsw_ef_construction": 40, "hnsw_ef_search": 64}


class TestLocalStoreHnsw(StoreTests):
    """The whole store kit against a local store whose dense index is an HNSW graph."""

    @pytest.fixture
    def store(self, tmp_path: Path):
        store = registry.build("stores", {"use": "local", **GRAPH}, "store", home=tmp_path, base_dir=tmp_path)
        yield store
        store.close()


def clustered(rng: np.random.Generator, n: int, clusters: int = 60, noise: float = 1.0) -> np.ndarray:
    """Unit vectors around ``clusters`` random centres (noise of ``noise`` times the centre's length)."""
    centres = rng.standard_normal((clusters, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    v = centres[rng.integers(0, clusters, n)] + noise * rng.standard_normal((n, DIM)).astype(np.float32) / np.sqrt(DIM)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def groups_of(row: int) -> tuple[str, ...]:
    """Who may read a row: even documents (half the rows) or odd ones; the first document also a small group (3%)."""
    d = row // PER_DOC
    return ("group:even", "group:small") if d == 0 else ("group:even",) if d % 2 == 0 else ("group:odd",)


def saved(path: Path) -> Path:
    """The folder of the store's one saved snapshot."""
    return next((path / "snapshots").glob("g*"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory):
    """A 12,000-chunk store with an HNSW graph, its vectors, and 40 queries near the data."""
    rng = np.random.default_rng(14)
    vectors = clustered(rng, ROWS)
    path = tmp_path_factory.mktemp("hnsw") / "ix"
    store = open_store(path, **GRAPH)
    for i in range(0, ROWS, PER_DOC):
        record, chunks = doc(f"d{i // PER_DOC:03d}", [f"passage {j}" for j in range(i, i + PER_DOC)], acl=groups_of(i))
        store.upsert(record, chunks, vectors[i : i + PER_DOC])
    store.flush()
    queries = vectors[rng.integers(0, ROWS, 40)] + 0.5 * rng.standard_normal((40, DIM)).astype(np.float32) / np.sqrt(DIM)
    yield store, path, vectors, queries / np.linalg.norm(queries, axis=1, keepdims=True)
    store.close()


def rows_of(hits) -> list[int]:
    """Row numbers of hits (chunk ``d<doc>#<j>`` is row ``doc * PER_DOC + j``)."""
    return [int(h.chunk.doc_id[1:]) * PER_DOC + h.chunk.ordinal for h in hits]


def exact(vectors: np.ndarray, q: np.ndarray, allowed: np.ndarray | None = None) -> set[int]:
    """The true top-k rows (brute force), among ``allowed`` rows if given."""
    scores = vectors @ q
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    return set(np.argsort(-scores)[:K].tolist())


def test_dense_recall_against_exact_search(corpus) -> None:
    """Unfiltered dense searches through the graph find >= 95% of the true top 10."""
    store, _, vectors, queries = corpus
    found = [rows_of(store.search(q, "", k=K, mode="dense")) for q in queries]
    assert all(len(f) == K for f in found)
    assert np.mean([len(set(f) & exact(vectors, q)) / K for f, q in zip(found, queries, strict=True)]) >= 0.95


@pytest.mark.parametrize("group", ["group:even", "group:small"])
def test_acl_searches_return_k_visible_rows_with_recall(corpus, group: str) -> None:
    """An ACL admitting half the rows (the graph walk, widened) or 3% (an exact scan of them) returns
    k rows, all visible, and >= 95% of the true top 10 among the visible rows."""
    store, _, vectors, queries = corpus
    allowed = np.array([group in groups_of(r) for r in range(ROWS)])
    recalls = []
    for q in queries:
        hits = store.search(q, "", k=K, acl=[group], mode="dense")
        assert len(hits) == K and all(group in h.chunk.acl for h in hits)
        recalls.append(len(set(rows_of(hits)) & exact(vectors, q, allowed)) / K)
    assert np.mean(recalls) >= 0.95


def test_the_graph_is_walked_and_filters_act_inside_it(corpus) -> None:
    """On the saved graph, an unfiltered search is the graph's own answer (not a scan); one admitting
    half the rows is the graph's answer with the selector inside and ef_search x sqrt(2) (32 -> 46);
    one admitting 30 rows is an exact scan of them."""
    _, path, vectors, queries = corpus
    manifest = json.loads((saved(path) / "manifest.json").read_text())
    snap = snapshots.load(path / "snapshots", manifest["generation"], manifest["params"])
    assert snap is not None and snap.hnsw is not None and isinstance(snap.dense, faiss.IndexHNSWFlat)
    q = queries[0][None, :]
    walk = snap.dense.search(q, K, params=faiss.SearchParametersHNSW(efSearch=32))[1][0]
    assert dense_top(snap, q[0], None, K, 32).tolist() == walk.tolist()
    half = np.arange(ROWS) % 2 == 0
    bits = np.packbits(half, bitorder="little")
    selector = faiss.IDSelectorBitmap(ROWS, faiss.swig_ptr(bits))
    walk = snap.dense.search(q, K, params=faiss.SearchParametersHNSW(efSearch=46, sel=selector))[1][0]
    assert dense_top(snap, q[0], half, K, 32).tolist() == walk.tolist() and all(half[walk])
    few = np.zeros(ROWS, dtype=bool)
    few[::400] = True
    assert set(dense_top(snap, q[0], few, K, 32).tolist()) == exact(vectors, q[0], few)


def test_the_graph_is_saved_by_faiss_and_loaded_without_rebuilding(corpus) -> None:
    """The snapshot holds the HNSW graph in FAISS's own format; reopening loads it (no rebuild)
    and answers the same; other graph settings make it stale, so it is rebuilt."""
    store, path, _, queries = corpus
    before = [rows_of(store.search(q, "", k=K, mode="dense")) for q in queries[:5]]
    index = faiss.read_index(str(saved(path) / "dense.faiss"))
    assert isinstance(index, faiss.IndexHNSWFlat) and index.ntotal == ROWS and index.hnsw.nb_neighbors(0) == 2 * GRAPH["hnsw_m"]
    again = open_store(path, **GRAPH)
    assert [rows_of(again.search(q, "", k=K, mode="dense")) for q in queries[:5]] == before
    assert again.stats["loads"] == 1 and again.stats["rebuilds"] == 0
    again.close()
    other = open_store(path, **{**GRAPH, "hnsw_m": 8})
    other.search(queries[0], "", k=K, mode="dense")
    assert other.stats["rebuilds"] == 1
    other.close()
    flat = open_store(path, index="flat")
    assert flat.search(queries[0], "", k=K, mode="dense") and flat.stats["rebuilds"] == 1
    assert isinstance(faiss.read_index(str(saved(path) / "dense.faiss")), faiss.IndexFlatIP)
    flat.close()


@pytest.mark.parametrize(("chunks", "graph"), [(30, False), (60, True)])
def test_auto_uses_the_graph_from_hnsw_above_chunks(tmp_path: Path, rng: np.random.Generator, chunks: int, graph: bool) -> None:
    """``index = "auto"`` (the default) scans exactly below ``hnsw_above`` chunks and builds a graph from there on."""
    store = open_store(tmp_path / "ix", hnsw_above=50)
    record, parts = doc("a", [f"text {i}" for i in range(chunks)])
    store.upsert(record, parts, clustered(rng, chunks))
    store.flush()
    index = faiss.read_index(str(saved(tmp_path / "ix") / "dense.faiss"))
    assert isinstance(index, faiss.IndexHNSW) is graph
    store.close()


@pytest.mark.parametrize(
    ("key", "value"), [("index", "ivf"), ("hnsw_m", 1), ("hnsw_ef_search", 0), ("hnsw_ef_construction", 0), ("hnsw_above", 0)]
)
def test_bad_index_settings_name_their_key(tmp_path: Path, key: str, value: object) -> None:
    """A bad index setting is a ConfigError naming ``store.<key>``."""
    with pytest.raises(ConfigError, match=rf"store\.{key}"):
        registry.build("stores", {"use": "local", key: value}, "store", home=tmp_path, base_dir=tmp_path)
