"""The prompt a generating model receives, and how its refusals are recognised.

The constant instructions come first (a cacheable prefix for local models), then the
numbered passages, marked as documents to quote from, never instructions to follow. The
structured context (passages, question parts, scored sentences) rides along on the
``Prompt`` for providers that quote instead of generating.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from inhouse.plugins import Passage, Prompt, ScoredSentence
from inhouse.types import NOT_FOUND

INSTRUCTIONS = (
    "You are a helpful company assistant. Answer the question using only the numbered "
    "context passages below. Be brief: one to three sentences. After each fact, cite its "
    "passage number in square brackets, like [1]. If the passages do not contain the "
    f'answer, reply exactly: "{NOT_FOUND}"'
)

_REFUSAL = re.compile(
    r"\b(?:could not|couldn't|cannot|can't|unable to|did not|didn't) (?:find|locate|see)\b"
    r"|\b(?:do|does) not (?:contain|mention|say|state|provide|include|specify)\b"
    r"|\bnot (?:mentioned|stated|specified|covered|included|provided) in\b"
    r"|\bno (?:information|mention)\b",
    re.IGNORECASE,
)


def render_context(passages: Sequence[Passage]) -> str:
    """``[n] (title > heading)`` then the passage's text, for each passage."""
    return "\n\n".join(f"[{p.n}] ({p.label()})\n{p.text}" for p in passages)


def build_prompt(
    question: str,
    passages: Sequence[Passage],
    history: Sequence[dict[str, str]],
    *,
    max_tokens: int,
    history_turns: int,
    parts: Sequence[str] = (),
    sentences: Sequence[ScoredSentence] = (),
) -> Prompt:
    """The prompt for ``question`` with its ``passages``, the last ``history_turns`` exchanges."""
    turns = list(history)[-2 * history_turns :] if history_turns else []
    return Prompt(
        system=f"{INSTRUCTIONS}\n\nContext:\n{render_context(passages)}",
        messages=[*turns, {"role": "user", "content": question}],
        max_tokens=max_tokens,
        stop=["\n\n\n"],
        passages=list(passages),
        parts=list(parts) or [question],
        sentences=list(sentences),
    )


def is_refusal(text: str) -> bool:
    """True when a model said the documents do not hold the answer (in its first sentences)."""
    return bool(_REFUSAL.search(text[:240]))
