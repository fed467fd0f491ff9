"""ClapNQ (``../shared/data/clapnq``): answers and abstention on real questions with gold passages.

    python bench/clapnq.py [--shared ../shared/data] [--work DIR] [--half all|first|second] [--config FILE]
                           [--min-support X]

The corpus is ClapNQ's 597 passages (one text file each, its title on the first line) plus the
18F handbook as distractors, ingested once into ``--work``. Each of the 300 answerable and 300
unanswerable questions is asked of the offline default (or ``--config``); the report gives:

- gold-passage retrieval: the gold passage among the passages the model received;
- ROUGE-L F1 of the answer against the best of the reference answers (answerable questions,
  an abstention scoring 0), and sentence recall: the share of the reference's selected
  sentences that the answer contains (mostly);
- abstention: the unanswerable questions refused, the answerable ones wrongly refused.

It also gives what a stricter ``[answer] min_support`` would do (answerable questions still
answered, unanswerable ones refused, per threshold: ``inhouse.evaluation.qa.trade_off``);
``--min-support`` answers with a lower one to see below the default.

``--half first`` is the calibration half of bench/calibrate_evidence.py; ``second`` the
held-out half. Results go to bench/results/clapnq.json. The dev figures the ClapNQ paper
reports (``PAPER``) are printed beside ours; its systems retrieve from the full 183k-passage
corpus, so their retrieval is harder than ours, and its RougeL is its own implementation.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from rich.console import Console
from rich.table import Table

from inhouse import Assistant
from inhouse.evaluation import qa
from inhouse.evaluation.metrics import percentile

REPO = Path(__file__).resolve().parents[1]
console = Console()
# Rosenthal et al., "CLAPnq" (arXiv 2404.02103), dev set: (retriever, generator, RougeL on the
# answerable half, share of the unanswerable half answered "unanswerable"): Table 6 (top 3
# retrieved passages) and the gold-passage rows (no retrieval) of Tables 5 and 6.
PAPER = (
    ("E5-base-v2", "GPT 3.5", 34.0, 27.3),
    ("E5-base-v2", "Mistral-7B-Instruct", 31.3, 11.7),
    ("all-MiniLM-L6-v2", "CLAPnq-T5-lg (fine-tuned on ClapNQ)", 36.6, 49.8),
    ("E5-base-v2", "CLAPnq-T5-lg", 42.8, 40.1),
    ("E5-base-v2", "E5-CLAPnq-T5-lg (fine-tuned on retrieved passages)", 30.4, 82.7),
    ("gold passage", "GPT 4", 35.9, 18.0),
    ("gold passage", "CLAPnq-T5-lg", 57.3, 89.5),
)
_TOKEN = re.compile(r"\w+")


def load(shared: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The answerable and the unanswerable questions."""
    folder = shared / "clapnq" / "annotated_data" / "dev"

    def read(name: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (folder / name).read_text(encoding="utf-8").splitlines() if line.strip()]

    return read("clapnq_dev_answerable.jsonl"), read("clapnq_dev_unanswerable.jsonl")


def passage_file(title: str, text: str) -> str:
    """A stable file name for a passage (its title and a hash of its text)."""
    import hashlib

    slug = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-")[:60] or "passage"
    return f"{slug}-{hashlib.sha1(text.encode()).hexdigest()[:10]}.txt"


def build_corpus(rows: list[dict[str, Any]], target: Path) -> int:
    """One ``.txt`` per unique passage (title, blank line, text); returns how many."""
    target.mkdir(parents=True, exist_ok=True)
    seen = set()
    for row in rows:
        for p in row["passages"]:
            name = passage_file(p["title"], p["text"])
            if name not in seen:
                seen.add(name)
                (target / name).write_text(f"{p['title']}\n\n{p['text']}\n", encoding="utf-8")
    return len(seen)


def assistant(work: Path, corpus: Path, handbook: Path, config: Path | None) -> Assistant:
    """The assistant of ``config`` (default: the offline default) on ClapNQ plus the handbook."""
    if config is None:
        config = work / "plugins.toml"
        config.write_text(
            '[embedder]\nuse = "minilm"\n[store]\nuse = "local"\n'
            f'[connectors.clapnq]\nuse = "filesystem"\npath = "{corpus}"\n'
            f'[connectors.handbook]\nuse = "filesystem"\npath = "{handbook}"\n'
            '[providers.extractive]\nuse = "extractive"\n[routing]\ndefault = ["extractive"]\n'
        )
    return Assistant.from_config(config, work / "home")


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 over lower-cased word tokens (longest common subsequence)."""
    a, b = _TOKEN.findall(candidate.lower()), _TOKEN.findall(reference.lower())
    if not a or not b:
        return 0.0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    lcs = previous[-1]
    if not lcs:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return 2 * precision * recall / (precision + recall)


def sentence_recall(answer: str, selected: list[str]) -> float:
    """Share of the selected sentences whose words the answer mostly (80%) contains."""
    words = set(_TOKEN.findall(answer.lower()))
    if not selected:
        return 0.0
    hits = 0
    for sentence in selected:
        wanted = set(_TOKEN.findall(sentence.lower()))
        hits += bool(wanted) and len(wanted & words) / len(wanted) >= 0.8
    return hits / len(selected)


def half(rows: list[dict[str, Any]], which: str) -> list[dict[str, Any]]:
    """All rows, or the first or second half (calibration and held-out)."""
    middle = len(rows) // 2
    return rows if which == "all" else rows[:middle] if which == "first" else rows[middle:]


def evaluate(a: Assistant, answerable: list[dict[str, Any]], unanswerable: list[dict[str, Any]]) -> dict[str, Any]:
    """Ask every question; the figures of the report."""
    rows, judged = [], []
    for kind, items in (("answerable", answerable), ("unanswerable", unanswerable)):
        for item in items:
            started = time.perf_counter()
            answer = a.ask(item["input"])
            seconds = time.perf_counter() - started
            question = qa.Question(item["id"], item["input"], (), (), "fact" if kind == "answerable" else "unanswerable")
            judged.append(qa.judge(question, answer, seconds))
            gold = {passage_file(p["title"], p["text"]) for p in item["passages"]}
            received = {Path(c["source"]).name for c in answer.context}
            row = {"kind": kind, "abstained": answer.abstained, "ms": seconds * 1000, "gold_in_context": bool(gold & received)}
            if kind == "answerable":
                references = [o["answer"] for o in item["output"] if o.get("answer")]
                selected = [s for o in item["output"] for s in o.get("selected_sentences", [])]
                text = "" if answer.abstained else answer.text
                row["rouge_l"] = max((rouge_l(text, r) for r in references), default=0.0)
                row["sentence_recall"] = sentence_recall(text, selected)
            rows.append(row)
    ans = [r for r in rows if r["kind"] == "answerable"]
    una = [r for r in rows if r["kind"] == "unanswerable"]
    ms = [r["ms"] for r in rows]
    return {
        "answerable": len(ans),
        "unanswerable": len(una),
        "gold_passage_in_context": _share(ans, "gold_in_context"),
        "rouge_l": round(statistics.fmean(r["rouge_l"] for r in ans), 4) if ans else None,
        "sentence_recall": round(statistics.fmean(r["sentence_recall"] for r in ans), 4) if ans else None,
        "answered_answerable": round(1 - _share(ans, "abstained"), 4) if ans else None,
        "refused_unanswerable": _share(una, "abstained"),
        "p50_ms": round(percentile(ms, 50), 1),
        "p95_ms": round(percentile(ms, 95), 1),
        "min_support": [
            {"min_support": row["min_support"], "answered_answerable": round(1 - row["wrongly_refused"], 4) if ans else None,
             "refused_unanswerable": row["refused_unanswerable"]}
            for row in qa.trade_off(judged, a.settings.core.answer.min_support)
        ],
    }  # fmt: skip


def _share(rows: list[dict[str, Any]], key: str) -> float:
    return round(sum(bool(r[key]) for r in rows) / len(rows), 4) if rows else 0.0


def paper_table(result: dict[str, Any]) -> Table:
    """Our ROUGE-L and refusals next to the dev figures of the ClapNQ paper (``PAPER``)."""
    table = Table("retriever", "generator", "RougeL", "unanswerable refused", title="next to the ClapNQ paper (dev)")
    rouge, refused = result.get("rouge_l"), result.get("refused_unanswerable")
    threshold = result["min_support"][0]["min_support"] if result.get("min_support") else None
    table.add_row(
        "inhouse (597 passages + handbook)",
        "offline default" + (f", min_support {threshold:.2f}" if threshold is not None else ""),
        f"{100 * rouge:.1f}" if rouge is not None else "-",
        f"{100 * refused:.1f}%" if refused is not None else "-",
    )
    for retriever, generator, paper_rouge, paper_refused in PAPER:
        table.add_row(retriever, generator, f"{paper_rouge:.1f}", f"{paper_refused:.1f}%")
    return table


def main() -> None:
    """Build or reuse the corpus, ask the questions, print and save the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "inhouse-clapnq")
    parser.add_argument("--half", choices=("all", "first", "second"), default="all")
    parser.add_argument("--config", type=Path, help="a plugins.toml to answer with (default: the offline default)")
    parser.add_argument("--min-support", type=float, help="[answer] min_support for this run")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "clapnq.json")
    args = parser.parse_args()
    if not (args.shared / "clapnq").is_dir():
        sys.exit(f"no ClapNQ data in {args.shared}: pass --shared")
    answerable, unanswerable = load(args.shared)
    corpus = args.work / "corpus"
    passages = build_corpus(answerable + unanswerable, corpus)
    with assistant(args.work, corpus, args.shared / "handbook", args.config) as a:
        started = time.perf_counter()
        report = a.ingest(progress=sys.stderr.isatty())
        seconds = time.perf_counter() - started
        console.print(f"[dim]{passages} ClapNQ passages + the handbook: {report.chunks} new chunks in {seconds:.0f} s[/]")
        a.ask("warm up")
        if args.min_support is not None:
            a.settings.core.answer.min_support = args.min_support
        result = evaluate(a, half(answerable, args.half), half(unanswerable, args.half))
    result["half"] = args.half
    table = Table("metric", "value", title=f"ClapNQ dev ({args.half})")
    for key, value in result.items():
        if key != "min_support":
            table.add_row(key, str(value))
    console.print(table)
    stricter = Table("min_support", "answerable answered", "unanswerable refused", title="stricter min_support")
    for row in result["min_support"]:
        stricter.add_row(f"{row['min_support']:.2f}", f"{row['answered_answerable']:.1%}", f"{row['refused_unanswerable']:.1%}")
    console.print(stricter)
    console.print(paper_table(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    console.print(f"[dim]written {args.out}[/]")


if __name__ == "__main__":
    main()
