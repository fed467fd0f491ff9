"""The local store survives: snapshots rebuilt when stale or corrupt, concurrent readers,
SIGKILL during writes, and no pickle in any file."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from storekit import doc, open_store, snapshot_files, unit


def test_snapshot_rebuilt_when_deleted_or_corrupt(tmp_path: Path, rng: np.random.Generator) -> None:
    """A missing or damaged snapshot is rebuilt from SQLite, and search results stay right."""
    path = tmp_path / "ix"
    store = open_store(path)
    vecs = unit(rng, 20)
    for i in range(20):
        record, chunks = doc(f"d{i}", [f"word{i} common"])
        store.upsert(record, chunks, vecs[i : i + 1])
    expected = [h.chunk.id for h in store.search(vecs[7], "word7", k=5)]
    assert expected[0] == "d7#0"
    store.close()
    (snap,) = (path / "snapshots").iterdir()
    for damage in ("remove", "faiss", "bm25", "manifest"):
        if damage == "remove":
            import shutil

            shutil.rmtree(path / "snapshots")
        elif damage == "faiss":
            data = bytearray((snap / "dense.faiss").read_bytes())
            data[len(data) // 2 : len(data) // 2 + 64] = os.urandom(64)
            (snap / "dense.faiss").write_bytes(data)
        elif damage == "bm25":
            (snap / "bm25" / "data.csc.index.npy").write_bytes(b"garbage")
        else:
            (snap / "manifest.json").write_text("{not json")
        store = open_store(path)
        assert [h.chunk.id for h in store.search(vecs[7], "word7", k=5)] == expected, damage
        assert store.stats["rebuilds"] == 1, damage
        store.close()
        store = open_store(path)  # and the rebuilt snapshot was saved
        store.search(vecs[7], "word7", k=5)
        assert store.stats == {**store.stats, "loads": 1, "rebuilds": 0}, damage
        store.close()


def test_snapshot_of_an_older_generation_is_rebuilt(tmp_path: Path, rng: np.random.Generator) -> None:
    """Writes by another store object (or process) on the same directory are seen by the next search."""
    path = tmp_path / "ix"
    a, b = open_store(path), open_store(path)
    record, chunks = doc("first", ["first document"])
    a.upsert(record, chunks, unit(rng, 1))
    a.flush()
    assert [h.chunk.doc_id for h in a.search(None, "document", k=5, mode="bm25")] == ["first"]
    record, chunks = doc("second", ["second document"])
    b.upsert(record, chunks, unit(rng, 1))
    assert {h.chunk.doc_id for h in a.search(None, "document", k=5, mode="bm25")} == {"first", "second"}
    manifest = json.loads(next((path / "snapshots").glob("g*/manifest.json")).read_text())
    assert manifest["generation"] == b._records.generation()  # the rebuilt snapshot was saved, tagged
    a.close()
    b.close()


def test_reopen_with_valid_snapshots_does_not_rebuild(tmp_path: Path, rng: np.random.Generator) -> None:
    """Opening a store whose snapshots match SQLite loads them: no file is rewritten."""
    path = tmp_path / "ix"
    store = open_store(path)
    vecs = unit(rng, 50)
    for i in range(50):
        record, chunks = doc(f"d{i}", [f"token{i} shared"])
        store.upsert(record, chunks, vecs[i : i + 1])
    assert store.stats["rebuilds"] == 0  # writes alone never rebuild (debounced)
    store.close()  # close() builds and saves the snapshot once
    before = snapshot_files(path)
    assert any(name.endswith("dense.faiss") for name in before)
    time.sleep(0.01)
    store = open_store(path)
    assert store.search(vecs[3], "token3", k=1)[0].chunk.id == "d3#0"
    store.flush()
    store.close()
    assert store.stats["rebuilds"] == 0 and store.stats["loads"] == 1
    assert snapshot_files(path) == before


def test_many_writes_rebuild_once(tmp_path: Path, rng: np.random.Generator) -> None:
    """Upserts do not touch the snapshots; the next search rebuilds once and sees every write."""
    store = open_store(tmp_path / "ix")
    vecs = unit(rng, 300)
    for i in range(300):
        record, chunks = doc(f"d{i}", [f"unique{i}"])
        store.upsert(record, chunks, vecs[i : i + 1])
    assert not (tmp_path / "ix" / "snapshots").exists()
    assert store.search(vecs[299], "unique299", k=1)[0].chunk.id == "d299#0"
    assert store.search(vecs[0], "unique0", k=1)[0].chunk.id == "d0#0"
    assert store.stats["rebuilds"] == 1
    store.close()


def test_concurrent_searches_during_writes(tmp_path: Path, rng: np.random.Generator) -> None:
    """Searches from several threads while one thread writes: no errors, and writes become visible."""
    store = open_store(tmp_path / "ix")
    vecs = unit(rng, 120)
    for i in range(20):
        store.upsert(*doc(f"d{i}", [f"term{i} shared"]), vecs[i : i + 1])
    errors: list[BaseException] = []
    stop = threading.Event()

    def reader() -> None:
        try:
            while not stop.is_set():
                hits = store.search(vecs[0], "shared", k=5, acl=["*", "user:x"])
                assert len(hits) == 5
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for i in range(20, 120):
        store.upsert(*doc(f"d{i}", [f"term{i} shared"]), vecs[i : i + 1])
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors
    assert store.search(vecs[119], "term119", k=1)[0].chunk.id == "d119#0"
    store.close()


CHILD = textwrap.dedent(
    """
    import sys, numpy as np
    from inhouse.plugins import DocumentRecord
    from inhouse.store.local import LocalStore
    from inhouse.types import Chunk
    store = LocalStore(LocalStore.Config(path=sys.argv[1]))
    rng = np.random.default_rng(0)
    for i in range(100000):
        doc_id = f"doc{i}"
        chunks = [Chunk(f"{doc_id}#{j}", doc_id, f"{doc_id}.md", doc_id, f"codeword{i} part{j} " + "filler " * 50,
                        ordinal=j) for j in range(4)]
        vecs = rng.standard_normal((4, 32)).astype("float32")
        store.upsert(DocumentRecord(doc_id, f"{doc_id}.md", "/r", doc_id, str(i), 0.0), chunks, vecs)
        print(doc_id, flush=True)
        if i % 10 == 9:
            store.flush()  # so that some kills land while a snapshot is being written
    """
)


@pytest.mark.parametrize("committed_before_kill", [5, 37])
def test_sigkill_during_writes_loses_nothing_committed(tmp_path: Path, committed_before_kill: int) -> None:
    """SIGKILL a process that upserts (and flushes) in a loop: the store opens, and every
    document whose upsert returned before the kill is stored and searchable."""
    path = tmp_path / "ix"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"},
    )
    assert proc.stdout is not None
    committed = []
    deadline = time.monotonic() + 120
    while len(committed) < committed_before_kill and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        committed.append(line.strip())
    proc.send_signal(signal.SIGKILL)
    committed += [line.strip() for line in proc.stdout.read().splitlines()]  # printed before the kill
    proc.wait()
    assert proc.returncode == -signal.SIGKILL and len(committed) >= committed_before_kill
    store = open_store(path)
    docs = store.documents()
    assert set(committed) <= set(docs)
    assert store.count() == 4 * len(docs)
    for doc_id in committed:
        hits = store.search(None, f"codeword{doc_id[3:]}", k=4, mode="bm25")
        assert {h.chunk.doc_id for h in hits} == {doc_id}, doc_id
    dense = store.search(np.ones(32, dtype=np.float32), "", k=3, mode="dense")
    assert len(dense) == 3
    store.close()


def test_snapshot_files_need_no_pickle(tmp_path: Path, rng: np.random.Generator) -> None:
    """Every array of a saved snapshot loads with allow_pickle=False; no pickle stream anywhere."""
    path = tmp_path / "ix"
    store = open_store(path)
    store.upsert(*doc("d", ["some words here", "more words"]), unit(rng, 2))
    store.close()
    files = [p for p in (path / "snapshots").rglob("*") if p.is_file()]
    assert files
    for p in files:
        if p.suffix == ".npy":
            np.load(p, allow_pickle=False)
        assert not p.read_bytes().startswith(b"\x80"), p  # pickle protocol 2+ header


def test_an_index_from_before_connectors_were_recorded_is_upgraded_in_place(tmp_path: Path, rng: np.random.Generator) -> None:
    """Schema 1 had no ``documents.connector``: opening it adds the column, keeps every row,
    and new writes record the connector."""
    tmp_path.mkdir(exist_ok=True)
    db = sqlite3.connect(tmp_path / "store.sqlite3")
    db.executescript(
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
        "CREATE TABLE documents (id TEXT PRIMARY KEY, source TEXT NOT NULL, root TEXT NOT NULL, title TEXT NOT NULL,"
        " hash TEXT NOT NULL, modified REAL NOT NULL, acl TEXT NOT NULL DEFAULT '[]');"
        "INSERT INTO meta VALUES ('schema', 1), ('generation', 0);"
        "INSERT INTO documents VALUES ('old', 'old.md', '/r', 'Old', 'h', 1.0, '[]');"
    )
    db.commit()
    db.close()
    store = open_store(tmp_path)
    assert store.document("old").connector == ""
    record, chunks = doc("new", ["fresh text"])
    store.upsert(replace(record, connector="filesystem"), chunks, unit(rng, 1))
    assert store.document("new").connector == "filesystem" and store.document("old").title == "Old"
    store.close()
    reopened = sqlite3.connect(tmp_path / "store.sqlite3")
    assert reopened.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0] == 3
    reopened.close()


def test_an_index_from_when_an_empty_acl_meant_public_is_upgraded(tmp_path: Path, rng: np.random.Generator) -> None:
    """Schema 2 stored public documents with an empty ACL; schema 3 reads empty as nobody, so
    opening it rewrites ``[]`` as ``["*"]`` (documents and chunks), keeps restricted ACLs,
    adds the label columns, and the old public chunks stay findable by everyone."""
    store = open_store(tmp_path)
    store.upsert(*doc("pub", ["canteen opening hours"]), unit(rng, 1))
    store.upsert(*doc("hr", ["salary review"], acl=("hr",)), unit(rng, 1))
    store.close()
    db = sqlite3.connect(tmp_path / "store.sqlite3")  # rewind it to what schema 2 wrote
    db.executescript(
        "UPDATE documents SET acl = '[]' WHERE id = 'pub'; UPDATE chunks SET acl = '[]' WHERE doc_id = 'pub';"
        "ALTER TABLE documents DROP COLUMN sensitivity; DROP INDEX chunks_catalog; ALTER TABLE chunks DROP COLUMN sensitivity;"
        "UPDATE meta SET value = 2 WHERE key = 'schema';"
    )
    db.commit()
    db.close()
    store = open_store(tmp_path)
    assert store.document("pub").acl == ("*",) and store.document("hr").acl == ("hr",)
    assert store.document("pub").sensitivity == "internal"
    assert [h.chunk.doc_id for h in store.search(None, "canteen", k=3, acl=["*", "user:bob"], mode="bm25")] == ["pub"]
    assert store.search(None, "salary", k=3, acl=["*", "user:bob"], mode="bm25") == []
    store.close()
