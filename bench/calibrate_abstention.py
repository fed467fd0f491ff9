"""Calibrate ``[retrieval] min_similarity``: the best passage's cosine similarity below
which the assistant says it could not find the answer.

    python bench/calibrate_abstention.py [--shared ../shared/data]

Positives are questions the corpus answers; negatives are questions it does not:
- sample corpus (examples/handbook): tests/e2e_questions.json, plus the 600 ClapNQ
  questions (Wikipedia trivia, off-topic for a company handbook) as negatives;
- 18F handbook: bench/handbook_questions.jsonl, plus the same 600 off-topic negatives;
- ClapNQ over its own 597 passages: 300 answerable vs 300 unanswerable questions (whose
  related passage is in the corpus: retrieval alone can hardly tell them apart; reported
  to show that limit).
The threshold maximises balanced accuracy on the two company corpora together.
Writes bench/results/abstention.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np

from run import REPO, handbook_questions, make_assistant


def best_similarity(assistant, questions: list[str]) -> np.ndarray:
    """The highest dense similarity among each question's hybrid top-k hits."""
    k = assistant.settings.core.retrieval.k
    out = []
    for q in questions:
        hits = assistant.search(q, k=k)
        out.append(max((h.dense for h in hits if h.dense is not None), default=-1.0))
    return np.array(out)


def balanced_accuracy(pos: np.ndarray, neg: np.ndarray, t: float) -> float:
    return ((pos >= t).mean() + (neg < t).mean()) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    clap = args.shared / "clapnq" / "annotated_data" / "dev"
    answerable = [json.loads(x) for x in (clap / "clapnq_dev_answerable.jsonl").open()]
    unanswerable = [json.loads(x) for x in (clap / "clapnq_dev_unanswerable.jsonl").open()]
    off_topic = [r["input"] for r in answerable + unanswerable]
    e2e = json.loads((REPO / "tests" / "e2e_questions.json").read_text())
    sets: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "a").mkdir()
        a = make_assistant(work / "a", REPO / "examples" / "handbook")
        a.ingest()
        sets["sample corpus"] = (
            best_similarity(a, [q["question"] for q in e2e if q["source"]]),
            best_similarity(a, [q["question"] for q in e2e if not q["source"]] + off_topic),
        )
        a.close()
        (work / "b").mkdir()
        b = make_assistant(work / "b", args.shared / "handbook")
        b.ingest()
        sets["18F handbook"] = (best_similarity(b, [q["q"] for q in handbook_questions()]), best_similarity(b, off_topic))
        b.close()
        passages = work / "clapnq"
        passages.mkdir()
        seen = set()
        for r in answerable + unanswerable:
            for p in r["passages"]:
                if p["text"] not in seen:
                    seen.add(p["text"])
                    (passages / f"p{len(seen):04d}.txt").write_text(f"{p['title']}\n{p['text']}")
        (work / "c").mkdir()
        c = make_assistant(work / "c", passages)
        c.ingest()
        sets["ClapNQ (related passage present)"] = (
            best_similarity(c, [r["input"] for r in answerable]),
            best_similarity(c, [r["input"] for r in unanswerable]),
        )
        c.close()
    company = [name for name in sets if not name.startswith("ClapNQ")]
    pos = np.concatenate([sets[n][0] for n in company])
    neg = np.concatenate([sets[n][1] for n in company])
    grid = np.round(np.arange(0.0, 0.8, 0.01), 2)
    best = max(grid, key=lambda t: (balanced_accuracy(pos, neg, t), -abs(t - 0.3)))
    report = {"threshold": float(best), "sets": {}}
    print(f"chosen min_similarity = {best:.2f}")
    print(f"{'set':36} {'answered (pos)':>15} {'abstained (neg)':>16} {'balanced acc':>13}")
    for name, (p, n) in sets.items():
        row = {
            "positives": len(p),
            "negatives": len(n),
            "answered_rate": float((p >= best).mean()),
            "abstained_rate": float((n < best).mean()),
            "balanced_accuracy": float(balanced_accuracy(p, n, best)),
            "pos_median": float(np.median(p)),
            "neg_median": float(np.median(n)),
        }
        report["sets"][name] = row
        print(f"{name:36} {row['answered_rate']:15.3f} {row['abstained_rate']:16.3f} {row['balanced_accuracy']:13.3f}")
    out = REPO / "bench" / "results" / "abstention.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
