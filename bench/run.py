"""``make bench``: retrieval quality and speed on ../shared data; prints a table, writes JSON.

    python bench/run.py [--only handbook,ttft,scifact] [--shared ../shared/data]

Results go to bench/results/bench.json (one object per section).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from rich.console import Console
from rich.table import Table

from inhouse import Assistant
from inhouse.evaluation import beir
from inhouse.evaluation.metrics import percentile

REPO = Path(__file__).resolve().parents[1]
console = Console()


def make_assistant(home: Path, corpus: Path | None = None) -> Assistant:
    """An assistant on the default offline plugins, with a connector on ``corpus``."""
    config = home / "plugins.toml"
    connector = f'[connectors.corpus]\nuse = "filesystem"\npath = "{corpus}"\n' if corpus else ""
    config.write_text(
        '[embedder]\nuse = "minilm"\n[store]\nuse = "local"\n'
        f'{connector}[providers.local]\nuse = "local"\n[routing]\ndefault = ["local"]\n'
    )
    return Assistant.from_config(config, home / "home")


def handbook_questions() -> list[dict]:
    """The employee-style question set written for this benchmark."""
    with (REPO / "bench" / "handbook_questions.jsonl").open() as fh:
        return [json.loads(line) for line in fh if line.strip()]


def bench_handbook(shared: Path, work: Path) -> dict:
    """Ingestion speed vs raw encoder time, top-5 page hit rate, retrieval latency."""
    corpus = shared / "handbook"
    assistant = make_assistant(work, corpus)
    embedder = assistant.embedder
    embedder.embed(["warm up the model"])  # model load is not ingestion work
    batches: list[list[str]] = []
    embed = embedder.embed
    embedder.embed = lambda texts: (batches.append(list(texts)), embed(texts))[1]  # type: ignore[method-assign]
    report = assistant.ingest()
    embedder.embed = embed  # type: ignore[method-assign]
    store = assistant.store
    t0 = time.perf_counter()
    for texts in batches:
        embed(texts)
    encoder_s = time.perf_counter() - t0
    questions = handbook_questions()
    found, search_ms, store_ms = 0, [], []
    prefix = "pages/"
    for q in questions:
        expected = {q["page"], *q.get("also", [])}
        t0 = time.perf_counter()
        hits = assistant.search(q["q"], k=5)
        search_ms.append((time.perf_counter() - t0) * 1000)
        found += any(h.chunk.source in expected or f"{prefix}{h.chunk.source}" in expected for h in hits)
        vector = assistant.embedder.embed_query(q["q"])
        t0 = time.perf_counter()
        store.search(vector, q["q"], k=5)
        store_ms.append((time.perf_counter() - t0) * 1000)
    result = {
        "files": report.added + report.updated,
        "failed": report.failed,
        "chunks": report.chunks,
        "ingest_seconds": report.seconds,
        "chunks_per_second": report.chunks / report.seconds,
        "encoder_seconds": encoder_s,
        "ingest_to_encoder_ratio": report.seconds / encoder_s,
        "questions": len(questions),
        "top5_page_hit_rate": found / len(questions),
        "search_ms_p50": percentile(search_ms, 50),
        "search_ms_p95": percentile(search_ms, 95),
        "store_search_ms_p50": percentile(store_ms, 50),
        "store_search_ms_p95": percentile(store_ms, 95),
    }
    assistant.close()
    return result


def bench_ttft(work: Path) -> dict:
    """Local model time to first token on the sample corpus: first call, then warm calls."""
    assistant = make_assistant(work, REPO / "examples" / "handbook")
    assistant.ingest()
    questions = [q["question"] for q in json.loads((REPO / "tests" / "e2e_questions.json").read_text()) if q["source"]]
    t0 = time.perf_counter()
    first = assistant.ask(questions[0])
    load_and_first = (time.perf_counter() - t0) * 1000
    ttft, total, repeat = [], [], []
    for q in questions[1:]:
        answer = assistant.ask(q)
        if not answer.abstained:
            ttft.append(answer.timings["first_token_ms"])
            total.append(answer.timings["total_ms"])
    for q in questions[1:6]:
        assistant.ask(q)
        repeat.append(assistant.ask(q).timings["first_token_ms"])
    assistant.close()
    return {
        "first_call_ms_including_model_load": load_and_first,
        "first_call_ttft_ms": first.timings.get("first_token_ms"),
        "questions": len(ttft),
        "ttft_ms_p50": percentile(ttft, 50),
        "ttft_ms_p95": percentile(ttft, 95),
        "total_ms_p50": percentile(total, 50),
        "cached_prefix_ttft_ms_p50": percentile(repeat, 50),
        "cached_prefix_ttft_ms_p95": percentile(repeat, 95),
    }


def bench_scifact(shared: Path, work: Path) -> dict:
    """BEIR SciFact, test split: nDCG@10, Recall@100, MRR@10 per method."""
    assistant = make_assistant(work)
    result = beir.evaluate(assistant, shared / "scifact", "test")
    assistant.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="handbook,ttft,scifact")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "bench.json")
    args = parser.parse_args()
    if not args.shared.is_dir():
        sys.exit(f"benchmark data not found at {args.shared} (pass --shared)")
    results: dict = {}
    sections = args.only.split(",")
    with tempfile.TemporaryDirectory(prefix="inhouse-bench-") as tmp:
        for name in sections:
            work = Path(tmp) / name
            work.mkdir()
            console.print(f"[bold]running {name}…[/]")
            if name == "handbook":
                results[name] = bench_handbook(args.shared, work)
            elif name == "ttft":
                results[name] = bench_ttft(work)
            elif name == "scifact":
                results[name] = bench_scifact(args.shared, work)
    results["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    show(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    previous.update(results)
    args.out.write_text(json.dumps(previous, indent=2, default=float) + "\n")
    console.print(f"[dim]saved {args.out}[/]")


def show(results: dict) -> None:
    table = Table("section", "metric", "value")
    for section, values in results.items():
        if not isinstance(values, dict):
            table.add_row("", section, f"{values:.1f}")
            continue
        if section == "scifact":
            for method, r in values["methods"].items():
                table.add_row(
                    section,
                    f"{method} nDCG@10 / R@100 / MRR@10",
                    f"{r['ndcg@10']:.4f} / {r['recall@100']:.4f} / {r['mrr@10']:.4f}",
                )
            continue
        for key, value in values.items():
            if isinstance(value, float | int | np.floating):
                table.add_row(section, key, f"{value:.3f}" if isinstance(value, float) else str(value))
    console.print(table)


if __name__ == "__main__":
    main()
