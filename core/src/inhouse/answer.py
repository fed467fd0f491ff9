"""Turning retrieved passages into a prompt, and a model's reply into a cited ``Answer``."""

from __future__ import annotations

import re
from collections.abc import Sequence

from inhouse.config import AnswerSettings
from inhouse.plugins import Prompt
from inhouse.types import Citation, Hit

NOT_FOUND = "I could not find an answer to that in the documents."

INSTRUCTIONS = (
    "You are a helpful company assistant. Answer the question using only the numbered "
    "context passages below. Be brief: one to three sentences. After each fact, cite its "
    "passage number in square brackets, like [1]. If the passages do not contain the "
    f'answer, reply exactly: "{NOT_FOUND}"'
)

MARKER = re.compile(r"\[(\d{1,2}(?:\s*,\s*\d{1,2})*)\]")
_REFUSAL = re.compile(r"\b(could not|couldn't|cannot|can't) find\b", re.IGNORECASE)


def passage_label(hit: Hit) -> str:
    """``title > heading`` or ``title, page N`` for the context header of a passage."""
    c = hit.chunk
    where = f"page {c.page}" if c.page is not None else c.heading
    return f"{c.title} > {where}" if where else c.title


def trim(text: str, limit: int) -> str:
    """Cut ``text`` to at most ``limit`` characters at a word boundary."""
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + " …"


def build_prompt(
    question: str,
    hits: Sequence[Hit],
    history: Sequence[dict[str, str]],
    settings: AnswerSettings,
) -> Prompt:
    """The constant instructions come first (a cacheable prefix), then the numbered context."""
    context = "\n\n".join(
        f"[{n}] ({passage_label(hit)})\n{trim(hit.chunk.text, settings.passage_chars)}" for n, hit in enumerate(hits, start=1)
    )
    turns = list(history)[-2 * settings.history_turns :] if settings.history_turns else []
    return Prompt(
        system=f"{INSTRUCTIONS}\n\nContext:\n{context}",
        messages=[*turns, {"role": "user", "content": question}],
        max_tokens=settings.max_tokens,
        stop=["\n\n\n"],
    )


def is_refusal(text: str) -> bool:
    """True when the model said it could not find the answer."""
    return bool(_REFUSAL.search(text[:200]))


def cite(text: str, hits: Sequence[Hit]) -> tuple[str, list[Citation]]:
    """Keep the ``[n]`` markers that point to a passage, drop the rest, and list the cited passages.

    Citations are renumbered in order of first use, so the reader sees [1], [2], … When
    the model cited nothing, every passage it was given is listed, so the answer can
    still be checked.
    """
    order: dict[int, int] = {}

    def renumber(match: re.Match[str]) -> str:
        kept = []
        for raw in match.group(1).split(","):
            n = int(raw)
            if 1 <= n <= len(hits):
                order.setdefault(n, len(order) + 1)
                kept.append(f"[{order[n]}]")
        return "".join(dict.fromkeys(kept))

    cleaned = MARKER.sub(renumber, text)
    cleaned = re.sub(r"[ \t]+([.,;:])", r"\1", cleaned).strip()
    chosen = list(order) if order else list(range(1, len(hits) + 1))
    citations = [_citation(i + 1 if not order else order[n], hits[n - 1]) for i, n in enumerate(chosen)]
    return cleaned, citations


def _citation(n: int, hit: Hit) -> Citation:
    c = hit.chunk
    return Citation(n=n, source=c.source, title=c.title, text=c.text, heading=c.heading, page=c.page, doc_id=c.doc_id)
