"""Evidence: how well each sentence of the retrieved passages answers the question, and how
likely it is that the passages answer it at all.

A sentence is scored against each part of the question with a few features: the cosine
similarity of their embeddings (when the embedder may see the text), the share of the
question's content words it holds (stemmed, stopwords out, each word weighted by how rare it
is among the passages, a word found only in the passage's title or heading at half weight),
whether it holds the kind of answer asked for (a number for "how many", a date for "when", a
name for "who") and the rank of its passage. A bare label (a heading, a table header, a line
that only repeats the page's title) is never an answer: it is left out. ``support`` is the
probability that the passages answer the question, from the best sentence of its
best-answered part (a question of two parts that the documents answer half of is answered,
not refused) and from how much of the question's weight the passages hold at all ("the CEO"
asked, "CEO" nowhere). ``number_missing`` marks a question asking for a number whose best
sentence states none (a page that only points to where the rate is published). All weights
are fitted on labelled questions by ``bench/calibrate_evidence.py``; its output, with the
data it used, is ``bench/results/evidence.json``.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from inhouse.answering.sentences import split_sentences
from inhouse.plugins import Passage, ScoredSentence

Embed = Callable[[Sequence[str]], np.ndarray]
Terms = Callable[[str], list[str]]

# Fitted by bench/calibrate_evidence.py (see bench/results/evidence.json).
SENTENCE_WEIGHTS = {"dense": 1.0, "lexical": 0.258, "kind": 0.17, "rank": -0.24}
SUPPORT_WEIGHTS = {
    "bias": -5.253,
    "score": 4.386,
    "dense": 7.332,
    "lexical": -3.045,
    "kind": 0.035,
    "rank": -0.114,
    "coverage": 0.548,
    "passage_coverage": 0.39,
    "similarity": -1.323,
}
CONTEXT_WEIGHT = 0.5  # a question word found only in the passage's title or heading counts half
# Sentences embedded per question (see EvidenceScorer._dense): the fewest that keep the sample
# corpus' answers (bench/qa.py); 36 cost a third more time for no answer gained (README).
DENSE_LIMIT = 28
FIRST_PASSAGES = 2
PER_PASSAGE = 2
PART_CANDIDATES = 5  # sentences kept per part of the question beside each sentence's best part

_NUMBER = re.compile(r"\d")
_WORD = re.compile(r"\w+")
_TIME = re.compile(
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b|\b(?:monday|tuesday|wednesday|thursday|friday|"
    r"saturday|sunday|daily|weekly|monthly|annually|year|week|day|month|hour)s?\b|\b(?:before|after|within|by|until)\b",
    re.I,
)
# A quantity in words counts as a number ("two weeks", "kept forever", "pays the full premium").
_QUANTITY = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|"
    r"hundred|thousand|million|billion|half|dozen|once|twice|forever|indefinitely|unlimited|full|entire|free|none|"
    r"no (?:limit|cap|maximum|charge|cost))\b",
    re.I,
)
_NAME = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][a-zA-Z]+")
_HOW_MUCH = (
    r"\bhow (?:many|much|long|often|old|far|big|large|soon|early|late)\b|\bwhat (?:percent|percentage|amount|number|rate)\b"
    r"|\bwhat(?:['’]?s| is| are)? (?:the |my |our |your )?(?:[\w&-]+ ){0,3}"
    r"(?:percent|percentage|amount|rate|cap|limit|maximum|minimum|max|cost|price|fee|salary)s?\b"
)
_WHEN = r"\bwhen\b|\bwhat (?:date|day|time|year|month)\b|\bwhich (?:day|date|year|month)\b|\bdeadline\b"
_WHO = r"\bwho\b|\bwhom\b|\bwhose\b|\bwhich\b|\bwhat is the name\b|\bwhat(?:'s| is) (?:it|the \w+) called\b"
_ASKS = (
    (re.compile(_HOW_MUCH, re.I), "number"),
    (re.compile(_WHEN, re.I), "time"),
    (re.compile(_WHO, re.I), "name"),
)


@dataclass(frozen=True)
class Evidence:
    """The scored sentences of the passages, the best score per question part, the
    ``signals`` support is computed from, and ``support``: the calibrated probability that
    the passages answer the question, or None when it cannot be judged (no embeddings: the
    weights were fitted with them, and a question kept from a remote embedder has none).
    ``number_missing``: every part asks for a number ("how many", "what's the rate") and
    the best sentence of none states one."""

    sentences: tuple[ScoredSentence, ...]
    part_best: tuple[float, ...]
    signals: dict[str, float]
    support: float | None
    number_missing: bool = False


def asked_kind(question: str) -> str | None:
    """The kind of answer a question asks for: ``number``, ``time``, ``name`` or None."""
    return next((kind for pattern, kind in _ASKS if pattern.search(question)), None)


def has_kind(sentence: str, kind: str | None) -> bool:
    """Whether ``sentence`` contains the kind of answer asked for (always, when none is)."""
    if kind is None:
        return True
    if kind == "number":
        return bool(_QUANTITY.search(sentence))
    if kind == "time":
        return bool(_QUANTITY.search(sentence) or _TIME.search(sentence))
    return bool(_NAME.search(sentence))


def is_label(sentence: str, names: Sequence[str] = ()) -> bool:
    """A heading or a table header rather than a statement: short, no end punctuation, no
    digits; or a line that only repeats one of ``names`` (its page's title or section heading,
    "This Is Us (season 2)", "Revolutions of 1830"), however long and whatever it holds."""
    bare, words = _bare(sentence), sentence.split()
    if bare and bare in {_bare(name) for name in names}:
        return True
    return len(words) <= 8 and not sentence.rstrip().endswith((".", "!", "?", ":")) and not _NUMBER.search(sentence)


def _bare(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


class VectorCache:
    """Sentence embeddings kept across questions (the same passages come back often)."""

    def __init__(self, embed: Embed, size: int = 20_000):
        self.embed = embed
        self.size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts``, computing only the ones not seen recently."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        fresh = np.asarray(self.embed(missing), dtype=np.float32) if missing else None
        with self._lock:
            for text, vector in zip(missing, fresh if fresh is not None else (), strict=False):
                self._vectors[text] = vector
            for text in texts:
                self._vectors.move_to_end(text)
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
            return np.stack([self._vectors[t] for t in texts])


@dataclass(frozen=True)
class Features:
    """What one sentence offers one part of the question (see the module docstring)."""

    passage: Passage
    index: int
    text: str
    part: int
    dense: float
    lexical: float
    kind: bool
    rank: int

    def score(self, weights: dict[str, float] = SENTENCE_WEIGHTS) -> float:
        """The sentence's relevance to its part under ``weights``."""
        return _linear(weights, dense=self.dense, lexical=self.lexical, kind=self.kind, rank=self.rank)


class EvidenceScorer:
    """Scores sentences against question parts; ``embed`` (unit vectors) may be None, then
    scores are word-based only (a question that must not reach a remote embedder)."""

    def __init__(self, terms: Terms, embed: Embed | None = None):
        self.terms = terms
        self.embed = embed

    def score(self, parts: Sequence[str], passages: Sequence[Passage]) -> Evidence:
        """The evidence the ``passages`` hold for the question ``parts`` (at least one)."""
        rows, pool = self.features(parts, passages)
        if not rows:
            return Evidence((), tuple(0.0 for _ in parts), pool, 0.0 if self.embed is not None else None)
        by_part: list[list[tuple[float, Features]]] = [[] for _ in parts]
        best: dict[tuple[int, int], tuple[float, Features]] = {}
        for f in rows:
            value = f.score()
            by_part[f.part].append((value, f))
            key = (f.passage.n, f.index)
            if key not in best or value > best[key][0]:
                best[key] = (value, f)
        # Each sentence under the part it answers best, and each part's own best few as well
        # (a sentence can be the best for two parts; each part needs its candidates).
        keep = {(f.passage.n, f.index, f.part): (v, f) for v, f in best.values()}
        for candidates in by_part:
            for v, f in sorted(candidates, key=lambda item: -item[0])[:PART_CANDIDATES]:
                keep[(f.passage.n, f.index, f.part)] = (v, f)
        scored = [
            ScoredSentence(f.passage.n, f.index, f.text, round(v, 4), f.part, round(f.dense, 4), round(f.lexical, 4), f.kind)
            for v, f in keep.values()
        ]
        part_best = tuple(max((v for v, _ in candidates), default=0.0) for candidates in by_part)
        strongest = max(range(len(parts)), key=lambda k: part_best[k])
        value, top = max(by_part[strongest], key=lambda item: item[0])
        signals = {
            "score": value, "dense": top.dense, "lexical": top.lexical, "kind": float(top.kind), "rank": float(top.rank), **pool,
        }  # fmt: skip
        judged = support(signals) if self.embed is not None and any(p.similarity is not None for p in passages) else None
        # The best sentence must state the number: among the next few some number nearly always
        # stands (another city's rate, a year), and on the handbook a trap was refused only when
        # the best sentence alone was asked (4 more of 16, no answerable question lost).
        missing = all(asked_kind(part) == "number" for part in parts) and not any(
            max(candidates, key=lambda item: item[0])[1].kind for candidates in by_part if candidates
        )
        return Evidence(tuple(scored), part_best, {k: round(v, 4) for k, v in signals.items()}, judged, missing)

    def features(self, parts: Sequence[str], passages: Sequence[Passage]) -> tuple[list[Features], dict[str, float]]:
        """Every (sentence, part) pair's features, and the question's: the share of its word
        weight the passages hold (``coverage``) and the most any one passage holds
        (``passage_coverage``), each the smallest over the parts, and the best passage's
        retrieval ``similarity``."""
        similarity = max((p.similarity for p in passages if p.similarity is not None), default=0.0)
        units = [(rank, p, i, text) for rank, p in enumerate(passages) for i, text in enumerate(split_sentences(p.text))]
        if not units or not parts:
            return [], {"coverage": 0.0, "passage_coverage": 0.0, "similarity": similarity}
        words = [set(self.terms(text)) for *_, text in units]
        context = {p.n: set(self.terms(f"{p.title} {p.heading}")) for p in passages}
        held: dict[int, set[str]] = {p.n: set(context[p.n]) for p in passages}
        for (_, passage, _, _), found in zip(units, words, strict=True):
            held[passage.n] |= found
        idf = _idf(Counter(t for terms in held.values() for t in terms), len(passages))
        part_terms = [set(self.terms(part)) for part in parts]
        labels = [is_label(text, (p.title, p.heading)) for _, p, _, text in units]
        dense = self._dense(parts, units, words, part_terms, labels)
        kinds = [asked_kind(part) for part in parts]
        rows = []
        for row, (rank, passage, index, text) in enumerate(units):
            if labels[row]:
                continue
            for k, wanted in enumerate(part_terms):
                lexical = _coverage(wanted, words[row], context[passage.n], idf)
                rows.append(Features(passage, index, text, k, float(dense[row, k]), lexical, has_kind(text, kinds[k]), rank))
        present = set().union(*held.values())

        def share(found: set[str], wanted: set[str]) -> float:
            return _weight(wanted & found, idf) / (_weight(wanted, idf) or 1.0)

        coverage = min(share(present, wanted) for wanted in part_terms)
        passage_coverage = min(max(share(terms, wanted) for terms in held.values()) for wanted in part_terms)
        return rows, {"coverage": coverage, "passage_coverage": passage_coverage, "similarity": similarity}

    def _dense(
        self, parts: Sequence[str], units: list, words: list[set[str]], part_terms: list[set[str]], labels: list[bool]
    ) -> np.ndarray:
        """Cosines of sentences with parts, for ``DENSE_LIMIT`` sentences: the ``PER_PASSAGE``
        sharing most question words in each passage, then every sentence of the first passages,
        then the rest by words shared (the others get 0; labels are never embedded)."""
        out = np.zeros((len(units), len(parts)), dtype=np.float32)
        if self.embed is None:
            return out
        wanted = set().union(*part_terms)
        candidates = [r for r in range(len(units)) if not labels[r]]
        overlap = {r: len(words[r] & wanted) for r in candidates}
        by_passage: dict[int, list[int]] = {}
        for r in candidates:
            by_passage.setdefault(units[r][0], []).append(r)
        chosen = [r for rows in by_passage.values() for r in sorted(rows, key=lambda r: -overlap[r])[:PER_PASSAGE]]
        chosen += [r for r in candidates if units[r][0] < FIRST_PASSAGES]
        chosen += sorted((r for r in candidates if overlap[r]), key=lambda r: -overlap[r])
        rows = list(dict.fromkeys(chosen))[:DENSE_LIMIT]
        vectors = np.asarray(self.embed([*parts, *(units[r][3] for r in rows)]), dtype=np.float32)
        out[rows] = vectors[len(parts) :] @ vectors[: len(parts)].T
        return out


def _idf(df: Counter[str], n: int) -> Callable[[str], float]:
    def idf(term: str) -> float:
        return math.log((n + 1) / (df.get(term, 0) + 0.5))

    return idf


def _weight(terms: set[str], idf: Callable[[str], float]) -> float:
    return sum(idf(t) for t in terms)


def _coverage(wanted: set[str], words: set[str], context: set[str], idf: Callable[[str], float]) -> float:
    total = _weight(wanted, idf)
    if not total:
        return 0.0
    return (_weight(wanted & words, idf) + CONTEXT_WEIGHT * _weight((wanted - words) & context, idf)) / total


def _linear(weights: dict[str, float], **features: float | bool) -> float:
    return weights.get("bias", 0.0) + sum(weights[name] * float(value) for name, value in features.items())


def support(signals: dict[str, float]) -> float:
    """The probability that the passages answer the question, from ``signals``: the best sentence
    of its best-answered part (its score, cosine, word coverage, answer kind and passage rank) and
    the question's (coverage by the passages, by the best one alone, retrieval similarity)."""
    z = _linear(SUPPORT_WEIGHTS, **{name: signals.get(name, 0.0) for name in SUPPORT_WEIGHTS if name != "bias"})
    return 1.0 / (1.0 + math.exp(-z))
