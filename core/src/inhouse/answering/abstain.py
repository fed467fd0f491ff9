"""The answer when the documents do not answer: said plainly, with what was looked at and the
closest passages offered, and nothing sent to a model."""

from __future__ import annotations

import time
from collections.abc import Sequence

from inhouse.answering.citing import citation
from inhouse.answering.draft import Draft
from inhouse.answering.prompting import NOT_FOUND
from inhouse.plugins import Passage
from inhouse.policy import most_private
from inhouse.types import Answer, Hit

OFFERED = 3  # closest passages offered with an abstention


def abstain(draft: Draft, why: str, hits: Sequence[Hit] = (), text: str | None = None) -> Answer:
    """An answer that abstains because ``why``, naming the documents it looked at (or saying
    ``text`` instead), with the closest passages offered."""
    closest = list(draft.passages[:OFFERED]) or [_passage(n, h) for n, h in enumerate(hits[:OFFERED], 1)]
    titles = list(dict.fromkeys(f"“{p.title}” ({p.source})" for p in closest))
    looked = f" I looked at {_listing(titles)}, which do not say." if titles else ""
    total = (time.perf_counter() - draft.started) * 1000
    timings = {**draft.timings, "first_token_ms": total, "total_ms": total}
    route = {"use_case": draft.use_case, "reason": draft.reason, "chain": list(draft.route.chain), "provider": None,
             "residency": None, "fallback": False, "skipped": [], "abstained_because": why,
             "history_residency": unanswered_residency(draft, closest), **draft.verdict()}  # fmt: skip
    if draft.search_query and draft.search_query != draft.request.question:
        route["search_query"] = draft.search_query
    if draft.notes:
        route["policy"] = {"notes": list(draft.notes)}
    return Answer(
        text if text is not None else NOT_FOUND + looked,
        [],
        True,
        None,
        timings=timings,
        route=route,
        cost_usd=0.0,
        related=[citation(n, p) for n, p in enumerate(closest, 1)],
    )


def unanswered_residency(draft: Draft, named: Sequence[Passage]) -> str | None:
    """The residency the turns of an exchange no model answered carry as history: the most
    private one the use case allows, else the least private one that every document it
    names may reach (None: anywhere)."""
    if draft.case.residency is not None:
        return most_private(draft.case.residency) or "local"
    return draft.policy.clearance(p.sensitivity for p in named)


def _passage(n: int, hit: Hit) -> Passage:
    c = hit.chunk
    return Passage(n, c.doc_id, c.source, c.title, c.text, c.heading, c.page, hit.score, (c.id,), sensitivity=c.sensitivity)


def _listing(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
