"""Small-to-big: the retrieved chunks widened with their neighbours, joined into passages.

A fact can sit across a chunk boundary ("The allowance is" | "EUR 48 a day."), and a
retrieved chunk can be one of several that say the same thing. ``expand`` turns ranked hits
into ranked passages: each hit with up to ``window`` chunks before and after it from the
same section (same heading and page) of its document, overlaps removed, hits whose windows
touch merged into one passage, and repeated text dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from inhouse.plugins import Passage, Store
from inhouse.types import Chunk, Hit

MAX_OVERLAP = 400  # characters searched for the overlap between consecutive chunks


@dataclass
class _Window:
    doc_id: str
    chunks: dict[int, Chunk] = field(default_factory=dict)  # by ordinal
    score: float = 0.0
    similarity: float | None = None
    first: Chunk | None = None  # the best-ranked hit of the window: its title, heading, page


def expand(hits: Sequence[Hit], store: Store, window: int = 1) -> list[Passage]:
    """Passages for ``hits`` (best first), numbered from 1 in that order."""
    windows: list[_Window] = []
    for hit in hits:
        chunk = hit.chunk
        around = [c for c in store.neighbours(chunk, window, window) if _same_section(c, chunk)] or [chunk]
        ordinals = {c.ordinal for c in around}
        target = next(
            (w for w in windows if w.doc_id == chunk.doc_id and _touches(ordinals, w.chunks)),
            None,
        )
        if target is None:
            target = _Window(chunk.doc_id, score=hit.score, first=chunk)
            windows.append(target)
        target.chunks.update((c.ordinal, c) for c in around)
        if hit.dense is not None:
            target.similarity = max(hit.dense, target.similarity if target.similarity is not None else -1.0)
    passages: list[Passage] = []
    seen: set[str] = set()
    for w in windows:
        assert w.first is not None
        ordered = [w.chunks[o] for o in sorted(w.chunks)]
        text = join_chunks([c.text for c in ordered])
        key = " ".join(text.split()).casefold()
        if key in seen:
            continue
        seen.add(key)
        first = w.first
        passages.append(
            Passage(
                n=len(passages) + 1,
                doc_id=first.doc_id,
                source=first.source,
                title=first.title,
                text=text,
                heading=first.heading,
                page=first.page,
                score=w.score,
                chunk_ids=tuple(c.id for c in ordered),
                similarity=w.similarity,
                sensitivity=first.sensitivity,
            )
        )
    return passages


def join_chunks(texts: Sequence[str]) -> str:
    """Consecutive chunk texts as one, each overlap (the end of one repeated at the start of
    the next) kept once."""
    joined = ""
    for text in texts:
        if not joined:
            joined = text
            continue
        limit = min(len(joined), len(text), MAX_OVERLAP)
        overlap = next((k for k in range(limit, 0, -1) if joined.endswith(text[:k])), 0)
        rest = text[overlap:]
        glue = "" if overlap or joined.endswith(("\n", " ")) or rest.startswith(("\n", " ")) else "\n"
        joined = f"{joined}{glue}{rest}"
    return joined


def _same_section(a: Chunk, b: Chunk) -> bool:
    return a.heading == b.heading and a.page == b.page


def _touches(ordinals: set[int], existing: dict[int, Chunk]) -> bool:
    return any(o in existing or o - 1 in existing or o + 1 in existing for o in ordinals)
