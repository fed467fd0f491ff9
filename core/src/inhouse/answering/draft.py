"""What flows through the answer pipeline: the ``Request`` as asked, and the ``Draft`` each
stage returns a new copy of (frozen: a stage adds what it found, it never edits in place),
plus the ``Services`` stages draw on."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from inhouse.answering.evidence import Evidence, EvidenceScorer
from inhouse.config import Settings, UseCaseSettings
from inhouse.plugins import Passage, SearchMode, Store
from inhouse.policy import Policy
from inhouse.route import Router, RouteRequest
from inhouse.types import Answer, Hit
from inhouse.usecase import LanguageDetector


@dataclass(frozen=True)
class Request:
    """One question as asked (``profile`` forces one provider profile of the configuration).
    Each ``history`` turn is ``{"role", "content"}`` with an optional ``"residency"``: the one
    it was produced under (``Answer.route["history_residency"]``, see ``inhouse.policy``)."""

    question: str
    user: str | None = None
    history: tuple[dict[str, str], ...] = ()
    mode: str | None = None
    images: tuple[bytes, ...] = ()
    profile: str | None = None


@dataclass(frozen=True)
class Draft:
    """A request on its way to an answer. ``keep_in`` means the question and context must not
    reach a model outside the use case's residencies: no remote embedding, BM25 only.
    ``policy`` is ``[policy]`` in force; ``notes`` say what it kept back before generation
    (shown with the answer, ``route["policy"]["notes"]``). ``min_support`` is the support
    threshold the check applied (``[answer] min_support`` or the use case's own)."""

    request: Request
    use_case: str
    case: UseCaseSettings
    reason: str
    route: RouteRequest
    language: str | None = None
    search_query: str = ""
    parts: tuple[str, ...] = ()
    keep_in: bool = False
    hits: tuple[Hit, ...] = ()
    passages: tuple[Passage, ...] = ()
    evidence: Evidence | None = None
    min_support: float | None = None
    policy: Policy = field(default_factory=Policy)
    notes: tuple[str, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def verdict(self) -> dict[str, float]:
        """What the answer's route shows of the evidence: its ``support`` and the ``min_support``
        it was checked against (each left out when there is none)."""
        support = self.evidence.support if self.evidence is not None else None
        shown = {"support": round(support, 3) if support is not None else None, "min_support": self.min_support}
        return {name: value for name, value in shown.items() if value is not None}

    def timed(self, name: str, **changes: Any) -> Draft:
        """A copy with ``changes`` and ``timings[name]`` = milliseconds since the request began."""
        return replace(self, timings={**self.timings, name: (time.perf_counter() - self.started) * 1000}, **changes)


class Search(Protocol):
    """``Assistant.search``: the ``k`` best passages for a query that ``user`` may read."""

    def __call__(self, query: str, k: int = 5, user: str | None = None, *, mode: SearchMode | None = None) -> list[Hit]: ...


@dataclass
class Services:
    """What the stages use: the configuration, search, the store, the router, language
    detection, and an evidence scorer (``scorer(dense)``: with or without embeddings)."""

    settings: Settings
    search: Search
    store: Store
    router: Router
    languages: LanguageDetector
    scorer: Callable[[bool], EvidenceScorer]
    embedder_residency: str


class Stage(Protocol):
    """One step of the answer pipeline: returns the draft with what it added, or the final
    ``Answer`` when the turn ends here (the documents do not answer)."""

    def run(self, draft: Draft) -> Draft | Answer: ...
