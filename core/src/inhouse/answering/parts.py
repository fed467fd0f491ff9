"""Multi-part questions: "how many days do I get and which code do I use?" asks two things.

A question is split where a second question starts after "and", "also", a semicolon or a
question mark: the second part must open with a question word ("which", "how", "who", ...),
an auxiliary ("do", "can", "is", ...) or "what about". Each part keeps the words it needs:
a part that is only a question word and a pronoun ("and when?") is searched with the first
part's topic. Splitting needs no model, so it works offline and costs nothing.
"""

from __future__ import annotations

import re

_QUESTION_WORD = (
    r"(?:what|which|who|whom|whose|when|where|why|how|do|does|did|can|could|should|shall|will|would|"
    r"is|are|was|were|may|must|am\s+i|what\s+about|how\s+about)"
)
_SPLIT = re.compile(
    rf"\s*(?:\?|;|,?\s+(?:and|also|plus|as well as)\b|\?\s*(?:and|also)\b)\s+(?:(?:also|then)\s+)?(?={_QUESTION_WORD}\b)",
    re.IGNORECASE,
)
_WORDS = re.compile(r"\w+")
MIN_WORDS = 3  # a shorter second part ("and when?") borrows the first part's words


def split_question(question: str, limit: int = 3) -> list[str]:
    """The parts of ``question`` (one when it asks one thing), at most ``limit``."""
    pieces = [p.strip(" ?,;") for p in _SPLIT.split(question.strip()) if p and p.strip(" ?,;")]
    if len(pieces) < 2:
        return [question.strip()]
    parts = [pieces[0]]
    for piece in pieces[1:]:
        if len(_WORDS.findall(piece)) < MIN_WORDS:
            piece = f"{parts[0]} {piece}"
        parts.append(piece)
    if len(parts) > limit:
        parts = [*parts[: limit - 1], " ".join(parts[limit - 1 :])]
    return parts
