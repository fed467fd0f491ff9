"""Citations: markers mapped to passages, dangling ones dropped, prompt shape."""

from __future__ import annotations

from inhouse.answer import INSTRUCTIONS, build_prompt, cite, is_refusal
from inhouse.config import AnswerSettings
from inhouse.types import Chunk, Hit


def hits(n: int) -> list[Hit]:
    return [
        Hit(Chunk(f"c{i}", f"d{i}", f"doc{i}.md", f"Doc {i}", f"passage {i} text", heading=f"H{i}"), 1.0 / (i + 1))
        for i in range(1, n + 1)
    ]


def test_markers_renumbered_in_order_and_dangling_dropped() -> None:
    text, citations = cite("Leave is 25 days [3]. Carry-over is 5 [1][7]. See [3, 9].", hits(3))
    assert text == "Leave is 25 days [1]. Carry-over is 5 [2]. See [1]."
    assert [(c.n, c.source) for c in citations] == [(1, "doc3.md"), (2, "doc1.md")]
    assert citations[0].text == "passage 3 text" and citations[0].heading == "H3"


def test_no_markers_lists_every_passage_given() -> None:
    text, citations = cite("Twenty-five days.", hits(2))
    assert text == "Twenty-five days."
    assert [c.n for c in citations] == [1, 2]


def test_prompt_puts_constant_instructions_first() -> None:
    prompt = build_prompt(
        "How long?", hits(2), [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], AnswerSettings()
    )
    assert prompt.system.startswith(INSTRUCTIONS)
    assert "[1] (Doc 1 > H1)\npassage 1 text" in prompt.system and "[2] (Doc 2 > H2)" in prompt.system
    assert prompt.messages[-1] == {"role": "user", "content": "How long?"} and len(prompt.messages) == 3


def test_page_label_and_trim() -> None:
    hit = Hit(Chunk("c", "d", "a.pdf", "Policy", "word " * 400, page=2), 1.0)
    prompt = build_prompt("q", [hit], [], AnswerSettings(passage_chars=100))
    assert "[1] (Policy > page 2)" in prompt.system
    assert len(prompt.system) < len(INSTRUCTIONS) + 200


def test_refusal_detection() -> None:
    assert is_refusal("I could not find an answer to that in the documents.")
    assert not is_refusal("You can find the VPN client in the portal [1].")
