"""Mixed-label workload: does any chunk reach a residency its sensitivity label does not allow?

    python bench/security_policy.py [--embedder minilm|bedrock-embed]

A corpus of 32 documents, 8 per label (public, internal, confidential, restricted; each folder
labelled by an ``.inhouse-acl`` file), every sentence holding a unique code. The chain is
Claude on the Bedrock emulator (in-account) then the extractive answerer (local), under the
default ``[policy]``. The workload: one question per document in Auto, each restricted
question asked again in Private followed by a follow-up in Auto with the private turn as
history (as the chat sends it), and questions that retrieve several labels at once.

Two independent counts of what left the process:

- on the wire: every request the emulator received (chat and embeddings) searched for each
  document's codes; a code of a label that ``in-account`` may not receive is a violation;
- in the audit log: every outbound call's ``chunk_ids`` looked up in the store, their labels
  checked against the call's residency.

Both must be 0. Ingestion is counted apart: with a remote embedder (``bedrock-embed``) every
chunk is embedded by it when ingested, whatever its label. Results go to
bench/results/security_policy.json.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rich.console import Console
from rich.table import Table

from inhouse import Assistant
from inhouse.config import LABELS
from inhouse.policy import Policy
from inhouse.testing.emulators.bedrock import BedrockEmulator

REPO = Path(__file__).resolve().parents[1]
CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
BEDROCK_RESIDENCY = "in-account"
TOPICS = ("budget", "vendor", "office", "hiring", "audit", "roadmap", "pricing", "security review")
console = Console()


def code(label: str, doc: int, sentence: int) -> str:
    """The unique code of one sentence (what the wire is searched for)."""
    return f"{label[:3].upper()}{doc}{sentence}-{(doc * 7919 + sentence * 104729 + len(label)) % 100000:05d}"


def write_corpus(root: Path) -> dict[str, str]:
    """Eight documents per label, each folder labelled; returns code -> label."""
    codes = {}
    for label in LABELS:
        folder = root / label
        folder.mkdir(parents=True)
        (folder / ".inhouse-acl").write_text(f'label = "{label}"\n', encoding="utf-8")
        for doc, topic in enumerate(TOPICS):
            sentences = []
            for s, fact in enumerate(("reference", "owner code", "ticket")):
                c = code(label, doc, s)
                codes[c] = label
                sentences.append(f"The {label} {topic} {fact} is {c}.")
            body = f"# {label.title()} {topic}\n\n{' '.join(sentences)}\n\nThis note is about the {topic} of the {label} team.\n"
            (folder / f"{topic.replace(' ', '-')}.md").write_text(body, encoding="utf-8")
    return codes


def make_assistant(work: Path, corpus: Path, url: str, embedder: str) -> Assistant:
    """Claude (emulator) then extractive; the gate and support check off so every question calls a model."""
    aws = f'region = "us-east-1"\nendpoint_url = "{url}"\nbackoff_base = 0.001'
    embed = f'use = "bedrock-embed"\n{aws}' if embedder == "bedrock-embed" else 'use = "minilm"'
    config = work / "plugins.toml"
    config.write_text(
        f'[embedder]\n{embed}\n[store]\nuse = "local"\n[connectors.docs]\nuse = "filesystem"\npath = "{corpus}"\n'
        f'[providers.claude]\nuse = "bedrock"\nmodel = "{CLAUDE}"\n{aws}\n[providers.extractive]\nuse = "extractive"\n'
        '[routing]\ndefault = ["claude", "extractive"]\nprivate = ["claude", "extractive"]\n'
        "[retrieval]\nmin_similarity = -1\n[answer]\nmin_support = 0\n",
        encoding="utf-8",
    )
    return Assistant.from_config(config, home=work / "home")


def workload(assistant: Assistant) -> Counter[str]:
    """Ask every question of the workload; returns who answered, by provider."""
    answered: Counter[str] = Counter()
    for label in LABELS:
        for topic in TOPICS:
            question = f"What is the {label} {topic} reference?"
            answered[assistant.ask(question).provider or "abstained"] += 1
            if label == "restricted":
                private = assistant.ask(question, mode="private")
                turn = private.route.get("history_residency")
                history = [
                    {"role": "user", "content": question, "residency": turn},
                    {"role": "assistant", "content": private.text, "residency": turn},
                ]
                answered[private.provider or "abstained"] += 1
                answered[assistant.ask("and the owner code?", history=history).provider or "abstained"] += 1
    for topic in TOPICS:
        answered[assistant.ask(f"List every {topic} reference and ticket of every team").provider or "abstained"] += 1
    return answered


def wire_counts(requests: list[dict], codes: dict[str, str], policy: Policy) -> tuple[Counter[str], int, Counter[str]]:
    """Sentences sent per label, violations, and requests by kind, from the emulator's records."""
    sent: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    violations = 0
    for request in requests:
        body = json.dumps(request)
        kinds["chat" if request.get("model_id") == CLAUDE else "embedding"] += 1
        for c, label in codes.items():
            if c in body:
                sent[label] += 1
                violations += not policy.may_send(label, BEDROCK_RESIDENCY)
    return sent, violations, kinds


def audit_counts(assistant: Assistant, policy: Policy) -> tuple[int, Counter[str], int]:
    """Outbound calls in the audit log, chunks sent per label, and violations."""
    calls = [r for r in assistant.audit.records() if r["kind"] == "call"] if assistant.audit else []
    ids = sorted({c for r in calls for c in r["chunk_ids"]})
    labels = {chunk.id: chunk.sensitivity for chunk in assistant.store.get_chunks(ids)}  # type: ignore[attr-defined]
    sent: Counter[str] = Counter()
    violations = 0
    for r in calls:
        for c in r["chunk_ids"]:
            sent[labels.get(c, "?")] += 1
            violations += not policy.may_send(labels.get(c, "?"), r["residency"])
    return len(calls), sent, violations


def measure(embedder: str = "minilm") -> dict:
    """Run the workload with ``embedder`` and return the figures (also printed as a table)."""
    policy = Policy()
    with tempfile.TemporaryDirectory() as tmp, BedrockEmulator() as emulator:
        work = Path(tmp)
        codes = write_corpus(work / "corpus")
        os.environ.update(AWS_ACCESS_KEY_ID="AKIDTESTING", AWS_SECRET_ACCESS_KEY="testing", AWS_EC2_METADATA_DISABLED="true")
        with make_assistant(work, work / "corpus", emulator.endpoint_url, embedder) as assistant:
            started = time.perf_counter()
            report = assistant.ingest()
            ingest_sent, ingest_violations, _ = wire_counts([r.to_json() for r in emulator.requests], codes, policy)
            emulator.reset()
            answered = workload(assistant)
            requests = [r.to_json() for r in emulator.requests]
            wire_sent, wire_violations, kinds = wire_counts(requests, codes, policy)
            calls, audit_sent, audit_violations = audit_counts(assistant, policy)
            seconds = time.perf_counter() - started
    result = {
        "embedder": embedder,
        "documents": report.added,
        "questions": sum(answered.values()),
        "answered_by": dict(answered),
        "ingest_sentences_sent_by_label": {label: ingest_sent[label] for label in LABELS},
        "ingest_violations": ingest_violations,
        "bedrock_requests": dict(kinds),
        "wire_sentences_sent_by_label": {label: wire_sent[label] for label in LABELS},
        "wire_violations": wire_violations,
        "audit_outbound_calls": calls,
        "audit_chunks_sent_by_label": {label: audit_sent[label] for label in LABELS},
        "audit_violations": audit_violations,
        "seconds": round(seconds, 1),
    }
    table = Table(title=f"Mixed-label workload ({embedder} embedder, chain claude (in-account) -> extractive (local))")
    columns = ("label", "may go to Bedrock", "sentences sent at ingest", "sentences sent answering", "chunks in audited calls")
    for column in columns:
        table.add_column(column)
    for label in LABELS:
        allowed = str(policy.may_send(label, BEDROCK_RESIDENCY))
        table.add_row(label, allowed, str(ingest_sent[label]), str(wire_sent[label]), str(audit_sent[label]))
    console.print(table)
    console.print(
        f"{result['questions']} questions, answered by {dict(answered)}; Bedrock requests {dict(kinds)}; "
        f"violations: answering on the wire {wire_violations}, in the audit log {audit_violations}, at ingest {ingest_violations}"
    )
    return result


def main() -> None:
    """Measure with the chosen embedders and write bench/results/security_policy.json."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--embedder", choices=("minilm", "bedrock-embed", "both"), default="both")
    args = parser.parse_args()
    embedders = ("minilm", "bedrock-embed") if args.embedder == "both" else (args.embedder,)
    results = {name: measure(name) for name in embedders}
    out = REPO / "bench" / "results" / "security_policy.json"
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    console.print(f"written {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
