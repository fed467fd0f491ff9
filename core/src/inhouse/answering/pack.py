"""Packing: the passages a model receives, sized to its budget.

Passages come best first; whole passages are added while they fit the budget (tokens, as
the model counts them). The first passage always goes in: when it alone is over budget, it
is cut to its best sentences (in their reading order) rather than to its first characters,
so the fact is kept. Passages are renumbered ``[1]``, ``[2]``, ... in the order packed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from inhouse.answering.sentences import split_sentences
from inhouse.plugins import Passage, ScoredSentence

CountTokens = Callable[[str], int]


def pack(
    passages: Sequence[Passage],
    budget: int,
    count_tokens: CountTokens,
    sentences: Sequence[ScoredSentence] = (),
    limit: int | None = None,
) -> list[tuple[int, Passage]]:
    """The passages that fit ``budget`` tokens (at most ``limit`` of them), each with the
    number it had before, renumbered in the order packed."""
    packed: list[tuple[int, Passage]] = []
    used = 0
    for passage in passages:
        if limit is not None and len(packed) >= limit:
            break
        cost = count_tokens(passage.text) + 8  # the "[n] (title > heading)" line
        fitted = passage
        if used + cost > budget:
            if packed:
                continue  # a shorter one further down may still fit
            fitted = cut_to_budget(passage, budget - 8, count_tokens, sentences)
            cost = count_tokens(fitted.text) + 8
        packed.append((passage.n, replace(fitted, n=len(packed) + 1)))
        used += cost
    return packed


def cut_to_budget(passage: Passage, budget: int, count_tokens: CountTokens, sentences: Sequence[ScoredSentence]) -> Passage:
    """``passage`` reduced to its best-scoring sentences that fit ``budget``, in reading order
    (without scores: its first sentences)."""
    units = split_sentences(passage.text)
    scores = {s.index: s.score for s in sentences if s.passage == passage.n}
    order = sorted(range(len(units)), key=lambda i: (-scores.get(i, 0.0), i))
    keep: list[int] = []
    used = 0
    for i in order:
        cost = count_tokens(units[i]) + 1
        if used + cost <= budget:
            keep.append(i)
            used += cost
    text = " … ".join(units[i] for i in sorted(keep)) if keep else units[0][: max(1, budget * 4)]
    return replace(passage, text=text)
