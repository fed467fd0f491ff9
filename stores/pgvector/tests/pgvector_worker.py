"""One process of ``test_pgvector_concurrency``: a writer of new versions of one document, or a reader that
searches and exports while writers run, checking every result it sees.

    python pgvector_worker.py write DOC_ID VERSIONS GO_FILE
    python pgvector_worker.py read DOC_ID,DOC_ID VERSIONS GO_FILE

The store is the one of ``$INHOUSE_TEST_PG_DSN`` and ``$INHOUSE_TEST_PG_SCHEMA``. Each worker
prints ``ready`` once its store is open, waits for GO_FILE (so all of them start together), then
prints one JSON line with what it did and saw.

Version ``v`` of a document has ``parts(v)`` chunks, each saying its version in its text, its
``meta`` and the document's hash, so a reader can tell a torn read: chunks of two versions in
one result, a version with chunks missing, or a record whose hash is not its chunks' version.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from inhouse.plugins import DocumentRecord
from inhouse.types import Chunk, Hit
from inhouse_pgvector.store import PgvectorStore

DIM = 8


def parts(version: int) -> int:
    """How many chunks version ``version`` of a document has (2 to 6)."""
    return 2 + version % 5


def version_of(doc_id: str, version: int) -> tuple[DocumentRecord, list[Chunk], np.ndarray]:
    record = DocumentRecord(doc_id, f"{doc_id}.md", "/shared", doc_id, f"v{version}", float(version), ("*",))
    chunks = [
        Chunk(f"{doc_id}#{i}", doc_id, f"{doc_id}.md", doc_id, f"shared version {version} part {i}", acl=("*",), ordinal=i,
              meta={"version": version})
        for i in range(parts(version))
    ]  # fmt: skip
    vectors = np.ones((len(chunks), DIM), dtype=np.float32) + np.arange(len(chunks), dtype=np.float32)[:, None] * 0.01
    return record, chunks, vectors


def torn(doc_id: str, chunks: list[Chunk], record: DocumentRecord | None = None) -> str | None:
    """What is wrong with one document's chunks as one read saw them (None: a whole version)."""
    seen = {c.meta["version"] for c in chunks}
    if len(seen) != 1:
        return f"{doc_id}: chunks of versions {sorted(seen)} together"
    version = seen.pop()
    if sorted(c.ordinal for c in chunks) != list(range(parts(version))):
        return f"{doc_id}: version {version} with chunks {sorted(c.ordinal for c in chunks)} of {parts(version)}"
    if record is not None and record.hash != f"v{version}":
        return f"{doc_id}: record {record.hash} with chunks of v{version}"
    return None


def write(store: PgvectorStore, doc_id: str, versions: int) -> dict:
    for version in range(1, versions + 1):
        store.upsert(*version_of(doc_id, version))
    return {"written": versions, "chunks": parts(versions)}


def read(store: PgvectorStore, doc_ids: list[str], versions: int) -> dict:
    """Search (all modes) and export until every document is seen at its last version."""
    problems: list[str] = []
    latest = dict.fromkeys(doc_ids, 0)
    seen: dict[str, set[int]] = {doc_id: set() for doc_id in doc_ids}
    searches = exports = 0
    deadline = time.monotonic() + 300
    while min(latest.values()) < versions and time.monotonic() < deadline:
        mode = ("dense", "bm25", "hybrid")[searches % 3]
        hits = store.search(np.ones(DIM, dtype=np.float32), "shared version", k=100, mode=mode)
        searches += 1
        by_doc: dict[str, list[Hit]] = {}
        for hit in hits:
            by_doc.setdefault(hit.chunk.doc_id, []).append(hit)
        for doc_id, found in by_doc.items():
            problem = torn(doc_id, [h.chunk for h in found])
            if problem:
                problems.append(f"{mode} search: {problem}")
                continue
            version = found[0].chunk.meta["version"]
            if version < latest[doc_id]:
                problems.append(f"{mode} search: {doc_id} went back from v{latest[doc_id]} to v{version}")
            latest[doc_id] = max(latest[doc_id], version)
            seen[doc_id].add(version)
        if searches % 5 == 0:
            for record, chunks, _ in store.export():
                exports += 1
                problem = torn(record.id, chunks, record)
                if problem:
                    problems.append(f"export: {problem}")
    distinct = {doc_id: len(versions_seen) for doc_id, versions_seen in seen.items()}
    return {"searches": searches, "exports": exports, "latest": latest, "distinct": distinct, "problems": problems}


def main() -> None:
    role, target, versions, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    config = PgvectorStore.Config(dsn=os.environ["INHOUSE_TEST_PG_DSN"], db_schema=os.environ["INHOUSE_TEST_PG_SCHEMA"])
    store = PgvectorStore(config, name="store")
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.01)
    result = write(store, target, versions) if role == "write" else read(store, target.split(","), versions)
    store.close()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
