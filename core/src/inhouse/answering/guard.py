"""The policy at the door of each call: what one provider of the chain may be sent.

For one draft, :class:`Guard` screens each provider (one whose residency may not receive
the passages that answer the question is skipped, with the reason), builds the prompt it
may receive (only passages its residency may receive, only history turns produced at least
as privately, personal data replaced by placeholders when ``[policy] redact`` names its
residency) and restores the placeholders in the text the user sees. When no provider of
the chain may receive the answering passages, :func:`refuse` says so instead of answering.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from inhouse.answering.abstain import abstain
from inhouse.answering.draft import Draft
from inhouse.config import LABELS
from inhouse.plugins import Passage, Prompt, Provider
from inhouse.policy import history_for
from inhouse.redaction import Redactor, RestoringStream
from inhouse.route import Outbound
from inhouse.types import Answer

MakePrompt = Callable[[Provider, Sequence[Passage], list[dict[str, str]]], Prompt]


@dataclass
class Sent:
    """What the guard let through to the provider built for last: the passages as the user
    knows them (placeholders restored), the notes to show with the answer, the values
    redacted by kind, and the stream that restores placeholders in the reply."""

    residency: str
    passages: list[Passage]
    notes: list[str] = field(default_factory=list)
    redactions: dict[str, int] = field(default_factory=dict)
    restorer: RestoringStream | None = None


class Guard:
    """Screens, builds and restores for one draft (see the module's docstring)."""

    def __init__(self, draft: Draft, make: MakePrompt):
        self.draft = draft
        self.make = make
        self.policy = draft.policy
        self.answering = answering_passages(draft)
        self.sent: Sent | None = None

    def withheld(self, residency: str) -> list[Passage]:
        """The answering passages ``residency`` may not receive."""
        return [p for p in self.answering if not self.policy.may_send(p.sensitivity, residency)]

    def screen(self, provider: Provider) -> str | None:
        """Why ``provider`` may not take this question (None: it may)."""
        held = self.withheld(provider.residency)
        if not held:
            return None
        label = strictest(p.sensitivity for p in held)
        allowed = ", ".join(self.policy.allowed(label)) or "none"
        return f"residency {provider.residency} may not receive the {label} passages that answer the question ({allowed} may)"

    def build(self, provider: Provider) -> Outbound:
        """The prompt ``provider`` may receive, redacted when its residency is redacted."""
        residency = provider.residency
        passages, held = self.policy.passages_for(self.draft.passages, residency)
        history, older = history_for(self.draft.request.history, residency)
        prompt = self.make(provider, passages, history)
        sent = Sent(residency, list(prompt.passages), notes=list(self.draft.notes))
        if held:
            labels = ", ".join(sorted({p.sensitivity for p in held}))
            sent.notes.append(f"{_count(len(held), 'passage')} labelled {labels} not sent to the {residency} model")
        if older:
            sent.notes.append(f"{_count(older, 'earlier turn')} from a more private residency not sent to the {residency} model")
        if self.policy.redacts(residency):
            prompt, sent.restorer, sent.redactions = redact_prompt(prompt, Redactor(self.policy.redact_kinds))
            if sent.redactions:
                kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(sent.redactions.items()))
                sent.notes.append(f"personal data replaced before sending to the {residency} model ({kinds})")
        self.sent = sent
        return Outbound(prompt, sent.redactions)

    def restore(self, piece: str) -> str:
        """A streamed piece of the reply with its placeholders restored (a placeholder split
        across pieces comes out whole with a later piece)."""
        restorer = self.sent.restorer if self.sent else None
        return restorer.feed(piece) if restorer is not None else piece

    def flush(self) -> str:
        """What the restoring stream still holds at the end of the reply."""
        restorer = self.sent.restorer if self.sent else None
        return restorer.flush() if restorer is not None else ""


def answering_passages(draft: Draft) -> list[Passage]:
    """The passages the answer depends on: the one holding the best sentence for each part of
    the question, else the best passage."""
    by_n = {p.n: p for p in draft.passages}
    best: dict[int, tuple[float, int]] = {}
    for s in draft.evidence.sentences if draft.evidence else ():
        if s.passage in by_n and (s.part not in best or s.score > best[s.part][0]):
            best[s.part] = (s.score, s.passage)
    chosen = list(dict.fromkeys(n for _, n in best.values()))
    return [by_n[n] for n in chosen] if chosen else list(draft.passages[:1])


def strictest(labels: Iterable[str]) -> str:
    """The strictest of ``labels`` (a label not in ``LABELS`` is stricter than any)."""
    return max(labels, key=lambda label: LABELS.index(label) if label in LABELS else len(LABELS))


def refuse(draft: Draft, skipped: Sequence[dict[str, str]], held: Sequence[Passage]) -> Answer:
    """The answer when no provider of the chain may receive the passages that answer the
    question: it says which label keeps them in, where they may go, and offers them to read."""
    label = strictest(p.sensitivity for p in held)
    allowed = draft.policy.allowed(label)
    where = " or ".join(allowed) if allowed else "no"
    chain = f"routing.{draft.use_case}"
    why = f"the passages that answer it are labelled {label}, which only {where} models may receive"
    reasons = "; ".join(f"{s['profile']}: {s['reason']}" for s in skipped) or "the chain is empty"
    text = (
        f"I can't answer this without sending {label} text where it may not go: {why}, and no model of {chain} "
        f"may receive them ({reasons}). "
        f"Ask in a mode with a {where} model, or ask an administrator to add one to {chain}. "
        "The passages are listed below to read yourself."
    )
    answer = abstain(draft, why, text=text)
    answer.route["skipped"] = list(skipped)
    answer.route["policy"] = {"notes": [*draft.notes, why], "blocked": {"label": label, "allowed": list(allowed)}}
    return answer


def redact_prompt(prompt: Prompt, redactor: Redactor) -> tuple[Prompt, RestoringStream, dict[str, int]]:
    """``prompt`` with personal data replaced everywhere it is sent or quoted from (system,
    messages, passages, parts, sentences; one value, one placeholder), the stream that
    restores the reply, and the counts by kind of what goes on the wire (system, messages)."""
    session = redactor.session()
    counts: dict[str, int] = {}

    def clean(text: str, sent: bool = False) -> str:
        done = session.redact(text)
        for kind, n in done.counts.items() if sent else ():
            counts[kind] = counts.get(kind, 0) + n
        return done.text

    redacted = replace(
        prompt,
        system=clean(prompt.system, sent=True),
        messages=[{**m, "content": clean(m["content"], sent=True)} for m in prompt.messages],
        passages=[replace(p, text=clean(p.text), title=clean(p.title), heading=clean(p.heading)) for p in prompt.passages],
        parts=[clean(part) for part in prompt.parts],
        sentences=[replace(s, text=clean(s.text)) for s in prompt.sentences],
    )
    return redacted, RestoringStream(session.placeholders), counts


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"
