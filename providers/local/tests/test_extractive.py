"""The extractive answerer: the best sentence for each part of the question, a close
runner-up, the list a sentence introduces, each run with its passage marker, verbatim."""

from __future__ import annotations

from inhouse.plugins import Passage, Prompt, ScoredSentence
from inhouse.types import Usage
from inhouse_local.extractive import ExtractiveAnswerer, choose, render


def sentence(passage: int, index: int, text: str, score: float, part: int = 0, kind: bool = True) -> ScoredSentence:
    return ScoredSentence(passage, index, text, score, part, score, 0.0, kind)


def test_the_best_sentence_of_each_part_is_quoted_once_in_reading_order() -> None:
    scored = [
        sentence(2, 0, "Hotels cost at most EUR 230 in London.", 0.9, part=0),
        sentence(1, 3, "The per diem is EUR 48.", 0.8, part=1),
        sentence(1, 1, "Meals are covered.", 0.5, part=1),
        sentence(2, 0, "Hotels cost at most EUR 230 in London.", 0.4, part=1),
    ]
    chosen = choose(scored, parts=2, limit=3, runner_up=0.8)
    assert [s.text for s in chosen] == ["The per diem is EUR 48.", "Hotels cost at most EUR 230 in London."]
    assert render(chosen) == "The per diem is EUR 48. [1] Hotels cost at most EUR 230 in London. [2]"


def test_a_close_runner_up_of_the_right_kind_joins_and_a_list_follows_its_introduction() -> None:
    scored = [
        sentence(1, 0, "You can claim:", 0.9),
        sentence(1, 1, "Taxis at night", 0.2),
        sentence(1, 2, "Train tickets", 0.1),
        sentence(2, 0, "Receipts are needed above EUR 25.", 0.85),
        sentence(2, 1, "Ask your manager.", 0.84, kind=False),
    ]
    chosen = choose(scored, parts=1, limit=3, runner_up=0.8)
    assert render(chosen) == "You can claim: Taxis at night Train tickets [1] Receipts are needed above EUR 25. [2]"


def test_it_answers_from_the_scored_sentences_the_prompt_carries() -> None:
    passage = Passage(1, "d", "leave.md", "Leave", "Everyone gets 26 days of leave. Ask HR.")
    prompt = Prompt(
        system="[1] (Leave)\nEveryone gets 26 days of leave. Ask HR.",
        messages=[{"role": "user", "content": "How many days of leave?"}],
        passages=[passage],
        parts=["How many days of leave?"],
        sentences=[sentence(1, 0, "Everyone gets 26 days of leave.", 0.9), sentence(1, 1, "Ask HR.", 0.1, kind=False)],
    )
    items = list(ExtractiveAnswerer().generate(prompt))
    assert items[0] == "Everyone gets 26 days of leave. [1]" and isinstance(items[-1], Usage)
    assert ExtractiveAnswerer.answers == "quoted"
