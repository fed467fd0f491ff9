"""Choosing the use case of a request: an explicit mode, an image request, or the language.

Use cases are the keys of ``[routing]``: ``default`` plus any name (``reasoning``,
``multilingual``, ``image``, ``private``, ...). Only explicit modes and configured use cases
are ever chosen, and a use case is picked automatically only when its settings say how
(``[use_cases.NAME] detect = "image-request"`` or ``"language"``: the built-in ``image`` and
``multilingual`` do). ``private`` is never guessed, and a mode that is not configured is an
error rather than a silent fall back to ``default``.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from inhouse.config import BUILTIN_USE_CASES, RouterSettings, UseCaseSettings
from inhouse.errors import ConfigError

# Languages the detector chooses among: a closed set is far more accurate on short questions.
LANGUAGES = (
    "en", "de", "fr", "es", "it", "pt", "nl", "sv", "da", "no", "fi", "pl", "cs", "ru", "uk",
    "tr", "ar", "he", "zh", "ja", "ko", "hi", "el", "hu", "ro", "id", "vi", "th",
)  # fmt: skip

MIN_LETTERS = 10
_IMAGE_REQUEST = re.compile(
    r"^\s*(please\s+)?(draw|paint|sketch|illustrate)\b"
    r"|^\s*(please\s+)?(can you\s+|could you\s+)?(generate|create|make|render|design|produce)\s+(me\s+)?"
    r"(an?\s+|the\s+|some\s+)?([\w-]+\s+){0,3}(image|picture|photo|illustration|drawing|logo|icon|poster|painting|banner)s?\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Choice:
    """The chosen use case and why (``explicit``, ``image request``, ``language de (English 0.00)``, ``default``)."""

    use_case: str
    reason: str
    language: str | None = None


def is_image_request(text: str) -> bool:
    """True for requests such as "draw a lighthouse" or "generate an image of ..."."""
    return bool(_IMAGE_REQUEST.search(text))


class LanguageDetector:
    """Offline language identification (py3langid's bundled model, loaded on first use)."""

    def __init__(self, languages: tuple[str, ...] = LANGUAGES):
        self.languages = languages
        self._identifier: Any = None
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the model now (about 0.7 s) instead of on the first question."""
        with self._lock:
            if self._identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
                identifier.set_languages(list(self.languages))
                self._identifier = identifier

    def detect(self, text: str) -> tuple[str, float]:
        """``(most likely language, probability that the text is English)``. Text mostly in a
        non-Latin script is never taken for English; Latin text under ``MIN_LETTERS`` letters
        ("VPN", "ok") carries too little evidence and counts as English."""
        self.load()
        ranked = self._identifier.rank(text)
        if _non_latin_share(text) > 0.5:
            return (ranked[0][0] if ranked[0][0] != "en" else "und"), 0.0
        if sum(c.isalpha() for c in text) < MIN_LETTERS:
            return "und", 1.0
        return ranked[0][0], float(dict(ranked).get("en", 0.0))


def _non_latin_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 0.0
    return sum(1 for c in letters if not unicodedata.name(c, "").startswith("LATIN")) / len(letters)


def builtin_case(name: str) -> UseCaseSettings:
    """The built-in settings of use case ``name`` (those of a configuration: ``Settings.use_case``)."""
    return UseCaseSettings.model_validate(BUILTIN_USE_CASES.get(name, {}))


def choose(
    question: str,
    mode: str | None,
    routing: dict[str, list[str]],
    settings: RouterSettings,
    detector: LanguageDetector,
    has_images: bool = False,
    cases: Callable[[str], UseCaseSettings] = builtin_case,
) -> Choice:
    """The use case for a request: explicit ``mode`` first, then a configured use case that
    detects an image request, then one that detects a question not in English, else ``default``."""
    if mode and mode != "auto":
        if mode != "default" and mode not in routing:
            configured = ", ".join(sorted(routing)) or "none"
            raise ConfigError(f"mode '{mode}' needs a routing.{mode} chain in the configuration (configured: {configured})")
        return Choice(mode, "explicit")
    detecting = {name: cases(name).detect for name in routing if name != "default"}
    for name, rule in detecting.items():
        if rule == "image-request" and (has_images or is_image_request(question)):
            return Choice(name, "image request")
    language = next((name for name, rule in detecting.items() if rule == "language"), None)
    if language is not None and settings.detect_language:
        lang, english = detector.detect(question)
        if lang != "en" and english <= settings.max_english_probability:
            return Choice(language, f"language {lang} (English {english:.2f})", lang)
        return Choice("default", "default", lang)
    return Choice("default", "default")
