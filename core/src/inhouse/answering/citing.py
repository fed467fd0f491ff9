"""Turning a reply's ``[n]`` markers into citations of the passages the model received, each
with the sentences of the reply it quotes verbatim (the page highlights them)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from inhouse.answering.sentences import split_sentences
from inhouse.plugins import Passage
from inhouse.types import Citation

MARKER = re.compile(r"\[(\d{1,2}(?:\s*,\s*\d{1,2})*)\]")


def cite(text: str, passages: Sequence[Passage]) -> tuple[str, list[Citation]]:
    """Keep the ``[n]`` markers that point to a passage, drop the rest, and list the cited passages.

    Citations are renumbered in order of first use, so the reader sees [1], [2], … When
    the reply cited nothing, every passage it was given is listed, so the answer can still
    be checked.
    """
    order: dict[int, int] = {}

    def renumber(match: re.Match[str]) -> str:
        kept = []
        for raw in match.group(1).split(","):
            n = int(raw)
            if 1 <= n <= len(passages):
                order.setdefault(n, len(order) + 1)
                kept.append(f"[{order[n]}]")
        return "".join(dict.fromkeys(kept))

    cleaned = MARKER.sub(renumber, text)
    cleaned = re.sub(r"[ \t]+([.,;:])", r"\1", cleaned).strip()
    chosen = list(order) if order else list(range(1, len(passages) + 1))
    plain = MARKER.sub("", text)
    citations = [
        citation(order[n] if order else i + 1, passages[n - 1], quoted(plain, passages[n - 1].text)) for i, n in enumerate(chosen)
    ]
    return cleaned, citations


def citation(n: int, passage: Passage, highlights: Sequence[str] = ()) -> Citation:
    """The citation numbered ``n`` of ``passage``."""
    return Citation(
        n=n,
        source=passage.source,
        title=passage.title,
        text=passage.text,
        heading=passage.heading,
        page=passage.page,
        doc_id=passage.doc_id,
        highlights=list(highlights),
    )


def quoted(reply: str, passage: str) -> list[str]:
    """The sentences of ``reply`` that ``passage`` contains verbatim (whitespace aside)."""
    haystack = " ".join(passage.split())
    return [s for s in split_sentences(reply) if len(s) > 12 and " ".join(s.split()) in haystack]
