"""The stages before generation: understand → retrieve → gate → expand → score → check.

Each is a small class with one method, ``run(draft)``, and the settings it reads; each returns
a new draft, or ends the turn with an ``Answer`` that abstains. ``STAGES`` names them for the
configuration (``[answer] stages``); a new stage is a new class added there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from itertools import zip_longest

from inhouse import followup, usecase
from inhouse.answering.abstain import abstain
from inhouse.answering.draft import Draft, Request, Services, Stage
from inhouse.answering.expand import expand
from inhouse.answering.injection import Defuse
from inhouse.answering.parts import split_question
from inhouse.errors import ConfigError
from inhouse.policy import Policy
from inhouse.route import RouteRequest
from inhouse.types import Answer, Hit


class Understand:
    """The use case (mode, image request, language), the stand-alone search text of a
    follow-up, the question's parts, and the route: chain, residencies allowed, output."""

    def __init__(self, services: Services):
        self.services = services

    def run(self, request: Request) -> Draft:  # type: ignore[override]  # the first stage takes the request
        """The draft of ``request``."""
        s = self.services
        core = s.settings.core
        choice = usecase.choose(
            request.question, request.mode, core.routing, core.router, s.languages, bool(request.images), s.settings.use_case
        )
        case = s.settings.use_case(choice.use_case)
        chain = s.router.chain(choice.use_case)
        if request.profile is not None:
            if request.profile not in s.settings.providers:
                raise ConfigError(
                    f"there is no [providers.{request.profile}] profile (defined: {', '.join(s.settings.providers)})"
                )
            chain = [request.profile]
        route = RouteRequest(
            choice.use_case,
            tuple(chain),
            need=case.produces,
            residency=tuple(case.residency) if case.residency is not None else None,
            user=request.user or "",
        )
        keep_in = case.residency is not None and s.embedder_residency not in case.residency
        embeds = case.retrieve and not keep_in and core.retrieval.mode != "bm25"
        # The search text goes to the embedder: a previous question from a more private turn stays out of it.
        query = followup.standalone(request.question, request.history, s.embedder_residency if embeds else None)
        notes: tuple[str, ...] = ()
        if query != followup.standalone(request.question, request.history):
            notes = (f"searched as asked: the question before it may not go to the {s.embedder_residency} embedder",)
        parts = tuple(split_question(request.question, core.answer.max_parts)) if case.retrieve else ()
        policy = Policy(core.policy)
        draft = Draft(request, choice.use_case, case, choice.reason, route, choice.language, query, parts, keep_in,
                      policy=policy, notes=notes)  # fmt: skip
        return draft.timed("understand_ms")


class Retrieve:
    """Searches the stand-alone question and, for a multi-part question, each part, keeping the
    best ``[answer] pool`` of each and interleaving them so every part is represented."""

    def __init__(self, services: Services):
        self.services = services

    def run(self, draft: Draft) -> Draft | Answer:
        """The draft with its hits, or an abstaining answer when nothing was found."""
        if not draft.case.retrieve:
            return draft
        pool = self.services.settings.core.answer.pool
        mode = "bm25" if draft.keep_in else None
        queries = [draft.search_query, *(self._part_query(draft, part) for part in draft.parts[1:])]
        ranked = [self.services.search(q, k=pool, user=draft.request.user, mode=mode) for q in queries]
        hits = _interleave(ranked if len(draft.parts) > 1 else ranked[:1])
        if not hits:
            return abstain(draft.timed("retrieval_ms"), "nothing in the documents matches the question")
        return draft.timed("retrieval_ms", hits=tuple(hits))

    @staticmethod
    def _part_query(draft: Draft, part: str) -> str:
        """A later part pointing back ("which code do I use for it") is searched with the first."""
        return part if not followup.is_follow_up(part) else f"{draft.parts[0]} {part}"


class Gate:
    """Today's first check: when the best passage's similarity to the question is below
    ``[retrieval] min_similarity`` (or the use case's own), the question is off-topic."""

    def __init__(self, services: Services):
        self.services = services

    def run(self, draft: Draft) -> Draft | Answer:
        """The draft unchanged, or an abstaining answer for an off-topic question."""
        if not draft.hits:
            return draft
        threshold = draft.case.min_similarity
        threshold = self.services.settings.core.retrieval.min_similarity if threshold is None else threshold
        best = max((h.dense for h in draft.hits if h.dense is not None), default=None)
        if best is not None and best < threshold:
            return abstain(draft, f"the closest passage is far from the question (similarity {best:.2f})", draft.hits)
        return draft


class Expand:
    """Small-to-big: hits widened by ``[answer] window`` neighbouring chunks into passages."""

    def __init__(self, services: Services):
        self.services = services

    def run(self, draft: Draft) -> Draft:
        """The draft with its passages, best first."""
        if not draft.hits:
            return draft
        passages = expand(draft.hits, self.services.store, self.services.settings.core.answer.window)
        return draft.timed("expand_ms", passages=tuple(passages))


class Score:
    """Evidence for the best ``SCORED`` passages: each sentence scored against each part of the
    question; those passages then ordered by their best sentence (the rest keep their rank).
    Sentences are embedded only when the embedder's residency may receive every one of them."""

    SCORED = 6

    def __init__(self, services: Services):
        self.services = services

    def run(self, draft: Draft) -> Draft:
        """The draft with its evidence and re-ordered passages."""
        if not draft.passages:
            return draft
        head, tail = draft.passages[: self.SCORED], draft.passages[self.SCORED :]
        residency = self.services.embedder_residency
        private = [p for p in head if not draft.policy.may_send(p.sensitivity, residency)]
        notes = draft.notes
        if private and not draft.keep_in:  # sentences of a passage the embedder may not receive are not embedded
            notes = (*notes, f"evidence scored without embeddings: a passage may not go to the {residency} embedder")
        evidence = self.services.scorer(not draft.keep_in and not private).score(draft.parts, head)
        best = {p.n: max((s.score for s in evidence.sentences if s.passage == p.n), default=0.0) for p in head}
        ordered = sorted(head, key=lambda p: (-best[p.n], p.n))
        return draft.timed("evidence_ms", evidence=evidence, passages=(*ordered, *tail), notes=notes)


class Check:
    """Abstains when the evidence says the passages do not answer the question: support below
    ``[answer] min_support`` (or the use case's own), or a question that asks for a number
    ("how many", "what's the rate") whose best sentence states none (unless the threshold is
    0: that use case never abstains on evidence). Nothing is sent to a model then. When
    support cannot be judged (BM25-only retrieval, a question kept from a remote embedder),
    the model's own "not in the documents" is the check."""

    def __init__(self, services: Services):
        self.services = services

    def run(self, draft: Draft) -> Draft | Answer:
        """The draft unchanged, or an abstaining answer that says what it looked at."""
        if draft.evidence is None or draft.evidence.support is None:
            return draft
        threshold = draft.case.min_support
        threshold = self.services.settings.core.answer.min_support if threshold is None else threshold
        draft = replace(draft, min_support=threshold)
        if draft.evidence.support < threshold:
            return abstain(draft, f"no passage states it (support {draft.evidence.support:.2f})", draft.hits)
        if threshold > 0 and draft.evidence.number_missing:
            return abstain(draft, "no passage states the number asked for", draft.hits)
        return draft


STAGES: dict[str, type] = {
    "retrieve": Retrieve, "gate": Gate, "expand": Expand, "defuse": Defuse, "score": Score, "check": Check,
}  # fmt: skip
DEFAULT_STAGES = ("retrieve", "gate", "expand", "defuse", "score", "check")


def stage_name(stage: Stage) -> str:
    """The name ``[answer] stages`` gives ``stage`` (a stage of another kind: its class name, lower case)."""
    return next((name for name, kind in STAGES.items() if type(stage) is kind), type(stage).__name__.lower())


def build_stages(services: Services, names: Sequence[str] = DEFAULT_STAGES) -> list[Stage]:
    """The stages named (in order), built for ``services``; an unknown name is a ``ConfigError``."""
    unknown = [n for n in names if n not in STAGES]
    if unknown:
        raise ConfigError(f"answer.stages: unknown stage {', '.join(unknown)} (known: {', '.join(STAGES)})")
    return [STAGES[name](services) for name in names]


def _interleave(ranked: Sequence[Sequence[Hit]]) -> list[Hit]:
    """Hits of several searches, best of each first, round robin, each chunk once."""
    seen: set[str] = set()
    merged = []
    for row in zip_longest(*ranked):
        for hit in row:
            if hit is not None and hit.chunk.id not in seen:
                seen.add(hit.chunk.id)
                merged.append(hit)
    return merged
