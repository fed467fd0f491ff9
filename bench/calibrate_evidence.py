"""Fit the evidence weights (``inhouse.answering.evidence``) on labelled questions.

    python bench/calibrate_evidence.py [--shared ../shared/data] [--work DIR]

Calibration data (never the held-out sets):

- ClapNQ dev, the first half: 150 answerable questions, whose reference answers were built
  from ``selected_sentences`` of a gold passage (the gold sentences), and 150 unanswerable ones;
- the sample corpus' question sets: ``bench/qa/examples.jsonl`` (a sentence holding a
  keyword of its question is gold) and the colloquial ``tests/e2e_questions.json`` (a sentence
  holding the expected answer is gold; its off-topic questions are unanswerable).

For every question the pipeline runs up to its scored passages; each sentence gets its
features (cosine, weighted word coverage, answer kind, passage rank). Two logistic
regressions are fitted (Newton's method, a little L2): gold sentence or not (the sentence
weights: only their ranking matters), and "the passages answer it" (answerable with its
gold passage among the passages, against unanswerable) from the best sentence of the
best-answered part and the question's word coverage; the sample corpus' questions weigh
five times a ClapNQ one. The ``min_support`` it prints keeps every one of the sample corpus'
answerable questions answered (the configured default, rounded down). Before the colloquial
set joined the fit, even keeping 95% of the other set refused half of the colloquial
questions, and the default had to stay at 0.2. Prints the constants to put in
``evidence.py`` and ``[answer] min_support``, and writes bench/results/evidence.json. The
held-out figures are ``bench/clapnq.py --half second`` and ``inhouse eval qa bench/qa/handbook.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np

import clapnq  # bench/clapnq.py, beside this script
from inhouse import Assistant
from inhouse.answering.draft import Draft, Request
from inhouse.answering.evidence import SENTENCE_WEIGHTS, Features
from inhouse.answering.stages import Check, Gate, Score
from inhouse.evaluation.qa import normalise, read_questions

REPO = Path(__file__).resolve().parents[1]
SENTENCE = ["dense", "lexical", "kind", "rank"]
SUPPORT = ["score", "dense", "lexical", "kind", "rank", "coverage", "passage_coverage", "similarity"]
KEEP_ANSWERED = 1.0  # of the company-corpus (sample corpus) questions whose passages answer them
# A question of the company corpus (examples) counts this many ClapNQ questions: the product
# answers from company documents, and ClapNQ's Wikipedia passages read differently.
EXAMPLE_WEIGHT = 5.0


def passages_of(a: Assistant, question: str) -> tuple[Draft, list[Features], dict[str, float]] | None:
    """The pipeline's draft up to its passages (no gate, no scoring, no check: the fit must see
    every question), and the features of the sentences the Score stage would score."""
    pipeline = a.pipeline
    draft: Any = pipeline.understand.run(Request(question))
    for stage in pipeline.stages:
        if isinstance(stage, Gate | Score | Check):
            continue
        draft = stage.run(draft)
        if not isinstance(draft, Draft):
            return None
    head = draft.passages[: Score.SCORED]
    rows, pool = a._scorer(True).features(draft.parts, head)
    return draft, rows, pool


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1e-2, steps: int = 50, weight: np.ndarray | None = None) -> np.ndarray:
    """Logistic regression by Newton's method (rows weighted by ``weight``); returns [bias, weights...]."""
    x = np.hstack([np.ones((len(x), 1)), x])
    weight = np.ones(len(x)) if weight is None else weight
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w)))
        gradient = x.T @ (weight * (p - y)) + l2 * np.r_[0, w[1:]]
        hessian = x.T @ (x * (weight * p * (1 - p))[:, None]) + l2 * np.diag(np.r_[0, np.ones(len(w) - 1)])
        w -= np.linalg.solve(hessian, gradient)
    return w


def collect(a: Assistant, items: list[tuple[str, bool, Any]]) -> tuple[list, list]:
    """(sentence rows with gold labels, question rows) for ``items`` = (question, answerable, gold test)."""
    sentence_rows, question_rows = [], []
    for question, answerable, is_gold in items:
        found = passages_of(a, question)
        if found is None:
            question_rows.append((None, answerable, False))
            continue
        _, rows, pool = found
        gold_here = False
        for f in rows:
            gold = bool(answerable and is_gold(f))
            gold_here |= gold
            sentence_rows.append(([getattr(f, name) for name in SENTENCE], gold, question))
        question_rows.append(((rows, pool), answerable, gold_here))
    return sentence_rows, question_rows


def support_features(rows: list[Features], pool: dict[str, float], weights: dict[str, float]) -> list[float]:
    """The support model's inputs (``SUPPORT``): the best sentence of the best-answered part, and the question's."""
    best: dict[int, tuple[float, Features]] = {}
    for f in rows:
        value = f.score(weights)
        if f.part not in best or value > best[f.part][0]:
            best[f.part] = (value, f)
    value, top = max(best.values(), key=lambda item: item[0])
    signals = {
        "score": value,
        "dense": top.dense,
        "lexical": top.lexical,
        "kind": float(top.kind),
        "rank": float(top.rank),
        **pool,
    }
    return [signals[name] for name in SUPPORT]


def main() -> None:
    """Collect the features, fit both models, print and save the constants."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "inhouse-clapnq")
    args = parser.parse_args()
    answerable, unanswerable = clapnq.load(args.shared)
    corpus = args.work / "corpus"
    clapnq.build_corpus(answerable + unanswerable, corpus)
    items: list[tuple[str, bool, Any]] = []
    for row in clapnq.half(answerable, "first"):
        selected = [normalise(s) for o in row["output"] for s in o.get("selected_sentences", [])]
        items.append((row["input"], True, lambda f, sel=selected: any(_overlap(normalise(f.text), s) for s in sel)))
    items += [(row["input"], False, None) for row in clapnq.half(unanswerable, "first")]
    held_out: list[tuple[str, bool, Any]] = [(row["input"], True, lambda f: False) for row in clapnq.half(answerable, "second")]
    held_out += [(row["input"], False, None) for row in clapnq.half(unanswerable, "second")]
    with clapnq.assistant(args.work, corpus, args.shared / "handbook", None) as a:
        a.ingest()
        sentences, questions = collect(a, items)
        _, held_questions = collect(a, held_out)
    examples_home = args.work / "examples"
    examples_home.mkdir(parents=True, exist_ok=True)
    config = examples_home / "plugins.toml"
    config.write_text(
        '[embedder]\nuse = "minilm"\n[store]\nuse = "local"\n'
        f'[connectors.examples]\nuse = "filesystem"\npath = "{REPO / "examples" / "handbook"}"\n'
        '[providers.extractive]\nuse = "extractive"\n[routing]\ndefault = ["extractive"]\n'
    )
    example_items = [
        (q.question, q.answerable, lambda f, k=q.keywords: any(normalise(w) in normalise(f.text) for w in k))
        for q in read_questions(REPO / "bench" / "qa" / "examples.jsonl")
    ]
    example_items += [  # colloquial questions: the sentence holding the expected answer is gold
        (q["question"], bool(q["expect"]), lambda f, e=q["expect"]: normalise(e) in normalise(f.text))
        for q in json.loads((REPO / "tests" / "e2e_questions.json").read_text(encoding="utf-8"))
    ]
    with Assistant.from_config(config, examples_home / "home") as a:
        a.ingest()
        more_sentences, more_questions = collect(a, example_items)
    sentences += more_sentences
    domain = np.r_[np.ones(len(questions)), np.full(len(more_questions), EXAMPLE_WEIGHT)]
    questions += more_questions

    x = np.array([row for row, _, _ in sentences], dtype=float)
    y = np.array([gold for _, gold, _ in sentences], dtype=float)
    w = fit(x, y)
    sentence_weights = {name: round(float(v), 3) for name, v in zip(SENTENCE, w[1:], strict=True)}
    scale = sentence_weights["dense"] or 1.0
    sentence_weights = {k: round(v / scale, 3) for k, v in sentence_weights.items()}  # dense weight 1

    keep = [feats is not None for feats, _, _ in questions]
    usable = [row for row, kept in zip(questions, keep, strict=True) if kept]
    row_weight = domain[np.array(keep)]
    sx = np.array([support_features(*feats, sentence_weights) for feats, _, _ in usable])
    mean, spread = sx.mean(axis=0), sx.std(axis=0) + 1e-9
    sy = np.array([answerable and gold for _, answerable, gold in usable], dtype=float)
    standard = fit((sx - mean) / spread, sy, l2=1.0, weight=row_weight)
    raw = standard[1:] / spread
    sw = np.r_[standard[0] - float(raw @ mean), raw]
    support_weights = {"bias": round(float(sw[0]), 3)} | {n: round(float(v), 3) for n, v in zip(SUPPORT, sw[1:], strict=True)}
    probability = 1 / (1 + np.exp(-(sx @ sw[1:] + sw[0])))
    in_domain = row_weight == EXAMPLE_WEIGHT
    positives = np.sort(probability[(sy == 1) & in_domain])
    threshold = float(positives[int((1 - KEEP_ANSWERED) * len(positives))]) if len(positives) else 0.5
    refused = float(np.mean(probability[(sy == 0) & in_domain] < threshold)) if np.any((sy == 0) & in_domain) else 0.0
    top1 = _top1(sentences, sentence_weights)
    hx = np.array(
        [support_features(*f, sentence_weights) if f is not None else [0.0] * len(SUPPORT) for f, _, _ in held_questions]
    )
    hy = np.array([answerable for _, answerable, _ in held_questions], dtype=bool)
    held_probability = 1 / (1 + np.exp(-(hx @ sw[1:] + sw[0])))
    held = {
        "clapnq_second_half_answered_answerable": round(float(np.mean(held_probability[hy] >= threshold)), 4),
        "clapnq_second_half_refused_unanswerable": round(float(np.mean(held_probability[~hy] < threshold)), 4),
        "clapnq_second_half_auc": round(_auc(held_probability[hy], held_probability[~hy]), 4),
    }
    result = {
        "questions": len(questions),
        "sentences": len(sentences),
        "gold_sentences": int(y.sum()),
        "sentence_weights": sentence_weights,
        "previous_sentence_weights": SENTENCE_WEIGHTS,
        "gold_sentence_ranked_first": round(top1, 4),
        "support_weights": support_weights,
        "min_support": round(threshold, 3),
        "min_support_rule": f"the highest keeping {KEEP_ANSWERED:.0%} of the sample corpus' answered questions answered",
        "sample_corpus_answered": KEEP_ANSWERED,
        "sample_corpus_unanswerable_refused": round(refused, 4),
        "calibration_auc": round(_auc(probability[sy == 1], probability[sy == 0]), 4),
        **held,
    }
    print(json.dumps(result, indent=2))
    out = REPO / "bench" / "results" / "evidence.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written {out}")


def _auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """The probability that a random positive scores above a random negative."""
    if not len(positive) or not len(negative):
        return 0.0
    wins = (positive[:, None] > negative[None, :]).mean() + 0.5 * (positive[:, None] == negative[None, :]).mean()
    return float(wins)


def _overlap(ours: str, gold: str) -> bool:
    """Our sentence and a gold one are the same sentence (one inside the other, or 80% of words shared)."""
    if ours in gold or gold in ours:
        return True
    a, b = set(ours.split()), set(gold.split())
    return bool(a) and len(a & b) / len(a) >= 0.8


def _top1(sentences: list, weights: dict[str, float]) -> float:
    """Share of questions with a gold sentence whose best-scored sentence is gold."""
    by_question: dict[str, list] = {}
    for row, gold, question in sentences:
        by_question.setdefault(question, []).append((sum(weights[n] * v for n, v in zip(SENTENCE, row, strict=True)), gold))
    with_gold = [rows for rows in by_question.values() if any(g for _, g in rows)]
    return sum(max(rows)[1] for rows in with_gold) / len(with_gold) if with_gold else 0.0


if __name__ == "__main__":
    main()
