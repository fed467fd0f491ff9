"""Evidence scoring: sentences scored for each part of the question, labels never answers,
the answer kind asked for, and support only judged when embeddings were available."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from inhouse.answering.evidence import EvidenceScorer, VectorCache, asked_kind, has_kind, is_label
from inhouse.plugins import Passage


def terms(text: str) -> list[str]:
    return [w.strip(".,?:;").lower() for w in text.split() if len(w.strip(".,?:;")) > 2]


def embed(texts: Sequence[str]) -> np.ndarray:
    """Hashed bags of words, unit length: similar words, similar vectors."""
    out = np.zeros((len(texts), 64), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in terms(text):
            out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % 64] += 1.0
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


PASSAGES = [
    Passage(
        1,
        "d1",
        "travel.md",
        "Travel",
        "Meals and allowance\nThe meal allowance is EUR 48 per day. Book hotels early.",
        similarity=0.6,
    ),
    Passage(2, "d2", "hotels.md", "Hotels", "The hotel limit in London is EUR 230 per night.", similarity=0.5),
]


def test_each_part_gets_its_own_best_sentence_and_labels_are_never_candidates() -> None:
    evidence = EvidenceScorer(terms, embed).score(["what is the meal allowance", "what is the hotel limit in London"], PASSAGES)
    best = {k: max((s for s in evidence.sentences if s.part == k), key=lambda s: s.score).text for k in (0, 1)}
    assert best == {0: "The meal allowance is EUR 48 per day.", 1: "The hotel limit in London is EUR 230 per night."}
    assert all(s.text != "Meals and allowance" for s in evidence.sentences)
    assert 0.0 <= evidence.support <= 1.0 and len(evidence.part_best) == 2


def test_without_embeddings_support_is_not_judged() -> None:
    evidence = EvidenceScorer(terms).score(["what is the meal allowance"], PASSAGES)
    assert evidence.support is None and evidence.sentences


def test_kinds_and_labels() -> None:
    assert asked_kind("How many days do I get?") == "number" and asked_kind("When is it due?") == "time"
    assert asked_kind("Which wifi should visitors join?") == "name" and asked_kind("Can I bring a dog?") is None
    assert has_kind("It is EUR 48.", "number") and not has_kind("It is covered.", "number")
    assert is_label("Meals and allowance") and not is_label("The allowance is EUR 48 per day.")
    assert asked_kind("whats the yearly cap?") == asked_kind("what’s the max nightly hotel rate in Paris?") == "number"
    assert asked_kind("what is the policy on pets?") is None
    assert has_kind("Messages are kept forever.", "number") and has_kind("It lasts two weeks.", "number")


def test_a_number_question_whose_best_sentence_states_no_number_is_flagged() -> None:
    scorer = EvidenceScorer(terms, embed)
    # The year is a number, but the sentence that answers is the rate one, and it states none.
    text = "Pick a hotel at or under the government rate for the city. Opened 2015."
    hotel = [Passage(1, "d1", "hotels.md", "Hotels", text, similarity=0.6)]
    assert scorer.score(["what is the max hotel rate in Paris"], hotel).number_missing
    assert not scorer.score(["what is the hotel limit in London"], PASSAGES).number_missing
    # A two-part question is flagged only when every part asks for a number the passages lack.
    assert not scorer.score(["what is the max hotel rate in Paris", "can I pick any hotel"], hotel).number_missing


def test_a_line_repeating_the_page_title_is_a_label_even_with_digits() -> None:
    assert is_label("This Is Us (season 2)", ["This Is Us (season 2)"]) and not is_label("This Is Us (season 2)")
    gymnasts = "List of Olympic female gymnasts for the United States"
    assert is_label(gymnasts, ["", gymnasts]) and not is_label(gymnasts, [""])
    assert not is_label("Season 2 of This Is Us was released on DVD in 2018.", ["This Is Us (season 2)"])
    # The title stands as the passage's first line (a plain-text file): it is never scored, so
    # it can neither be quoted nor lend its similarity to the question's support.
    text = "This Is Us (season 2)\n\nThe second season has 18 episodes."
    page = [Passage(1, "d1", "season.txt", "This Is Us (season 2)", text, similarity=0.7)]
    evidence = EvidenceScorer(terms, embed).score(["when is this is us season 2 released on dvd"], page)
    assert [s.text for s in evidence.sentences] == ["The second season has 18 episodes."]


def test_sentence_vectors_are_computed_once() -> None:
    calls: list[int] = []

    def counting(texts: Sequence[str]) -> np.ndarray:
        calls.append(len(texts))
        return embed(texts)

    cache = VectorCache(counting, size=10)
    first = cache(["a b c", "d e f"])
    again = cache(["d e f", "a b c", "g h i"])
    assert calls == [2, 1] and np.allclose(first[0], again[1])
