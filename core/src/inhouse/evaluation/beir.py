"""``inhouse eval beir``: index a BEIR-format folder and score bm25, dense and hybrid search.

A BEIR folder has ``corpus.jsonl`` (``_id``, ``title``, ``text``), ``queries.jsonl``
(``_id``, ``text``) and ``qrels/<split>.tsv`` (query-id, corpus-id, score). The index is
built once per corpus (keyed by its content hash) under ``<home>/eval/`` and reused.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import track

from inhouse import registry
from inhouse.errors import ConfigError
from inhouse.evaluation.metrics import mrr_at, ndcg_at, percentile, recall_at
from inhouse.plugins import DocumentRecord
from inhouse.types import Chunk

METHODS = ("bm25", "dense", "hybrid")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every JSON object of a JSON-lines file."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``{query_id: {doc_id: grade}}`` from a BEIR qrels TSV (with a header row)."""
    qrels: dict[str, dict[str, int]] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        parts = line.split("\t")
        if n == 0 and not parts[-1].strip().lstrip("-").isdigit():
            continue
        if len(parts) >= 3:
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return qrels


def evaluate(assistant: Any, folder: Path, split: str = "test", *, progress: bool = False, k: int = 100) -> dict[str, Any]:
    """Index ``folder``'s corpus (or reuse the index) and score every method on ``split``."""
    folder = Path(folder)
    files = {name: folder / name for name in ("corpus.jsonl", "queries.jsonl")}
    qrels_path = folder / "qrels" / f"{split}.tsv"
    for path in [*files.values(), qrels_path]:
        if not path.is_file():
            raise ConfigError(f"{path} is missing: a BEIR folder has corpus.jsonl, queries.jsonl and qrels/{split}.tsv")
    qrels = read_qrels(qrels_path)
    queries = [q for q in read_jsonl(files["queries.jsonl"]) if str(q["_id"]) in qrels]
    store, index_seconds, n_docs = _index(assistant, files["corpus.jsonl"], progress)
    vectors = assistant.embedder.embed([q["text"] for q in queries])
    results: dict[str, Any] = {}
    for method in METHODS:
        scores: dict[str, list[float]] = {"ndcg@10": [], "recall@100": [], "mrr@10": [], "ms": []}
        for query, vector in zip(queries, vectors, strict=True):
            t0 = time.perf_counter()
            hits = store.search(None if method == "bm25" else vector, query["text"], k=k, mode=method)
            scores["ms"].append((time.perf_counter() - t0) * 1000)
            ranked = [h.chunk.doc_id for h in hits]
            judged = qrels[str(query["_id"])]
            scores["ndcg@10"].append(ndcg_at(ranked, judged, 10))
            scores["recall@100"].append(recall_at(ranked, judged, 100))
            scores["mrr@10"].append(mrr_at(ranked, judged, 10))
        results[method] = {m: float(np.mean(v)) for m, v in scores.items() if m != "ms"}
        results[method].update(p50_ms=percentile(scores["ms"], 50), p95_ms=percentile(scores["ms"], 95))
    store.close()
    return {
        "dataset": folder.name,
        "split": split,
        "queries": len(queries),
        "documents": n_docs,
        "index_seconds": index_seconds,
        "methods": results,
    }


def _index(assistant: Any, corpus_path: Path, progress: bool) -> tuple[Any, float, int]:
    digest = hashlib.sha256(corpus_path.read_bytes()).hexdigest()[:16]
    embedder = assistant.embedder
    spec = dict(assistant.settings.store)
    spec["path"] = str(assistant.home / "eval" / f"{corpus_path.parent.name}-{digest}-{embedder.model_id.replace('/', '_')}")
    store = registry.build("stores", spec, "store", home=assistant.home, base_dir=assistant.settings.base_dir)
    corpus = read_jsonl(corpus_path)
    if store.count() == len(corpus):
        return store, 0.0, len(corpus)
    t0 = time.perf_counter()
    batch = 256
    steps = range(0, len(corpus), batch)
    for start in track(steps, description="indexing", disable=not progress):
        rows = corpus[start : start + batch]
        chunks = [
            Chunk(id=str(r["_id"]), doc_id=str(r["_id"]), source=str(r["_id"]), title=r.get("title", ""), text=r.get("text", ""))
            for r in rows
        ]
        vectors = embedder.embed([c.embed_text() for c in chunks])
        for chunk, vector in zip(chunks, vectors, strict=True):
            record = DocumentRecord(chunk.doc_id, chunk.source, "beir", chunk.title, digest, 0.0)
            store.upsert(record, [chunk], vector[None, :])
    store.flush()
    return store, time.perf_counter() - t0, len(corpus)
