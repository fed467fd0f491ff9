"""Choosing a use case: explicit modes, image requests, and offline language detection
measured on real English questions and 48 questions in 26 other languages."""

from __future__ import annotations

import json

import pytest

from inhouse.config import RouterSettings
from inhouse.errors import ConfigError
from inhouse.usecase import LanguageDetector, choose, is_image_request
from support import REPO

ROUTING = {"default": ["a"], "multilingual": ["b"], "image": ["c"], "private": ["d"]}


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return LanguageDetector()


def english_questions() -> list[str]:
    questions = [json.loads(line)["q"] for line in (REPO / "bench" / "handbook_questions.jsonl").read_text().splitlines()]
    return questions + [q["question"] for q in json.loads((REPO / "tests" / "e2e_questions.json").read_text())]


def test_english_questions_stay_on_the_default_chain(detector: LanguageDetector) -> None:
    questions = english_questions()
    chosen = [choose(q, None, ROUTING, RouterSettings(), detector) for q in questions]
    moved = [(q, c.reason) for q, c in zip(questions, chosen, strict=True) if c.use_case != "default"]
    assert len(questions) > 100 and moved == []


def test_questions_in_other_languages_go_to_multilingual(detector: LanguageDetector) -> None:
    rows = [json.loads(line) for line in (REPO / "tests" / "data" / "multilingual_questions.jsonl").read_text().splitlines()]
    chosen = [choose(r["q"], None, ROUTING, RouterSettings(), detector) for r in rows]
    assert [c.use_case for c in chosen] == ["multilingual"] * len(rows)
    right_language = sum(c.language == r["lang"] for c, r in zip(chosen, rows, strict=True))
    assert right_language >= len(rows) - 2  # Danish and Norwegian are close on a short question


def test_short_english_is_not_guessed_foreign(detector: LanguageDetector) -> None:
    for text in ("PTO policy", "expense limit", "VPN", "and for contractors?", "ok"):
        assert choose(text, None, ROUTING, RouterSettings(), detector).use_case == "default", text


def test_multilingual_only_when_configured_and_enabled(detector: LanguageDetector) -> None:
    german = "Wie viele Urlaubstage bekomme ich?"
    assert choose(german, None, {"default": ["a"]}, RouterSettings(), detector).use_case == "default"
    assert choose(german, None, ROUTING, RouterSettings(detect_language=False), detector).use_case == "default"


@pytest.mark.parametrize(
    "text",
    [
        "Draw a lighthouse at dusk",
        "please sketch our office floor plan",
        "Generate an image of a team picnic",
        "can you create a logo for the Lattice project",
        "make me a poster for the summer party",
        "Create three pictures of mountains",
    ],
)
def test_image_requests_are_recognised(text: str) -> None:
    assert is_image_request(text)


@pytest.mark.parametrize(
    "text",
    [
        "How do I attach an image to my expense report?",
        "Who can create a new project?",
        "what is the drawing account limit",
        "Where is the logo file for presentations?",
        "Generate a summary of the leave policy",
    ],
)
def test_questions_about_images_are_not_image_requests(text: str) -> None:
    assert not is_image_request(text)


def test_image_requests_route_to_image_only_when_configured(detector: LanguageDetector) -> None:
    assert choose("Draw a cat", None, ROUTING, RouterSettings(), detector).use_case == "image"
    assert choose("Draw a cat", None, {"default": ["a"]}, RouterSettings(), detector).use_case == "default"
    assert choose("make it blue", None, ROUTING, RouterSettings(), detector, has_images=True).use_case == "image"


def test_explicit_modes(detector: LanguageDetector) -> None:
    assert choose("Draw a cat", "private", ROUTING, RouterSettings(), detector).use_case == "private"
    assert choose("x", "default", {}, RouterSettings(), detector).reason == "explicit"
    assert choose("x", "auto", ROUTING, RouterSettings(), detector).use_case == "default"
    with pytest.raises(ConfigError, match=r"mode 'reasoning' needs a routing\.reasoning chain"):
        choose("x", "reasoning", ROUTING, RouterSettings(), detector)
