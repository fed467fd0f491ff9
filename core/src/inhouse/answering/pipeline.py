"""The answer pipeline: understand → (retrieve → gate → expand → score → check) → generate → cite.

The stages before generation come from ``[answer] stages``; generation asks the router for
the use case's chain, building each provider's prompt with context packed to that
provider's own budget; the reply is then cited and checked for a refusal. A use case that
does not retrieve (``image``) goes straight to its model with the request alone.

``[policy]`` is applied at each call (``inhouse.answering.guard``): a provider gets only the
passages and history turns its residency may receive, with personal data replaced when its
residency is redacted; one that may not receive the passages that answer the question is
skipped, and when none may, the answer says it cannot answer without sending that text out.
``route["policy"]`` lists what was held back; ``route["history_residency"]`` is the
residency the turns of this exchange carry when sent back as history.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import replace

from inhouse.answering.abstain import abstain
from inhouse.answering.citing import cite
from inhouse.answering.draft import Draft, Request, Services, Stage
from inhouse.answering.guard import Guard, Sent, refuse
from inhouse.answering.pack import pack
from inhouse.answering.prompting import NOT_FOUND, build_prompt, is_refusal
from inhouse.answering.sentences import split_sentences
from inhouse.answering.stages import Understand, build_stages, stage_name
from inhouse.errors import ProviderError
from inhouse.plugins import Artifact, Passage, Prompt, Provider, ScoredSentence
from inhouse.route import Routed
from inhouse.tracing import Tracing, answer_attributes, failed
from inhouse.types import Answer, Usage

INSTRUCTION_TOKENS = 120  # what the instructions and a question cost, beside the passages
IMAGE_MAGIC = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"RIFF": "image/webp"}


class Pipeline:
    """Runs one question through the stages, the router and the citation step."""

    def __init__(self, services: Services, stages: Sequence[Stage] | None = None, tracing: Tracing | None = None):
        self.services = services
        self.tracing = tracing or Tracing()
        self.understand = Understand(services)
        self.stages = list(stages) if stages is not None else build_stages(services, services.settings.core.answer.stages)

    def stream(self, request: Request) -> Iterator[str | Answer]:
        """Yield the answer's text as it is generated, then the final ``Answer``; spans (when
        tracing): ``inhouse.answer`` over ``inhouse.stage.NAME`` of each stage, ``inhouse.pack``
        and ``inhouse.provider`` of each provider tried, and ``inhouse.cite``."""
        tracing = self.tracing
        root = tracing.start("inhouse.answer", attributes=tracing.text("inhouse.question", request.question))
        try:
            with tracing.span("inhouse.stage.understand", root):
                draft = self.understand.run(request)
            request_id = draft.route.request
            result: Draft | Answer = draft
            with tracing.answer(request_id, root):
                for stage in self.stages:
                    assert isinstance(result, Draft)
                    with tracing.span(f"inhouse.stage.{stage_name(stage)}", root):
                        result = stage.run(result)
                    if isinstance(result, Answer):
                        result.route = {**result.route, "request": request_id}
                        root.set_attributes(answer_attributes(result))
                        yield result.text
                        yield result
                        return
                assert isinstance(result, Draft)
                for item in self._generate(result):
                    if isinstance(item, Answer):
                        root.set_attributes(answer_attributes(item))
                    yield item
        except Exception as exc:
            failed(root, exc)
            raise
        finally:
            root.end()

    def _generate(self, draft: Draft) -> Iterator[str | Answer]:
        pieces: list[str] = []
        first: float | None = None
        routed: Routed | None = None
        guard = Guard(draft, lambda provider, passages, history: self._prompt(draft, provider, passages, history))
        refusal = self._refusal(draft, guard)
        if refusal is not None:
            yield refusal.text
            yield refusal
            return
        try:
            for item in self.services.router.generate(draft.route, guard.build, guard.screen):
                text = guard.flush() if isinstance(item, Routed) else guard.restore(item)
                if isinstance(item, Routed):
                    routed = item
                if text:
                    first = first if first is not None else time.perf_counter()
                    pieces.append(text)
                    yield text
        except ProviderError as exc:
            if draft.case.retrieve or exc.code != "content-filtered":
                raise
            pieces, routed = [str(exc)], None  # an image model's refusal is the answer's text
            yield pieces[0]
        yield self._finish(draft, "".join(pieces).strip(), routed, first, guard.sent)

    def _refusal(self, draft: Draft, guard: Guard) -> Answer | None:
        """The answer that says it cannot answer, when every profile of the chain is skipped
        and at least one only because the answering passages may not reach its residency."""
        router = self.services.router
        if not guard.answering:
            return None
        skipped, held = [], []
        for profile in draft.route.chain:
            reason = router.skip_reason(draft.route, profile)
            if reason is None:
                withheld = guard.withheld(router.provider(profile).residency)
                if not withheld:
                    return None
                held.extend(withheld)
                reason = guard.screen(router.provider(profile))
            skipped.append({"profile": profile, "reason": reason or ""})
        return refuse(draft, skipped, held) if held else None

    def _prompt(self, draft: Draft, provider: Provider, passages: Sequence[Passage], history: list[dict[str, str]]) -> Prompt:
        """The prompt for ``provider`` with the ``passages`` and ``history`` it may receive."""
        request = draft.request
        answer = self.services.settings.core.answer
        if not draft.case.retrieve:
            images = [Artifact(data=bytes(b), mime=_mime(b)) for b in request.images]
            return Prompt(system="", messages=[{"role": "user", "content": request.question}], images=images)
        sentences = draft.evidence.sentences if draft.evidence else ()
        budget = max(64, min(provider.preferred_context, provider.context_window - answer.max_tokens - INSTRUCTION_TOKENS))
        parent = self.tracing.answer_span(draft.route.request)
        with self.tracing.span("inhouse.pack", parent, {"inhouse.budget_tokens": budget}) as span:
            packed = pack(passages, budget, provider.count_tokens, sentences, answer.context_passages)
            span.set_attribute("inhouse.passages", len(packed))
        return build_prompt(
            request.question,
            [passage for _, passage in packed],
            history,
            max_tokens=answer.max_tokens,
            history_turns=answer.history_turns,
            parts=draft.parts,
            sentences=renumber(sentences, packed),
        )

    def _finish(self, draft: Draft, raw: str, routed: Routed | None, first: float | None, sent: Sent | None = None) -> Answer:
        now = time.perf_counter()
        timings = {
            **draft.timings,
            "first_token_ms": ((first or now) - draft.started) * 1000,
            "total_ms": (now - draft.started) * 1000,
        }
        passages = sent.passages if routed is not None and sent is not None else []  # as the user knows them: restored
        if draft.case.retrieve and (not raw or is_refusal(raw)):
            said_no = replace(draft, timings=timings)
            answer = abstain(
                said_no, f"{routed.provider if routed else 'the model'} said the documents do not answer", draft.hits
            )
            return _with_route(answer, draft, routed, passages, sent)
        with self.tracing.span("inhouse.cite", self.tracing.answer_span(draft.route.request)) as span:
            text, citations = cite(raw, passages) if draft.case.retrieve else (raw, [])
            span.set_attribute("inhouse.citations", len(citations))
        artifacts = list(routed.artifacts) if routed is not None else []
        if not draft.case.retrieve and artifacts and not text:
            text = f"Here is the image ({routed.provider})." if len(artifacts) == 1 else "Here are the images."  # type: ignore[union-attr]
        answer = Answer(
            text or NOT_FOUND,
            citations,
            not text if draft.case.retrieve else not artifacts,
            routed.provider if routed else None,
            routed.usage if routed else Usage(),
            timings,
            list(routed.attempts) if routed else [],
            artifacts=artifacts,
            cost_usd=routed.cost_usd if routed else 0.0,
            kind=routed.answers if routed and text else "",
        )
        return _with_route(answer, draft, routed, passages, sent)


def _with_route(
    answer: Answer, draft: Draft, routed: Routed | None, passages: Sequence[Passage], sent: Sent | None = None
) -> Answer:
    """``answer`` with the routing decision, the evidence, what the policy held back and the
    passages the model received (placeholders restored)."""
    route = {
        **answer.route,
        "use_case": draft.use_case,
        "request": draft.route.request,
        "reason": draft.reason,
        "chain": list(draft.route.chain),
        "provider": routed.provider if routed else None,
        "residency": routed.residency if routed else None,
        "fallback": bool(routed and routed.provider and draft.route.chain and routed.provider != draft.route.chain[0]),
        "skipped": list(routed.skipped) if routed else [],
        "history_residency": routed.residency if routed else answer.route.get("history_residency"),
    }
    notes = sent.notes if routed is not None and sent is not None else list(draft.notes)
    if notes or (sent is not None and sent.redactions):
        route["policy"] = {"notes": notes, **({"redactions": dict(sent.redactions)} if sent and sent.redactions else {})}
    if draft.language:
        route["language"] = draft.language
    if draft.search_query and draft.search_query != draft.request.question:
        route["search_query"] = draft.search_query
    if len(draft.parts) > 1:
        route["parts"] = list(draft.parts)
    route.update(draft.verdict())
    if routed is not None:
        answer.attempts, answer.usage, answer.cost_usd = list(routed.attempts), routed.usage, routed.cost_usd
    answer.route = route
    answer.context = [
        {"n": p.n, "source": p.source, "title": p.title, "heading": p.heading, "page": p.page, "doc_id": p.doc_id, "text": p.text}
        for p in passages
    ]
    return answer


def renumber(sentences: Sequence[ScoredSentence], packed: Sequence[tuple[int, Passage]]) -> list[ScoredSentence]:
    """The scored sentences of the packed passages, numbered as packed; a passage cut to fit
    keeps the sentences it still holds, at their new positions."""
    out = []
    for old, passage in packed:
        units = {text: i for i, text in enumerate(split_sentences(passage.text))}
        for s in sentences:
            if s.passage == old and s.text in units:
                out.append(replace(s, passage=passage.n, index=units[s.text]))
    return out


def _mime(data: bytes) -> str:
    return next((m for magic, m in IMAGE_MAGIC.items() if data.startswith(magic)), "application/octet-stream")
