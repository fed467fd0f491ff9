"""Fusing the dense and BM25 candidate lists into one ranking.

``rrf``: reciprocal rank fusion, ``sum 1 / (rrf_k + rank)`` (Cormack et al., 2009); needs only
ranks, so the two score scales never meet. ``minmax`` and ``zscore``: a convex combination
``alpha * dense' + (1 - alpha) * bm25'`` of scores normalised over the union of candidates.
Both methods' true scores are known for every candidate (the store holds all vectors and
computes BM25 for every row), so a candidate found by one method is not scored 0 by the other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np

Fusion = Literal["rrf", "minmax", "zscore"]
Scorer = Callable[[np.ndarray], np.ndarray]


def union(*ranked: np.ndarray) -> np.ndarray:
    """Positions of all lists, first occurrence order (dense first, then BM25)."""
    seen: dict[int, None] = {}
    for r in ranked:
        seen.update(dict.fromkeys(r.tolist()))
    return np.fromiter(seen, dtype=np.int64, count=len(seen))


def rrf(ranked: list[np.ndarray], rrf_k: int, weights: list[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Reciprocal rank fusion of best-first position lists: (positions, scores), best first.

    ``weights`` scale each list's contribution (all 1: plain RRF).
    """
    pos = union(*ranked)
    index = {p: i for i, p in enumerate(pos.tolist())}
    score = np.zeros(len(pos), dtype=np.float64)
    for r, w in zip(ranked, weights or [1.0] * len(ranked), strict=True):
        for rank, p in enumerate(r.tolist(), start=1):
            score[index[p]] += w / (rrf_k + rank)
    return _sorted(pos, score)


def normalise(x: np.ndarray, how: Literal["minmax", "zscore"]) -> np.ndarray:
    """Min-max to [0, 1], or z-score; a constant list maps to zeros."""
    x = x.astype(np.float64)
    if how == "minmax":
        span = x.max() - x.min() if len(x) else 0.0
        return (x - x.min()) / span if span > 0 else np.zeros_like(x)
    std = x.std() if len(x) else 0.0
    return (x - x.mean()) / std if std > 0 else np.zeros_like(x)


def convex(
    ranked: list[np.ndarray], dense: Scorer, bm25: Scorer, alpha: float, how: Literal["minmax", "zscore"]
) -> tuple[np.ndarray, np.ndarray]:
    """``alpha * norm(dense) + (1 - alpha) * norm(bm25)`` over the union of candidates."""
    pos = union(*ranked)
    if not len(pos):
        return pos, np.zeros(0)
    score = alpha * normalise(dense(pos), how) + (1 - alpha) * normalise(bm25(pos), how)
    return _sorted(pos, score)


def fuse(
    method: Fusion, ranked: list[np.ndarray], dense: Scorer, bm25: Scorer, *, alpha: float = 0.5, rrf_k: int = 60
) -> tuple[np.ndarray, np.ndarray]:
    """Fuse [dense, bm25] best-first candidate lists with ``method``: (positions, scores), best first.

    ``alpha`` is the weight of dense (0.5: both equal), for every method.
    """
    if method == "rrf":  # alpha 0.5 is plain RRF; otherwise dense weighs 2 * alpha, BM25 2 * (1 - alpha)
        return rrf(ranked, rrf_k, [2 * alpha, 2 * (1 - alpha)])
    if method in ("minmax", "zscore"):
        return convex(ranked, dense, bm25, alpha, method)
    raise ValueError(f"unknown fusion {method!r}")


def _sorted(pos: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(-score, kind="stable")
    return pos[order], score[order]
