"""Adversarial access-control probes against a real local index: 0 leaks is the goal.

    python bench/security.py [--out bench/results/security_acl.json]

A temporary home holds a real ``local`` store and the default MiniLM embedder over a corpus
of company folders: one per group (``hr``, ``finance``, ``legal``, ``eng``) with an
``.inhouse-acl`` naming it, a public folder, personal uploads (``user:alice``) and files
nobody granted (fail closed: visible to nobody when users are configured). Every forbidden
document holds a unique secret word and a unique title word. Seven users (one the
configuration does not name) then try to reach what they may not read:

- its exact text, its secret word and its title as queries, in dense, bm25 and hybrid search;
- filters on its ``doc_id`` and ``source`` (and its folder's prefix);
- ``open_document`` of its id (the refusal must read exactly like an unknown id's);
- questions to ``Assistant.ask`` with the extractive default provider: the answer, its
  citations, related passages and context must hold no forbidden word, title or source;
- a group membership removed from the configuration (the next query, no re-ingest);
- an ``.inhouse-acl`` tightened, then a re-ingest (no re-embedding).

A leak is any forbidden document (or its secret/title word) in what a probe returns. As a
control, every permitted secret word must be found at rank 1 by its reader. Prints a table
and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from inhouse import Assistant
from inhouse.errors import AccessDenied

REPO = Path(__file__).resolve().parents[1]
GROUPS = ("hr", "finance", "legal", "eng")
USERS = {"alice": ["hr"], "bob": ["finance"], "carol": ["legal", "eng"], "dave": ["eng"], "erin": [], "frank": ["hr", "finance"]}
UNCONFIGURED = "mallory"  # signs in, but the configuration does not name her
PER_GROUP, PUBLIC, ANNOUNCE, ORPHANS, PERSONAL = 8, 12, 6, 5, 3
MODES = ("dense", "bm25", "hybrid")
FILLER = "The quarterly planning meeting reviewed budgets, travel, hiring and the office move."


def word(rng: random.Random) -> str:
    """A unique nonsense word (no embedder or BM25 vocabulary knows it beforehand)."""
    return "".join(rng.choice("bcdfghjklmnprstvz") + rng.choice("aeiou") for _ in range(5))


class Corpus:
    """The files written, with what each may be read by (the ground truth, not the store's)."""

    def __init__(self, root: Path, seed: int = 7):
        rng = random.Random(seed)
        self.root, self.docs = root, {}  # source -> {secret, title, readers: set of users or "*", text}
        people = [*USERS, UNCONFIGURED]

        def write(rel: str, readers: set[str], folder: Path) -> None:
            secret, title = word(rng), word(rng)
            text = f"# Ledger {title}\n\n{FILLER} The passphrase for this memo is {secret}. {FILLER}\n"
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text)
            self.docs[rel] = {"secret": secret, "title": title, "readers": readers, "text": text}

        docs = root / "docs"
        for group in GROUPS:
            readers = {u for u, gs in USERS.items() if group in gs}
            for i in range(PER_GROUP):
                write(f"{group}/memo{i}.md", readers, docs)
            (docs / group / ".inhouse-acl").write_text(f'groups = ["{group}"]\nlabel = "confidential"\n')
        for i in range(PUBLIC):
            write(f"public/page{i}.md", set(people), docs)
        for i in range(ANNOUNCE):
            write(f"public/announce/news{i}.md", set(people), docs)
        (docs / "public" / ".inhouse-acl").write_text("public = true\n")
        for i in range(ORPHANS):
            write(f"misc/orphan{i}.md", set(), docs)
        for i in range(PERSONAL):
            write(f"note{i}.md", {"alice"}, root / "uploads" / "alice")
        self.people = people

    def forbidden(self, user: str) -> list[str]:
        return [s for s, d in self.docs.items() if user not in d["readers"]]

    def permitted(self, user: str) -> list[str]:
        return [s for s, d in self.docs.items() if user in d["readers"]]


class Probes:
    """Runs probes and counts them, and the leaks, by kind."""

    def __init__(self, assistant: Assistant, corpus: Corpus):
        self.assistant, self.corpus = assistant, corpus
        self.count, self.leaks, self.examples = Counter(), Counter(), []
        self.ids = {r.source: r.id for r in assistant.store.documents().values()}

    def check(self, kind: str, user: str, target: str, texts: list[str], sources: list[str]) -> None:
        """One probe: a leak when any forbidden source, secret or title word shows up."""
        self.count[kind] += 1
        forbidden = set(self.corpus.forbidden(user))
        words = [w for s in forbidden for w in (self.corpus.docs[s]["secret"], self.corpus.docs[s]["title"])]
        blob = "\n".join(texts)
        leaked = sorted((set(sources) & forbidden) | {w for w in words if w in blob})
        if leaked:
            self.leaks[kind] += 1
            self.examples.append({"kind": kind, "user": user, "target": target, "leaked": leaked[:3]})

    def search(self, kind: str, user: str, target: str, query: str, **options) -> None:
        for mode in MODES if "filters" not in options else ("hybrid",):
            hits = self.assistant.search(query, k=10, user=user, mode=mode, **options)
            self.check(
                f"{kind} ({mode})", user, target, [h.chunk.text + h.chunk.title for h in hits], [h.chunk.source for h in hits]
            )

    def document(self, user: str, source: str) -> None:
        doc_id = self.ids[source]
        messages = []
        for probe in (doc_id, "0" * 20):
            try:
                record, data = self.assistant.open_document(probe, user=user)
                messages.append(data.decode(errors="replace") + record.title)
            except AccessDenied as exc:
                messages.append(str(exc))
        self.count["open_document"] += 1
        if messages[0] != messages[1]:  # the refusal of a forbidden id reads like an unknown id's
            self.leaks["open_document"] += 1
            self.examples.append({"kind": "open_document", "user": user, "target": source})

    def ask(self, user: str, source: str) -> None:
        doc = self.corpus.docs[source]
        for question in (f"What is the passphrase for the memo {doc['title']}?", f"Which memo mentions {doc['secret']}?"):
            answer = self.assistant.ask(question, user=user)
            cited = answer.citations + answer.related
            texts = [answer.text, *(c.text + c.title + c.source for c in cited), json.dumps(answer.context)]
            self.check("ask: answer, citations, context", user, source, texts, [c.source for c in cited])

    def everything(self, user: str, sources: list[str], asks: int) -> None:
        """Every probe kind against each of ``sources`` as ``user``."""
        for n, source in enumerate(sources):
            doc = self.corpus.docs[source]
            self.search("exact text", user, source, doc["text"])
            self.search("secret word", user, source, doc["secret"])
            self.search("title", user, source, f"Ledger {doc['title']}")
            self.search("filter doc_id", user, source, doc["secret"], filters={"doc_id": self.ids[source]})
            self.search("filter source", user, source, doc["secret"], filters={"source": source})
            self.search("filter folder", user, source, FILLER, filters={"source": source.rsplit("/", 1)[0] + "/*"})
            self.document(user, source)
            if n < asks:
                self.ask(user, source)

    def control(self, user: str) -> tuple[int, int]:
        """(found at rank 1, permitted): the reader finds each permitted secret word (bm25)."""
        found = 0
        for source in self.corpus.permitted(user):
            hits = self.assistant.search(self.corpus.docs[source]["secret"], k=1, user=user, mode="bm25")
            found += bool(hits) and hits[0].chunk.source == source
        return found, len(self.corpus.permitted(user))


def config(root: Path) -> Path:
    users = "".join(f"[users.{u}]\ngroups = {json.dumps(gs)}\n" for u, gs in USERS.items())
    path = root / "plugins.toml"
    path.write_text(
        '[embedder]\nuse = "minilm"\n[store]\nuse = "local"\n'
        f'[connectors.corp]\nuse = "filesystem"\npath = "{root / "docs"}"\n'
        '[providers.extractive]\nuse = "extractive"\n[routing]\ndefault = ["extractive"]\n' + users
    )
    return path


def run(workdir: Path) -> dict:
    started = time.perf_counter()
    corpus = Corpus(workdir)
    assistant = Assistant.from_config(config(workdir), workdir / "home")
    first = assistant.ingest()
    assistant.ingest(workdir / "uploads" / "alice", acl=["user:alice"])  # a personal upload
    ingest_s = time.perf_counter() - started
    probes = Probes(assistant, corpus)
    controls = {}
    for user in corpus.people:
        probes.everything(user, corpus.forbidden(user), asks=3)
        controls[user] = probes.control(user)

    # A membership removed from the configuration applies to the next query, with no re-ingest.
    users = assistant.settings.core.users
    assistant.settings.core.users = {**users, "alice": users["alice"].model_copy(update={"groups": []})}
    corpus_before = {s: set(d["readers"]) for s, d in corpus.docs.items()}
    for source in corpus.docs:
        if source.startswith("hr/"):
            corpus.docs[source]["readers"].discard("alice")
    for source in [s for s in corpus.docs if s.startswith("hr/")]:
        doc = corpus.docs[source]
        probes.search("membership removed: exact text", "alice", source, doc["text"])
        probes.search("membership removed: secret word", "alice", source, doc["secret"])
        probes.document("alice", source)
    assistant.settings.core.users = users
    for source, readers in corpus_before.items():
        corpus.docs[source]["readers"] = readers

    # An .inhouse-acl tightened: the next ingest applies it to the unchanged files.
    (workdir / "docs" / "public" / "announce" / ".inhouse-acl").write_text('groups = ["legal"]\n')
    tightened = assistant.ingest()
    legal = {u for u, gs in USERS.items() if "legal" in gs}
    for source in [s for s in corpus.docs if s.startswith("public/announce/")]:
        corpus.docs[source]["readers"] = legal
    for user in [p for p in corpus.people if p not in legal]:
        sources = [s for s in corpus.docs if s.startswith("public/announce/")]
        for source in sources:
            doc = corpus.docs[source]
            probes.search("tightened .inhouse-acl: exact text", user, source, doc["text"])
            probes.search("tightened .inhouse-acl: secret word", user, source, doc["secret"])
            probes.document(user, source)
    assistant.close()
    kinds = sorted(probes.count)
    return {
        "embedder": "minilm (sentence-transformers/all-MiniLM-L6-v2, the default)",
        "documents": len(corpus.docs),
        "users": len(corpus.people),
        "probes": sum(probes.count.values()),
        "leaks": sum(probes.leaks.values()),
        "by_kind": {k: {"probes": probes.count[k], "leaks": probes.leaks[k]} for k in kinds},
        "leak_examples": probes.examples[:20],
        "control_found_at_rank_1": {u: {"found": f, "permitted": n} for u, (f, n) in controls.items()},
        "first_ingest": {"added": first.added, "failed": len(first.failed)},
        "tightening_reingest": {"updated": tightened.updated, "chunks_embedded": tightened.chunks},
        "ingest_seconds": round(ingest_s, 1),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "security_acl.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="inhouse-security-") as tmp:
        result = run(Path(tmp))
    print(f"{'probe':48} {'probes':>7} {'leaks':>6}")
    for kind, row in result["by_kind"].items():
        print(f"{kind:48} {row['probes']:>7} {row['leaks']:>6}")
    print(f"{'total':48} {result['probes']:>7} {result['leaks']:>6}")
    controls = result["control_found_at_rank_1"]
    print(
        f"control: {sum(c['found'] for c in controls.values())}/{sum(c['permitted'] for c in controls.values())} permitted "
        f"secrets found at rank 1 by their readers; {result['seconds']} s"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written to {args.out}")
    return 1 if result["leaks"] else 0


if __name__ == "__main__":
    sys.exit(main())
