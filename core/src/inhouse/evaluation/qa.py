"""Answer-level evaluation (``inhouse eval qa FILE.jsonl``): does the answer state the facts,
cite the right file, and refuse what the documents do not say?

One JSON object per line::

    {"id": "hb-001", "question": "...", "answer_keywords": ["26", "days"],
     "source_files": ["people/annual-leave.md"], "type": "fact"}

``answer_keywords`` are the facts a correct answer must state: each is looked for in the
answer, case-insensitively, with runs of whitespace collapsed; all must be there.
``source_files`` are the files holding the answer (paths as the connector yields them; a
citation of any of them counts). ``type`` groups the report; ``unanswerable`` and
``offtopic`` questions have no keywords and a right answer is a refusal.

Per type the report gives: keyword accuracy (answerable: all keywords in the answer), the
right-source citation rate, the fact-in-context rate (all keywords somewhere in the
passages the model received: the ceiling for any model), wrongly refused answerable
questions, refused unanswerable ones, and the latency p50/p95 (total, and after retrieval).

``trade_off`` says what a stricter ``[answer] min_support`` would do, from the support each
answer was judged with: at each higher threshold, the facts still stated, the answerable
questions refused and the unanswerable ones refused. Only raising can be read off one run
(a question refused below the threshold has no answer to judge); to see lower thresholds,
run with a lower one (``inhouse eval qa --min-support``).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inhouse.errors import ConfigError
from inhouse.evaluation.metrics import percentile
from inhouse.types import Answer

REFUSING_TYPES = frozenset({"unanswerable", "offtopic"})
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Question:
    """One line of a question file."""

    id: str
    question: str
    keywords: tuple[str, ...]
    sources: tuple[str, ...]
    type: str

    @property
    def answerable(self) -> bool:
        """Whether a right answer states facts (rather than refusing)."""
        return self.type not in REFUSING_TYPES


@dataclass
class Result:
    """How one question was answered."""

    question: Question
    answer: str
    abstained: bool
    stated: bool  # every keyword in the answer
    in_context: bool  # every keyword in the passages the model received
    cited_right: bool  # a citation names one of the source files
    seconds: float
    after_retrieval_ms: float
    provider: str | None = None
    support: float | None = None  # the pipeline's evidence that the passages answer
    min_support: float | None = None  # the threshold that support was checked against

    @property
    def correct(self) -> bool:
        """Answerable: the facts were stated (and it did not refuse); otherwise it refused."""
        return (self.stated and not self.abstained) if self.question.answerable else self.abstained


def normalise(text: str) -> str:
    """Lower case, whitespace runs collapsed to one space."""
    return _SPACE.sub(" ", text).strip().casefold()


def contains_all(text: str, keywords: Iterable[str]) -> bool:
    """Whether every keyword occurs in ``text`` (see ``normalise``)."""
    haystack = normalise(text)
    return all(normalise(k) in haystack for k in keywords)


def read_questions(path: Path) -> list[Question]:
    """The questions of a JSONL file; a bad line is a ``ConfigError`` naming it."""
    questions = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            kind = str(row.get("type") or "fact")
            keywords = tuple(str(k) for k in row.get("answer_keywords") or ())
            if kind not in REFUSING_TYPES and not keywords:
                raise ValueError("an answerable question needs answer_keywords")
            questions.append(
                Question(str(row.get("id") or n), str(row["question"]), keywords, tuple(row.get("source_files") or ()), kind)
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{path}:{n}: {exc} (see `inhouse eval qa --help` for the format)") from None
    return questions


def judge(question: Question, answer: Answer, seconds: float) -> Result:
    """Score one answer against its question."""
    context = "\n".join(passage.get("text", "") for passage in answer.context)
    cited = {c.source for c in answer.citations}
    wanted = set(question.sources)
    return Result(
        question=question,
        answer=answer.text,
        abstained=answer.abstained,
        stated=bool(question.keywords) and contains_all(answer.text, question.keywords),
        in_context=bool(question.keywords) and contains_all(context, question.keywords),
        cited_right=bool(wanted & cited) or any(s.endswith(tuple("/" + w for w in wanted)) for s in cited),
        seconds=seconds,
        after_retrieval_ms=answer.timings.get("total_ms", 0.0) - answer.timings.get("retrieval_ms", 0.0),
        provider=answer.provider,
        support=answer.route.get("support"),
        min_support=answer.route.get("min_support"),
    )


def evaluate(
    ask: Callable[[str], Answer],
    questions: Sequence[Question],
    *,
    on_result: Callable[[Result], None] | None = None,
    min_support: float | None = None,
) -> dict[str, Any]:
    """Ask every question with ``ask`` and summarise the results by type and overall; with
    the configured ``min_support``, also its ``trade_off`` (under ``"min_support"``)."""
    results = []
    for question in questions:
        started = time.perf_counter()
        answer = ask(question.question)
        result = judge(question, answer, time.perf_counter() - started)
        results.append(result)
        if on_result is not None:
            on_result(result)
    by_type: dict[str, list[Result]] = defaultdict(list)
    for result in results:
        by_type[result.question.type].append(result)
    summary = {kind: summarise(rows) for kind, rows in sorted(by_type.items())}
    answerable = [r for r in results if r.question.answerable]
    summary["answerable"] = summarise(answerable)
    summary["all"] = summarise(results)
    report = {"questions": len(results), "summary": summary, "results": [_row(r) for r in results]}
    if min_support is not None and any(r.min_support == min_support for r in results):
        report["min_support"] = trade_off(results, min_support)
    return report


def trade_off(results: Sequence[Result], configured: float, step: float = 0.05) -> list[dict[str, Any]]:
    """One row per threshold from ``configured`` up (then each multiple of ``step`` below 1): the
    share of answerable questions whose facts are still stated, of answerable ones refused and of
    unanswerable ones refused, had ``[answer] min_support`` been that threshold. A question whose
    use case has a threshold of its own (or whose support was not judged) keeps its outcome."""
    first = math.floor(configured / step + 1e-9) + 1
    thresholds = [configured, *(round(k * step, 4) for k in range(first, math.ceil(1 / step)))]
    answerable = [r for r in results if r.question.answerable]
    refusing = [r for r in results if not r.question.answerable]

    def refused(r: Result, threshold: float) -> bool:
        return r.abstained or (r.min_support == configured and r.support is not None and r.support < threshold)

    return [
        {
            "min_support": t,
            "keyword_accuracy": _share(answerable, lambda r, t=t: r.stated and not refused(r, t)),
            "wrongly_refused": _share(answerable, lambda r, t=t: refused(r, t)),
            "refused_unanswerable": _share(refusing, lambda r, t=t: refused(r, t)),
        }
        for t in thresholds
    ]


def summarise(rows: Sequence[Result]) -> dict[str, Any]:
    """The report's figures for a group of results."""
    answerable = [r for r in rows if r.question.answerable]
    refusing = [r for r in rows if not r.question.answerable]
    seconds = [r.seconds * 1000 for r in rows]
    after = [r.after_retrieval_ms for r in rows]
    return {
        "n": len(rows),
        "keyword_accuracy": _share(answerable, lambda r: r.stated and not r.abstained),
        "cited_right_source": _share(answerable, lambda r: r.cited_right),
        "fact_in_context": _share(answerable, lambda r: r.in_context),
        "wrongly_refused": _share(answerable, lambda r: r.abstained),
        "refused_unanswerable": _share(refusing, lambda r: r.abstained),
        "correct": _share(rows, lambda r: r.correct),
        "p50_ms": round(percentile(seconds, 50), 1),
        "p95_ms": round(percentile(seconds, 95), 1),
        "after_retrieval_p95_ms": round(percentile(after, 95), 1),
    }


def _share(rows: Sequence[Result], test: Callable[[Result], bool]) -> float | None:
    return round(sum(map(test, rows)) / len(rows), 4) if rows else None


def _row(result: Result) -> dict[str, Any]:
    q = result.question
    return {
        "id": q.id,
        "type": q.type,
        "question": q.question,
        "answer": result.answer,
        "provider": result.provider,
        "abstained": result.abstained,
        "stated": result.stated,
        "in_context": result.in_context,
        "cited_right": result.cited_right,
        "correct": result.correct,
        "support": result.support,
        "min_support": result.min_support,
        "ms": round(result.seconds * 1000, 1),
    }
