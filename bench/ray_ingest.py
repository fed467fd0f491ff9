"""Ingestion on Ray (``inhouse-ray``) against the default single-process engine: the same corpus
(examples/ plus /work/shared/data/handbook when present) ingested into a fresh index with the
default engine, then on a local Ray with 1 and with 2 embedder actors (the real MiniLM
embedder, the local store). Chunks/s and seconds of each ingest; the model load is not counted
(each engine embeds a warm-up batch first), the Ray start and the actors' start are reported
on their own. Every run must write the same index (checked: document and chunk ids, vectors
within 1e-5).

    python bench/ray_ingest.py [--workers 1,2] [--no-shared]

A local Ray gets one logical CPU per actor plus one for the parsing tasks (``[ray] num_cpus``),
each actor one CPU (``cpus_per_worker = 1``) and its model one thread (``[embedder] threads = 1``);
the default engine's model uses every core. Results go to bench/results/ray_ingest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
from rich.console import Console
from rich.table import Table

from inhouse import Assistant
from inhouse.engines import Engine, open_engine

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "handbook"
SHARED = REPO.parent / "shared" / "data" / "handbook"
RESULTS = REPO / "bench" / "results" / "ray_ingest.json"
console = Console(width=max(Console().width, 120))


def write_config(folder: Path, corpora: list[Path], embedder: str = "", ray: str = "") -> Path:
    """MiniLM (with ``embedder`` keys), the local store, one filesystem connector per corpus, and a ``[ray]`` table."""
    connectors = "".join(f'[connectors.c{i}]\nuse = "filesystem"\npath = "{p}"\n' for i, p in enumerate(corpora))
    path = folder / "plugins.toml"
    path.write_text(f'[embedder]\nuse = "minilm"\n{embedder}[store]\nuse = "local"\n{connectors}{ray}\n', encoding="utf-8")
    return path


def snapshot(assistant: Assistant) -> dict[str, tuple[list[str], np.ndarray]]:
    """Each stored document's chunk ids and vectors."""
    return {record.id: ([c.id for c in chunks], vectors) for record, chunks, vectors in assistant.store.export()}


def same(a: dict[str, tuple[list[str], np.ndarray]], b: dict[str, tuple[list[str], np.ndarray]]) -> bool:
    """Whether two snapshots hold the same documents and chunks, vectors within 1e-5."""
    if a.keys() != b.keys():
        return False
    close = np.allclose
    return all(a[k][0] == b[k][0] and a[k][1].shape == b[k][1].shape and close(a[k][1], b[k][1], atol=1e-5, rtol=0) for k in a)


def run(label: str, corpora: list[Path], work: Path, workers: int | None) -> tuple[dict[str, Any], dict]:
    """One ingest into a fresh index: the default engine (``workers`` None) or Ray with ``workers`` actors."""
    ray = "" if workers is None else f"[ray]\nworkers = {workers}\nnum_cpus = {workers + 1}\ncpus_per_worker = 1\n"
    threads = "" if workers is None else "threads = 1\n"  # an actor's model runs on the CPU it reserves
    folder = work / label.replace(" ", "-")
    folder.mkdir()
    with Assistant.from_config(write_config(folder, corpora, threads, ray), home=folder / "home") as assistant:
        started = time.perf_counter()
        engine = Engine(assistant.embedder) if workers is None else open_engine("ray", None, assistant)
        with engine:
            engine.embed(["warm-up"] * 64 * max(workers or 1, 1))  # loads the model (in every actor)
            ready = time.perf_counter() - started
            report = assistant.ingest(engine=engine)
        row = {
            "engine": label,
            "workers": workers,
            "start_s": round(ready, 2),
            "seconds": round(report.seconds, 2),
            "documents": report.added,
            "chunks": report.chunks,
            "chunks_per_s": round(report.chunks / report.seconds, 2) if report.seconds else None,
            "failed": len(report.failed),
        }
        return row, snapshot(assistant)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", default="1,2", help="Ray embedder actors per run, comma-separated")
    parser.add_argument("--no-shared", action="store_true", help=f"examples/ only, not {SHARED}")
    args = parser.parse_args()
    corpora = [EXAMPLES] + ([SHARED] if SHARED.is_dir() and not args.no_shared else [])
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        reference, expected = run("default", corpora, Path(tmp), None)
        rows.append({**reference, "same_index": True})
        for n in [int(w) for w in args.workers.split(",")]:
            row, got = run(f"ray {n} worker{'s' if n > 1 else ''}", corpora, Path(tmp), n)
            rows.append({**row, "same_index": same(expected, got)})
    results = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": sys.version.split()[0]},
        "corpus": [str(p) for p in corpora],
        "runs": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    show(results)


def show(results: dict[str, Any]) -> None:
    """The runs as a table."""
    table = Table(title=f"ingestion on Ray ({results['machine']['cpus']} CPUs): {', '.join(results['corpus'])}")
    for column in ("engine", "start s", "ingest s", "documents", "chunks", "chunks/s", "failed", "same index"):
        table.add_column(column, justify="left" if column == "engine" else "right")
    for r in results["runs"]:
        table.add_row(
            r["engine"],
            f"{r['start_s']:.1f}",
            f"{r['seconds']:.1f}",
            str(r["documents"]),
            str(r["chunks"]),
            f"{r['chunks_per_s']:.1f}",
            str(r["failed"]),
            "yes" if r["same_index"] else "NO",
        )
    console.print(table)
    console.print(f"written to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
