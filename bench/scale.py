"""``make bench-scale``: retrieval at a million chunks, default store (FAISS HNSW) and pgvector.

    python bench/scale.py [--chunks 1000000] [--quick] [--stores local,pgvector] [--ef 16,32,64,128,256]

Data. ``--chunks`` chunks (``--quick``: 100,000) of generated text (``--words`` pseudo-words each,
Zipf-distributed) in documents of 100 chunks, with 384-d vectors (MiniLM's dimension). Real
embeddings are clustered (texts on one topic lie close together; a uniform random cloud on the
sphere has no near neighbours and is unrealistically hard for any graph index), so the vectors
are a mixture of gaussians on the unit sphere: one cluster per 1,000 chunks, each vector its
cluster centre plus isotropic noise of the centre's length, normalised (cosine to its centre
~0.7, to another member ~0.5). 200 queries are drawn near the data: a random chunk's vector plus
noise of half its length, normalised. Every tenth document is readable by ``group:g3`` only
(and the others by ``group:g<doc % 10>``), so an ACL search as ``group:g3`` admits 10% of the
chunks, independent of the clusters.

Measured for each store: bulk load through ``Store.upsert`` (one document at a time) and the index
build (``flush``: for the local store the FAISS HNSW graph plus BM25 over every text), then dense
searches (k=10) one query at a time and 8 concurrent (threads), with and without the ACL, for each
``ef_search``: p50/p95 latency and recall@10 against exact search (numpy brute force over the
admitted rows). Also the FAISS index the local store saved, searched directly (no SQLite
read-back), and an exact flat scan for reference. Memory: RSS growth of this process for the local
store, relation sizes for PostgreSQL; disk: bytes on disk, both scaled to a million chunks.
Results go to bench/results/scale.json (``--quick``: scale-quick.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import faiss
import numpy as np
from rich.console import Console
from rich.table import Table

from inhouse import registry
from inhouse.evaluation.metrics import percentile
from inhouse.plugins import DocumentRecord, Store
from inhouse.types import Chunk

REPO = Path(__file__).resolve().parents[1]
DIM, K, PER_DOC, QUERIES, GROUPS, ACL_GROUP = 384, 10, 100, 200, 10, 3
GOAL_P95_MS, GOAL_RECALL = 50.0, 0.95
console = Console(width=150)


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (float32)."""
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def make_vectors(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` unit vectors from a mixture of gaussians on the sphere (one cluster per 1,000 rows)."""
    centres = unit(rng.standard_normal((max(1, n // 1000), DIM), dtype=np.float32))
    out = np.empty((n, DIM), dtype=np.float32)
    for i in range(0, n, 100_000):
        j = min(n, i + 100_000)
        noise = rng.standard_normal((j - i, DIM), dtype=np.float32) / np.sqrt(DIM)
        out[i:j] = unit(centres[rng.integers(0, len(centres), j - i)] + noise)
    return out


def make_queries(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Queries near the data: a random row plus noise of half its length, normalised."""
    rows = vectors[rng.integers(0, len(vectors), QUERIES)]
    return unit(rows + 0.5 * rng.standard_normal(rows.shape, dtype=np.float32) / np.sqrt(DIM))


def acl_mask(n: int) -> np.ndarray:
    """Rows readable by ``group:g3``: those of every tenth document (10%)."""
    return (np.arange(n) // PER_DOC) % GROUPS == ACL_GROUP


def exact_top(vectors: np.ndarray, queries: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """The true top-k rows of every query (numpy brute force over the admitted rows)."""
    best_s = np.full((len(queries), K), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(queries), K), dtype=np.int64)
    for i in range(0, len(vectors), 100_000):
        scores = queries @ vectors[i : i + 100_000].T
        if mask is not None:
            scores[:, ~mask[i : i + 100_000]] = -np.inf
        s = np.concatenate([best_s, scores], axis=1)
        ids = np.concatenate([best_i, np.arange(i, i + scores.shape[1])[None, :].repeat(len(queries), 0)], axis=1)
        part = np.argpartition(-s, K - 1, axis=1)[:, :K]
        best_s, best_i = np.take_along_axis(s, part, 1), np.take_along_axis(ids, part, 1)
    return best_i


def recall(found: list[np.ndarray], truth: np.ndarray) -> float:
    """Mean recall@k of the found rows against the true top-k."""
    return float(np.mean([len(set(f.tolist()) & set(t.tolist())) / K for f, t in zip(found, truth, strict=True)]))


def timed(search: Callable[[np.ndarray], np.ndarray], queries: np.ndarray, threads: int) -> tuple[dict[str, float], list]:
    """Run every query (one at a time, or ``threads`` concurrently); latency percentiles and QPS."""

    def one(q: np.ndarray) -> tuple[float, np.ndarray]:
        t0 = time.perf_counter()
        rows = search(q)
        return (time.perf_counter() - t0) * 1000, rows

    t0 = time.perf_counter()
    if threads == 1:
        out = [one(q) for q in queries]
    else:
        with ThreadPoolExecutor(threads) as pool:
            out = list(pool.map(one, queries))
    wall = time.perf_counter() - t0
    ms = [m for m, _ in out]
    stats = {"p50_ms": round(percentile(ms, 50), 2), "p95_ms": round(percentile(ms, 95), 2), "qps": round(len(queries) / wall, 1)}
    return stats, [r for _, r in out]


def rss() -> int:
    """This process's resident memory in bytes (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def du(path: Path) -> int:
    """Bytes of every file under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


VOCAB = np.array(
    [
        f"{a}{b}{c}"
        for a in ("ka", "lo", "mi", "nu", "pe", "ra", "si", "to", "ve", "zu")
        for b in ("ba", "de", "fi", "go", "hu", "ja", "ke", "li", "mo", "ny")
        for c in ("n", "r", "s", "t", "x", "l", "m", "")
    ]
)


def documents(
    vectors: np.ndarray, words: int, rng: np.random.Generator
) -> Iterator[tuple[DocumentRecord, list[Chunk], np.ndarray]]:
    """Documents of ``PER_DOC`` chunks of generated text, each with its rows of ``vectors``."""
    ranks = np.arange(1, len(VOCAB) + 1)
    zipf = (1 / ranks) / np.sum(1 / ranks)
    for d, i in enumerate(range(0, len(vectors), PER_DOC)):
        rows = range(i, min(len(vectors), i + PER_DOC))
        acl, doc_id, source = (f"group:g{d % GROUPS}",), f"d{d:06d}", f"docs/d{d:06d}.md"
        draws = VOCAB[rng.choice(len(VOCAB), (len(rows), words), p=zipf)]
        chunks = [
            Chunk(f"c{r:08d}", doc_id, source, f"Document {d}", " ".join(draws[j]), acl=acl, ordinal=j)
            for j, r in enumerate(rows)
        ]
        yield DocumentRecord(doc_id, source, "/bench", f"Document {d}", f"h{d}", 0.0, acl), chunks, vectors[i : rows.stop]


def sweep(
    name: str,
    search: Callable[[np.ndarray, bool], np.ndarray],
    set_ef: Callable[[int], None],
    queries: np.ndarray,
    truth: np.ndarray,
    truth_acl: np.ndarray,
    efs: list[int],
) -> dict[str, Any]:
    """Recall and latency per ef_search (one at a time), then 8 concurrent at the smallest ef reaching the goal."""
    rows: list[dict[str, Any]] = []
    for q in queries[:20]:  # warm up: page the index in
        search(q, False)
    for ef in efs:
        set_ef(ef)
        for acl, gt in ((False, truth), (True, truth_acl)):
            stats, found = timed(lambda q, a=acl: search(q, a), queries, 1)
            rows.append({"ef_search": ef, "acl_10pct": acl, "threads": 1, "recall@10": round(recall(found, gt), 4), **stats})
            console.print(f"  {name} ef={ef} acl={acl}: {rows[-1]}")
    good = [r["ef_search"] for r in rows if r["recall@10"] >= GOAL_RECALL]
    chosen = min((ef for ef in efs if good.count(ef) == 2), default=efs[-1])
    set_ef(chosen)
    for acl, gt in ((False, truth), (True, truth_acl)):
        stats, found = timed(lambda q, a=acl: search(q, a), queries, 8)
        rows.append({"ef_search": chosen, "acl_10pct": acl, "threads": 8, "recall@10": round(recall(found, gt), 4), **stats})
        console.print(f"  {name} ef={chosen} acl={acl} 8 threads: {rows[-1]}")
    return {"chosen_ef_search": chosen, "runs": rows}


def load(store: Store, vectors: np.ndarray, words: int) -> dict[str, Any]:
    """Bulk load through ``upsert`` then build the index (``flush``); seconds and chunks/s."""
    t0 = time.perf_counter()
    for doc in documents(vectors, words, np.random.default_rng(7)):
        store.upsert(*doc)
    loaded = time.perf_counter() - t0
    t1 = time.perf_counter()
    store.flush()
    return {
        "upsert_s": round(loaded, 1),
        "upsert_chunks_per_s": round(len(vectors) / loaded),
        "build_s": round(time.perf_counter() - t1, 1),
    }


def hits_to_rows(hits: list) -> np.ndarray:
    """Row numbers of the hits (chunk ids are ``c<row>``)."""
    return np.array([int(h.chunk.id[1:]) for h in hits], dtype=np.int64)


def store_search(store: Store) -> Callable[[np.ndarray, bool], np.ndarray]:
    """A dense k=10 search through the store, as the local caller or as ``group:g3``."""
    return lambda q, acl: hits_to_rows(store.search(q, "", k=K, acl=[f"group:g{ACL_GROUP}"] if acl else None, mode="dense"))


def measure_local(work: Path, vectors, queries, truth, truth_acl, args) -> dict[str, Any]:
    """The default store with ``index = "hnsw"``, then the FAISS index it saved, searched directly."""
    spec = {
        "use": "local",
        "path": str(work / "local"),
        "index": "hnsw",
        "hnsw_m": args.m,
        "hnsw_ef_construction": args.ef_construction,
    }
    before = rss()
    store = registry.build("stores", spec, "store", home=work, base_dir=work)
    out: dict[str, Any] = {"settings": {k: v for k, v in spec.items() if k.startswith("hnsw") or k == "index"}}
    out["load"] = load(store, vectors, args.words)
    out["rss_growth_bytes"] = rss() - before
    snap = next((work / "local" / "snapshots").glob("g*"))
    disk = {
        "sqlite": sum(p.stat().st_size for p in (work / "local").glob("store.sqlite3*")),
        "faiss": (snap / "dense.faiss").stat().st_size,
        "bm25": du(snap / "bm25") if (snap / "bm25").exists() else 0,
    }
    out["disk_bytes"] = disk
    out["store"] = sweep(
        "local store",
        store_search(store),
        lambda ef: setattr(store.config, "hnsw_ef_search", ef),
        queries,
        truth,
        truth_acl,
        args.ef,
    )
    store.close()
    index = faiss.read_index(str(snap / "dense.faiss"))
    flat = faiss.downcast_index(index.storage)
    bits = np.packbits(acl_mask(len(vectors)), bitorder="little")
    sel = faiss.IDSelectorBitmap(len(vectors), faiss.swig_ptr(bits))
    ef_now = [64]

    def direct(q: np.ndarray, acl: bool) -> np.ndarray:
        ef = int(np.ceil(ef_now[0] * np.sqrt(GROUPS))) if acl else ef_now[0]
        params = faiss.SearchParametersHNSW(efSearch=ef, sel=sel if acl else None)
        return index.search(q[None, :], K, params=params)[1][0]

    out["faiss_direct"] = sweep("faiss hnsw", direct, lambda ef: ef_now.__setitem__(0, ef), queries, truth, truth_acl, args.ef)
    out["faiss_direct"]["note"] = "ACL runs use ef_search x sqrt(10) (the admitted share is 10%), as the store widens it"
    every = faiss.IDSelectorAll()  # the single-threaded exact scan the store uses for small filtered sets
    stats, found = timed(lambda q: flat.search(q[None, :], K, params=faiss.SearchParameters(sel=every))[1][0], queries[:50], 1)
    out["exact_flat_scan"] = {**stats, "recall@10": round(recall(found, truth[:50]), 4), "queries": 50}
    stats, found = timed(lambda q: flat.search(q[None, :], K, params=faiss.SearchParameters(sel=sel))[1][0], queries[:50], 1)
    out["exact_flat_scan_acl_10pct"] = {**stats, "recall@10": round(recall(found, truth_acl[:50]), 4), "queries": 50}
    return out


PG_SETTINGS = {"shared_buffers": "4GB", "maintenance_work_mem": "4GB", "max_parallel_maintenance_workers": 2, "work_mem": "64MB"}


def measure_pgvector(work: Path, vectors, queries, truth, truth_acl, args) -> dict[str, Any]:
    """pgvector through its store plugin, on a PostgreSQL the plugin's test helper starts (fsync off)."""
    try:
        import psycopg

        from inhouse_pgvector.testing import postgres_server
    except ImportError as e:
        raise NotImplementedError(f"inhouse-pgvector is not installed ({e})") from e
    for folder in (work, work / "pgvector"):
        folder.chmod(0o755)  # the server runs as nobody when we are root
    spec = {"use": "pgvector", "hnsw_m": args.m, "hnsw_ef_construction": args.ef_construction}
    with postgres_server(work / "pgvector", settings=PG_SETTINGS) as dsn:
        store = registry.build("stores", {**spec, "dsn": dsn}, "store", home=work, base_dir=work)
        out: dict[str, Any] = {"settings": {**spec, "server": PG_SETTINGS, "fsync": "off (test server)"}}
        out["load"] = load(store, vectors, args.words)
        with psycopg.connect(dsn) as conn:
            sizes = conn.execute(
                "SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND c.relkind IN ('r', 'i', 't') "
                "AND pg_relation_size(c.oid) > 1048576"
            ).fetchall()
        out["disk_bytes"] = {name: size for name, size in sizes}
        search = store_search(store)
        out["store"] = sweep(
            "pgvector", search, lambda ef: setattr(store.config, "ef_search", ef), queries, truth, truth_acl, args.ef
        )
        store.close()
    return out


def per_million(value: float, n: int) -> float:
    """A size for ``n`` chunks scaled to a million, in GiB."""
    return round(value * 1_000_000 / n / 2**30, 3)


def report(results: dict[str, Any]) -> None:
    """Print the summary table."""
    t = Table(
        title=f"{results['chunks']:,} chunks, 384-d, k=10 (goal: p95 <= {GOAL_P95_MS:.0f} ms at recall@10 >= {GOAL_RECALL})"
    )
    for col in ("store", "path", "ef_search", "ACL 10%", "threads", "recall@10", "p50 ms", "p95 ms", "QPS"):
        t.add_column(col, justify="right" if col not in ("store", "path") else "left")
    for name, res in results["stores"].items():
        for path in ("store", "faiss_direct"):
            for r in res.get(path, {}).get("runs", []):
                if r["ef_search"] == res[path]["chosen_ef_search"] or r["threads"] == 1:
                    t.add_row(
                        name,
                        path,
                        str(r["ef_search"]),
                        "yes" if r["acl_10pct"] else "no",
                        str(r["threads"]),
                        f"{r['recall@10']:.3f}",
                        f"{r['p50_ms']:.1f}",
                        f"{r['p95_ms']:.1f}",
                        f"{r['qps']:.0f}",
                    )
    console.print(t)
    for name, res in results["stores"].items():
        console.print(f"{name}: " + json.dumps({k: v for k, v in res.items() if k not in ("store", "faiss_direct")}))


def main() -> None:
    """Generate the data, measure every store asked for, print and save the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--chunks", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="100,000 chunks")
    ap.add_argument("--stores", default="local,pgvector")
    ap.add_argument("--ef", default="16,32,64,128,256", help="ef_search values to sweep")
    ap.add_argument("--m", type=int, default=32, help="HNSW links per node")
    ap.add_argument("--ef-construction", type=int, default=80)
    ap.add_argument("--words", type=int, default=80, help="words per chunk")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one, removed)")
    args = ap.parse_args()
    args.ef = [int(x) for x in args.ef.split(",")]
    n = 100_000 if args.quick else args.chunks
    rng = np.random.default_rng(14)
    t0 = time.perf_counter()
    vectors = make_vectors(n, rng)
    queries = make_queries(vectors, rng)
    truth, truth_acl = exact_top(vectors, queries), exact_top(vectors, queries, acl_mask(n))
    console.print(f"{n:,} vectors and exact top-10 of {QUERIES} queries in {time.perf_counter() - t0:.0f}s")
    results: dict[str, Any] = {
        "chunks": n,
        "dim": DIM,
        "k": K,
        "queries": QUERIES,
        "words_per_chunk": args.words,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "faiss": faiss.__version__},
        "stores": {},
    }
    work = args.work or Path(tempfile.mkdtemp(prefix="inhouse-scale-"))
    try:
        for name in args.stores.split(","):
            measure = {"local": measure_local, "pgvector": measure_pgvector}[name]
            (work / name).mkdir(parents=True, exist_ok=True)
            try:
                res = measure(work, vectors, queries, truth, truth_acl, args)
            except NotImplementedError as e:
                res = {"skipped": str(e)}
            results["stores"][name] = res
            if "disk_bytes" in res:
                res["disk_gib_per_million"] = per_million(sum(res["disk_bytes"].values()), n)
            if "rss_growth_bytes" in res:
                res["memory_gib_per_million"] = per_million(res["rss_growth_bytes"], n)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    out = REPO / "bench" / "results" / ("scale-quick.json" if args.quick else "scale.json")
    earlier = json.loads(out.read_text()) if out.exists() else {}
    if earlier.get("chunks") == n:  # keep the stores measured by an earlier run of this size
        results["stores"] = {**earlier.get("stores", {}), **results["stores"]}
    report(results)
    out.write_text(json.dumps(results, indent=1) + "\n")
    console.print(f"saved {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
