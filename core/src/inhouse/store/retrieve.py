"""Ranking over one generation: dense (FAISS), BM25 (bm25s) and their fusion, under a row mask.

The mask (ACL and filters) is applied before any top-k is taken: FAISS searches with an
``IDSelectorBitmap`` so it only scores allowed rows, and BM25 scores every row and then
drops the disallowed ones. ``candidates`` is the per-method depth handed to fusion.

On an HNSW graph the selector acts inside the graph walk (disallowed nodes are walked
through but never returned), with ``efSearch`` widened by the inverse square root of the
allowed share so the walk meets enough allowed rows (every neighbour of every expanded node
is a result candidate, so a walk sees far more rows than ``efSearch``; widening by the
inverse share measured the same recall at three times the cost, at a million chunks and a
10% ACL). When the allowed rows are so few that scanning them costs less than that walk
(about ``ef x 2M`` distances), they are scanned exactly instead; and a walk that still
returns fewer rows than exist is redone exactly. So a filtered search
returns k visible rows whenever k exist.
"""

from __future__ import annotations

from dataclasses import dataclass

import faiss
import numpy as np

from inhouse.plugins import SearchMode
from inhouse.store.catalog import Catalog
from inhouse.store.fusion import Fusion, fuse
from inhouse.store.snapshots import Snapshot


@dataclass
class State:
    """What a search needs for one generation: the snapshot and the row metadata."""

    snapshot: Snapshot
    catalog: Catalog
    saved: bool = False

    @property
    def generation(self) -> int:
        """The SQLite generation both were built from."""
        return self.catalog.generation


@dataclass
class Ranked:
    """The ranking of one search: row positions best first, with every method's evidence."""

    positions: np.ndarray
    scores: np.ndarray
    dense: np.ndarray | None  # cosine of each position, when a query vector was given
    bm25: np.ndarray | None  # raw BM25 of each position, when BM25 was consulted


def top(scores: np.ndarray, mask: np.ndarray | None, depth: int, positive: bool = False) -> np.ndarray:
    """Best-first positions of the ``depth`` highest allowed scores (only > 0 if ``positive``)."""
    keep = mask.copy() if mask is not None else np.ones(len(scores), dtype=bool)
    if positive:
        keep &= scores > 0
    allowed = np.flatnonzero(keep)
    if len(allowed) > depth:
        part = np.argpartition(-scores[allowed], depth - 1)[:depth]
        allowed = allowed[part]
    return allowed[np.argsort(-scores[allowed], kind="stable")]


# A selector keeps FAISS on its single-threaded scan: for one query over 20,000 rows the
# OpenMP path measured 13-16 ms on a busy 2-core host against 3.4 ms (concurrency comes from
# concurrent requests instead). omp_set_num_threads would only apply to the calling thread.
_ALL = faiss.IDSelectorAll()


def _positions(result: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """The row positions FAISS found for one query (``search``'s second array, -1s dropped)."""
    idx = result[1][0]
    return idx[idx >= 0].astype(np.int64)


def dense_top(snap: Snapshot, q: np.ndarray, mask: np.ndarray | None, depth: int, ef_search: int) -> np.ndarray:
    """FAISS inner-product search over allowed rows only (single-threaded), best first.

    ``ef_search`` is the HNSW candidate list length for an unfiltered search (unused on a flat index)."""
    depth = min(depth, snap.size)
    allowed = snap.size if mask is None else int(np.count_nonzero(mask))
    if mask is None:
        selector = _ALL
    else:
        bits = np.packbits(mask, bitorder="little")
        selector = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
    graph = snap.hnsw
    if graph is not None:
        ef = max(ef_search, depth)
        if allowed < snap.size:
            ef = min(int(np.ceil(ef * np.sqrt(snap.size / max(allowed, 1)))), snap.size)
        if allowed > ef * graph.nb_neighbors(0):  # the walk is cheaper than scanning the allowed rows
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=ef)
            found = _positions(snap.dense.search(q[None, :], depth, params=params))
            if len(found) >= min(depth, allowed):
                return found
    return _positions(snap.exact.search(q[None, :], depth, params=faiss.SearchParameters(sel=selector)))


def bm25_scores(snap: Snapshot, tokens: list[str]) -> np.ndarray:
    """Raw BM25 score of every row for these query tokens (zeros when none is known)."""
    if snap.bm25 is None:
        return np.zeros(snap.size, dtype=np.float32)
    ids = snap.bm25.get_tokens_ids(tokens)
    if not ids:
        return np.zeros(snap.size, dtype=np.float32)
    return np.asarray(snap.bm25.get_scores_from_ids(ids), dtype=np.float32)


def rank(
    state: State,
    q: np.ndarray | None,
    tokens: list[str],
    k: int,
    mask: np.ndarray | None,
    mode: SearchMode,
    *,
    fusion: Fusion,
    candidates: int,
    alpha: float,
    rrf_k: int,
    ef_search: int,
) -> Ranked:
    """Rank the allowed rows for ``mode``; returns at most ``k`` positions."""
    snap = state.snapshot
    use_dense = mode != "bm25" and q is not None and snap.dense is not None
    full = bm25_scores(snap, tokens) if mode != "dense" else None
    depth = max(k, candidates)
    lists: list[np.ndarray] = []
    if use_dense:
        lists.append(dense_top(snap, q, mask, depth if mode == "hybrid" else k, ef_search))
    if full is not None:
        lists.append(top(full, mask, depth if mode == "hybrid" else k, positive=True))

    def dense_of(p: np.ndarray) -> np.ndarray:
        return snap.vectors[p] @ q

    def bm25_of(p: np.ndarray) -> np.ndarray:
        return full[p] if full is not None else np.zeros(len(p), dtype=np.float32)

    if mode == "hybrid" and len(lists) == 2:  # fused even when BM25 matched nothing: one score scale
        pos, score = fuse(fusion, lists, dense_of, bm25_of, alpha=alpha, rrf_k=rrf_k)
    elif lists:
        pos = lists[0]
        score = dense_of(pos) if use_dense else bm25_of(pos)
    else:
        pos, score = np.zeros(0, dtype=np.int64), np.zeros(0)
    pos, score = pos[:k], score[:k]
    dense = dense_of(pos) if q is not None and snap.dense is not None else None
    return Ranked(pos, np.asarray(score, dtype=np.float64), dense, bm25_of(pos) if full is not None else None)
