"""Where text may go (``[policy]``): labels mapped to residencies, turns that carry the residency
they were produced under, and the answer pipeline sending each provider only what its
residency may receive — skipping a provider that may not receive the answering passages,
saying so when none may, and redacting personal data for the residencies ``redact`` names.

The pipeline runs for real (understand, a stage that supplies labelled passages, the router,
citations); the providers are small ``Provider`` classes that record the prompt they receive
and reply from it, since what is asserted is what the pipeline sends."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from inhouse import config as config_mod
from inhouse.answering import Pipeline, Request
from inhouse.answering.draft import Draft, Services
from inhouse.answering.evidence import EvidenceScorer
from inhouse.answering.stages import Score
from inhouse.audit import AuditLog
from inhouse.config import PolicySettings
from inhouse.followup import standalone
from inhouse.ledger import Ledger
from inhouse.plugins import Passage, Prompt, Provider
from inhouse.policy import Policy, history_for, may_reach, most_private
from inhouse.route import Router
from inhouse.types import Answer, Usage
from inhouse.usecase import LanguageDetector

LEAVE = Passage(1, "d1", "people/leave.md", "Annual leave", "Every employee receives 26 days of annual leave.", chunk_ids=("c1",))
SALARY = Passage(
    2, "d2", "hr/salaries.md", "Salary bands", "Band 7 pays EUR 91,000; ask priya.raman@example.com.", chunk_ids=("c2",)
)
PLAN = Passage(3, "d3", "board/plan.md", "Board plan", "The Lisbon office opens in March.", chunk_ids=("c3",))


def labelled(passage: Passage, label: str, n: int | None = None) -> Passage:
    """``passage`` with a sensitivity label (and number)."""
    return replace(passage, sensitivity=label, n=n or passage.n)


# policy ---------------------------------------------------------------------------------------


def test_the_default_policy_keeps_restricted_text_private_and_confidential_in_the_account() -> None:
    policy = Policy()
    assert policy.allowed("restricted") == ("local", "self-hosted")
    assert policy.may_send("internal", "external") and not policy.may_send("confidential", "external")
    assert policy.may_send("confidential", "in-account") and not policy.may_send("restricted", "in-account")
    assert policy.redacts("external") and not policy.redacts("in-account")


def test_a_partial_table_keeps_the_other_defaults_and_an_unknown_label_stays_local() -> None:
    policy = Policy(PolicySettings.model_validate({"labels": {"internal": ["local", "self-hosted", "in-account"]}}))
    assert not policy.may_send("internal", "external") and policy.may_send("public", "external")
    assert policy.allowed("restricted") == ("local", "self-hosted")
    assert policy.allowed("secret-from-a-connector") == ("local",)


def test_passages_are_split_by_what_a_residency_may_receive() -> None:
    mixed = [labelled(LEAVE, "internal"), labelled(SALARY, "restricted"), labelled(PLAN, "confidential")]
    kept, held = Policy().passages_for(mixed, "in-account")
    assert [p.n for p in kept] == [1, 3] and [p.n for p in held] == [2]


def test_clearance_is_the_least_private_residency_every_label_allows() -> None:
    policy = Policy()
    assert policy.clearance(["internal", "public"]) is None
    assert policy.clearance(["internal", "confidential"]) == "in-account"
    assert policy.clearance(["restricted"]) == "self-hosted"
    assert most_private(["self-hosted", "local"]) == "local"


def test_a_turn_goes_only_to_a_residency_at_least_as_private() -> None:
    assert may_reach("in-account", "local") and may_reach("in-account", "in-account")
    assert not may_reach("self-hosted", "in-account") and not may_reach("local", "self-hosted")
    assert may_reach(None, "external"), "a turn with no residency is the caller's own text"
    assert not may_reach("made-up", "self-hosted"), "an unknown residency counts as local"


def test_history_for_a_residency_drops_more_private_turns_and_the_residency_key() -> None:
    history = [
        {"role": "user", "content": "private q", "residency": "local"},
        {"role": "assistant", "content": "private a", "residency": "local"},
        {"role": "user", "content": "open q", "residency": "in-account"},
        {"role": "assistant", "content": "open a", "residency": "in-account"},
    ]
    kept, held = history_for(history, "in-account")
    assert kept == [{"role": "user", "content": "open q"}, {"role": "assistant", "content": "open a"}] and held == 2
    assert history_for(history, "local")[1] == 0


def test_follow_up_rewriting_never_sends_a_private_question_to_a_remote_embedder() -> None:
    history = [
        {"role": "user", "content": "What is Priya Raman's salary band?", "residency": "local"},
        {"role": "assistant", "content": "Band 7 [1]", "residency": "local"},
    ]
    assert standalone("and for contractors?", history, "in-account") == "and for contractors?"
    assert standalone("and for contractors?", history, "local") == "What is Priya Raman's salary band? and for contractors?"
    assert standalone("and for contractors?", history) == "What is Priya Raman's salary band? and for contractors?"


# the pipeline ---------------------------------------------------------------------------------


class Model(Provider):
    """Records each prompt and replies with the first sentence of its first passage, citing [1];
    ``pieces`` splits the reply (a placeholder may arrive in two pieces)."""

    def __init__(self, residency: str, pieces: int = 1):
        super().__init__()
        self.residency = residency  # type: ignore[assignment]
        self.pieces = pieces
        self.prompts: list[Prompt] = []

    def generate(self, prompt: Prompt) -> Iterator[str | Usage]:
        self.prompts.append(prompt)
        reply = f"{prompt.passages[0].text} [1]" if prompt.passages else "The documents do not say."
        step = -(-len(reply) // self.pieces)
        for i in range(0, len(reply), step):
            yield reply[i : i + step]
        yield Usage(len(prompt.system) // 4, len(reply) // 4)


class Given:
    """A stage that supplies the retrieved passages (retrieval itself is tested elsewhere)."""

    def __init__(self, passages: list[Passage]):
        self.passages = tuple(passages)

    def run(self, draft: Draft) -> Draft:
        return draft.timed("retrieval_ms", passages=self.passages)


def pipeline(
    tmp_path: Path, models: dict[str, Model], routing: str, passages: list[Passage], extra: str = "", embedder: str = "local"
) -> tuple[Pipeline, AuditLog]:
    profiles = "\n".join(f'[providers.{name}]\nuse = "{name}"' for name in models)
    text = f'[embedder]\nuse = "minilm"\n[store]\nuse = "local"\n{profiles}\n[routing]\n{routing}\n{extra}'
    settings = config_mod.parse(text, "test", tmp_path)
    for name, model in models.items():
        model.use = name
    audit = AuditLog(tmp_path / "audit.jsonl")
    ledger = Ledger(tmp_path / "usage.sqlite3", audit=audit)
    router = Router(settings.core.routing, models.__getitem__, settings.core.router, ledger=lambda: ledger)
    services = Services(
        settings=settings,
        search=lambda query, k=5, user=None, *, mode=None: [],
        store=None,  # type: ignore[arg-type]  # no stage here reads the store
        router=router,
        languages=LanguageDetector(),
        scorer=lambda dense: EvidenceScorer(str.split),
        embedder_residency=embedder,
    )
    return Pipeline(services, [Given(passages)]), audit


def ask(p: Pipeline, question: str, **kwargs) -> tuple[list[str], Answer]:
    *pieces, answer = p.stream(Request(question, **kwargs))
    assert isinstance(answer, Answer)
    return [str(x) for x in pieces], answer


def test_a_provider_that_may_not_receive_the_answering_passage_is_skipped_for_one_that_may(tmp_path: Path) -> None:
    claude, local = Model("in-account"), Model("local")
    p, _ = pipeline(
        tmp_path, {"claude": claude, "local": local}, 'default = ["claude", "local"]', [labelled(SALARY, "restricted", 1)]
    )
    _, answer = ask(p, "What does band 7 pay?")
    assert claude.prompts == [] and answer.provider == "local" and "EUR 91,000" in answer.text
    assert answer.route["skipped"] == [
        {"profile": "claude", "reason": "residency in-account may not receive the restricted passages that answer the question "
         "(local, self-hosted may)"}
    ]  # fmt: skip
    assert answer.route["history_residency"] == "local" and answer.citations[0].source == "hr/salaries.md"


def test_a_lower_passage_the_provider_may_not_receive_is_left_out_and_said(tmp_path: Path) -> None:
    claude = Model("in-account")
    passages = [labelled(LEAVE, "internal"), labelled(SALARY, "restricted"), labelled(PLAN, "confidential")]
    p, audit = pipeline(tmp_path, {"claude": claude}, 'default = ["claude"]', passages)
    _, answer = ask(p, "How many days of leave?", user="ana")
    [prompt] = claude.prompts
    assert [x.source for x in prompt.passages] == ["people/leave.md", "board/plan.md"]
    assert "EUR 91,000" not in prompt.system and "Band 7" not in json.dumps(prompt.messages)
    assert answer.route["policy"]["notes"] == ["1 passage labelled restricted not sent to the in-account model"]
    [call] = [r for r in audit.records() if r["kind"] == "call"]
    assert call["chunk_ids"] == ["c1", "c3"] and call["user"] == "ana", "the ledger names the chunks that went out"


def test_when_no_provider_may_receive_the_passages_the_answer_says_why_and_sends_nothing(tmp_path: Path) -> None:
    claude = Model("in-account")
    p, audit = pipeline(tmp_path, {"claude": claude}, 'default = ["claude"]', [labelled(SALARY, "restricted", 1)])
    pieces, answer = ask(p, "What does band 7 pay?")
    assert claude.prompts == [] and audit.records() == []
    assert answer.abstained and answer.provider is None and pieces == [answer.text]
    assert answer.text.startswith("I can't answer this without sending restricted text where it may not go")
    assert "local or self-hosted" in answer.text and "claude: residency in-account" in answer.text
    assert answer.route["policy"]["blocked"] == {"label": "restricted", "allowed": ["local", "self-hosted"]}
    assert [c.source for c in answer.related] == ["hr/salaries.md"], "the user may still read it here"
    assert answer.route["history_residency"] == "self-hosted", "the exchange names a restricted document"


def test_a_private_turn_never_becomes_history_for_a_less_private_provider(tmp_path: Path) -> None:
    claude, local = Model("in-account"), Model("local")
    routing = 'default = ["claude"]\nprivate = ["claude", "local"]'
    p, _ = pipeline(tmp_path, {"claude": claude, "local": local}, routing, [labelled(LEAVE, "internal")])
    _, private = ask(p, "Does Priya Raman get extra leave?", mode="private")
    assert private.provider == "local" and private.route["history_residency"] == "local"
    turn = private.route["history_residency"]
    history = (
        {"role": "user", "content": "Does Priya Raman get extra leave?", "residency": turn},
        {"role": "assistant", "content": private.text, "residency": turn},
    )
    _, follow = ask(p, "and for contractors?", history=history)
    [prompt] = claude.prompts
    assert prompt.messages == [{"role": "user", "content": "and for contractors?"}]
    assert "Priya" not in prompt.system + json.dumps(prompt.messages)
    assert follow.route["policy"]["notes"] == ["2 earlier turns from a more private residency not sent to the in-account model"]
    ask(p, "and for interns?", history=history, mode="private")
    assert local.prompts[-1].messages[0]["content"] == "Does Priya Raman get extra leave?", "private history stays private"


def test_personal_data_is_replaced_for_an_external_provider_and_restored_for_the_user(tmp_path: Path) -> None:
    vendor = Model("external", pieces=7)  # the placeholder arrives split across pieces
    p, audit = pipeline(tmp_path, {"vendor": vendor}, 'default = ["vendor"]', [labelled(SALARY, "internal", 1)])
    history = ({"role": "user", "content": "I am priya.raman@example.com"}, {"role": "assistant", "content": "Hello."})
    pieces, answer = ask(p, "Whom do I ask about band 7?", history=history)
    [prompt] = vendor.prompts
    sent = prompt.system + json.dumps(prompt.messages) + json.dumps([x.text for x in prompt.passages])
    assert "priya.raman@example.com" not in sent and sent.count("[EMAIL_1]") >= 3, "one value, one placeholder"
    assert "".join(pieces) == "Band 7 pays EUR 91,000; ask priya.raman@example.com. [1]"
    assert answer.text == "Band 7 pays EUR 91,000; ask priya.raman@example.com. [1]"
    assert answer.citations[0].source == "hr/salaries.md" and answer.citations[0].highlights
    assert "priya.raman@example.com" in answer.context[0]["text"], "the user sees the passage as written"
    assert answer.route["policy"]["redactions"] == {"email": 2}
    [call] = [r for r in audit.records() if r["kind"] == "call"]
    assert call["redactions"] == {"email": 2} and call["bytes_sent"] > 100 and len(call["payload_sha256"]) == 64


def test_a_residency_not_in_redact_gets_the_text_as_written(tmp_path: Path) -> None:
    claude = Model("in-account")
    p, _ = pipeline(tmp_path, {"claude": claude}, 'default = ["claude"]', [labelled(SALARY, "internal", 1)])
    ask(p, "Whom do I ask about band 7?")
    assert "priya.raman@example.com" in claude.prompts[0].system


def test_redact_can_name_the_account_too(tmp_path: Path) -> None:
    claude = Model("in-account")
    extra = '[policy]\nredact = ["in-account", "external"]\n'
    p, _ = pipeline(tmp_path, {"claude": claude}, 'default = ["claude"]', [labelled(SALARY, "internal", 1)], extra)
    _, answer = ask(p, "Whom do I ask about band 7?")
    assert "priya.raman@example.com" not in claude.prompts[0].system and "priya.raman@example.com" in answer.text


@pytest.mark.parametrize(("label", "sent"), [("internal", True), ("confidential", False)])
def test_evidence_is_embedded_only_when_the_embedder_may_receive_every_passage(tmp_path: Path, label: str, sent: bool) -> None:
    embedded: list[str] = []

    def embed(texts: Sequence[str]) -> np.ndarray:
        embedded.extend(texts)
        return np.full((len(texts), 4), 0.5, dtype=np.float32)

    p, _ = pipeline(tmp_path, {"local": Model("local")}, 'default = ["local"]', [labelled(PLAN, label, 1)], embedder="external")
    p.services.scorer = lambda dense: EvidenceScorer(str.split, embed if dense else None)
    p.stages.append(Score(p.services))
    _, answer = ask(p, "When does the Lisbon office open?")
    assert any("Lisbon" in t for t in embedded) is sent
    assert ("policy" in answer.route) is not sent
