"""The `local` store: SQLite records, FAISS + bm25s snapshots, ACL and filters, crash safety.

Real SQLite, FAISS and bm25s throughout; vectors are random unit vectors (a chunk's own
vector is a perfect dense query for it) and texts carry unique words for BM25.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from inhouse.errors import ConfigError, IngestError
from inhouse.plugins import DocumentRecord
from inhouse.store import fusion
from inhouse.store.local import LocalStore
from inhouse.types import Chunk

DIM = 16


def unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def doc(
    doc_id: str,
    texts: list[str],
    *,
    source: str | None = None,
    acl: tuple[str, ...] = (),
    root: str = "/r",
    page: int | None = None,
) -> tuple[DocumentRecord, list[Chunk]]:
    source = source or f"{doc_id}.md"
    record = DocumentRecord(doc_id, source, root, doc_id.title(), f"hash-{texts}", 1.0, acl)
    chunks = [
        Chunk(f"{doc_id}#{i}", doc_id, source, doc_id.title(), t, heading=f"H{i}", page=page, acl=acl, ordinal=i, meta={"n": i})
        for i, t in enumerate(texts)
    ]
    return record, chunks


def open_store(path: Path, **cfg) -> LocalStore:
    return LocalStore(LocalStore.Config(path=str(path), **cfg), name="test")


def snapshot_files(path: Path) -> dict[str, float]:
    return {str(p.relative_to(path)): p.stat().st_mtime_ns for p in (path / "snapshots").rglob("*") if p.is_file()}


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(42)


def test_round_trip_upsert_search_delete(tmp_path: Path, rng: np.random.Generator) -> None:
    """Upserted chunks are found by every mode with their metadata; deleted ones are gone."""
    store = open_store(tmp_path / "ix")
    vecs = {}
    texts = [("leave", "Annual leave is 25 days"), ("vpn", "Connect the tunnelbird VPN"), ("pay", "Salaries are paid monthly")]
    for name, text in texts:
        record, chunks = doc(name, [text], root="/hr" if name != "vpn" else "/it")
        vecs[name] = unit(rng, 1)
        store.upsert(record, chunks, vecs[name])
    assert store.count() == 3
    assert set(store.documents()) == {"leave", "vpn", "pay"} and set(store.documents("/it")) == {"vpn"}
    top = store.search(vecs["vpn"][0], "tunnelbird", k=2)[0]
    assert top.chunk.id == "vpn#0" and top.chunk.heading == "H0" and top.chunk.meta == {"n": 0}
    assert top.dense == pytest.approx(1.0, abs=1e-5) and top.bm25 > 0
    assert store.search(vecs["vpn"][0], "", k=1, mode="dense")[0].chunk.id == "vpn#0"
    bm = store.search(None, "salaries", k=3, mode="bm25")
    assert [h.chunk.id for h in bm] == ["pay#0"] and bm[0].dense is None and bm[0].score == bm[0].bm25
    store.delete(["vpn"])
    assert store.count() == 2 and "vpn" not in store.documents()
    assert all(h.chunk.doc_id != "vpn" for h in store.search(vecs["vpn"][0], "tunnelbird", k=5))
    assert store.get_chunks(["pay#0", "vpn#0"])[0].text == "Salaries are paid monthly"
    store.close()
    store.close()  # idempotent


def test_replacing_a_document_removes_its_old_chunks(tmp_path: Path, rng: np.random.Generator) -> None:
    """A second upsert of a document replaces all its chunks: old text is no longer searchable."""
    store = open_store(tmp_path / "ix")
    record, chunks = doc("d", ["alpha one", "alpha two", "alpha three"])
    store.upsert(record, chunks, unit(rng, 3))
    assert len(store.search(None, "alpha", k=5, mode="bm25")) == 3
    record, chunks = doc("d", ["beta only"])
    store.upsert(record, chunks, unit(rng, 1))
    assert store.count() == 1
    assert store.search(None, "alpha", k=5, mode="bm25") == []
    assert [h.chunk.text for h in store.search(None, "beta", k=5, mode="bm25")] == ["beta only"]
    assert store.get_chunks(["d#1", "d#2"]) == []
    store.close()


def test_acl_is_applied_inside_the_search(tmp_path: Path, rng: np.random.Generator) -> None:
    """Private chunks never reach other users, and k public results still come back when the
    best-matching chunks are all private (filtering happens before the top-k, not after)."""
    store = open_store(tmp_path / "ix", candidates=20)
    query = unit(rng, 1)[0]
    close = query + 0.01 * unit(rng, 200)  # 200 private chunks nearest the query
    close /= np.linalg.norm(close, axis=1, keepdims=True)
    for i in range(200):
        record, chunks = doc(f"secret{i}", ["salary bands salary bands"], acl=("hr-team", "alice"))
        store.upsert(record, chunks, close[i : i + 1])
    for i in range(30):
        record, chunks = doc(f"public{i}", [f"salary bands are published item{i}"])
        store.upsert(record, chunks, unit(rng, 1))
    for mode in ("hybrid", "dense", "bm25"):
        for principals in (["bob"], [], ["bob", "everyone"]):
            hits = store.search(query, "salary bands", k=10, acl=principals, mode=mode)
            assert len(hits) == 10, (mode, principals)
            assert all(h.chunk.doc_id.startswith("public") for h in hits), (mode, principals)
        hits = store.search(query, "salary bands", k=10, acl=["alice"], mode=mode)
        assert all(h.chunk.doc_id.startswith("secret") for h in hits), mode
    assert len(store.search(query, "salary", k=300, acl=None)) == 230  # None: no filtering
    store.close()


def test_filters_exact_prefix_page_and_lists(tmp_path: Path, rng: np.random.Generator) -> None:
    """Filters match chunk fields exactly, by prefix with a trailing *, and any-of a list."""
    store = open_store(tmp_path / "ix")
    for name, source, page in [
        ("a", "hr/leave.md", None),
        ("b", "hr/pay/bands.md", None),
        ("c", "it/vpn.md", None),
        ("d", "manual.pdf", 3),
        ("e", "hrx.md", None),
    ]:
        record, chunks = doc(name, ["policy text"], source=source, page=page)
        store.upsert(record, chunks, unit(rng, 1))
    q = unit(rng, 1)[0]

    def found(filters: dict) -> set[str]:
        return {h.chunk.doc_id for h in store.search(q, "policy", k=10, filters=filters)}

    assert found({"source": "hr/*"}) == {"a", "b"}
    assert found({"source": "hr/leave.md"}) == {"a"}
    assert found({"source": "hr*"}) == {"a", "b", "e"}
    assert found({"page": 3}) == found({"page": "3"}) == {"d"}
    assert found({"doc_id": ["a", "c"]}) == {"a", "c"}
    assert found({"title": "B", "source": "hr/*"}) == {"b"}
    assert found({"source": "nothing/*"}) == set()
    assert found({"source": "hr/*", "heading": "H0"}) == {"a", "b"}
    with pytest.raises(ConfigError, match="cannot filter on 'colour'"):
        store.search(q, "policy", filters={"colour": "red"})
    store.close()


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


def test_hits_carry_dense_and_bm25_evidence(tmp_path: Path, rng: np.random.Generator) -> None:
    """Every hybrid hit has its true cosine, even one that only BM25 found; fusions all work."""
    for method in ("rrf", "minmax", "zscore"):
        store = open_store(tmp_path / method, fusion=method, candidates=2, alpha=0.5)
        vecs = unit(rng, 40)
        for i in range(40):
            record, chunks = doc(f"d{i}", ["needle haystack" if i == 33 else f"hay{i}"])
            store.upsert(record, chunks, vecs[i : i + 1])
        hits = store.search(vecs[0], "needle", k=5)
        assert hits[0].chunk.id in ("d0#0", "d33#0"), method
        by_id = {h.chunk.id: h for h in hits}
        assert "d33#0" in by_id and by_id["d33#0"].bm25 > 0
        assert by_id["d33#0"].dense == pytest.approx(float(vecs[33] @ vecs[0]), abs=1e-5)
        assert all(h.dense is not None and h.bm25 is not None for h in hits)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        store.close()


def test_fusion_functions() -> None:
    """RRF sums 1/(k + rank); the convex fusions normalise each method over the union."""
    pos, score = fusion.rrf([np.array([1, 2, 3]), np.array([3, 1])], rrf_k=60)
    assert pos.tolist() == [1, 3, 2]
    assert score[0] == pytest.approx(1 / 61 + 1 / 62)
    dense = {1: 0.9, 2: 0.5, 3: 0.1}
    bm25 = {1: 0.0, 2: 1.0, 3: 10.0}
    pos, score = fusion.fuse(
        "minmax",
        [np.array([1, 2]), np.array([3])],
        lambda p: np.array([dense[i] for i in p]),
        lambda p: np.array([bm25[i] for i in p]),
        alpha=0.4,
    )
    assert pos.tolist() == [3, 1, 2] and score.tolist() == pytest.approx([0.6, 0.4, 0.4 * 0.5 + 0.6 * 0.1])
    assert fusion.normalise(np.array([2.0, 2.0]), "zscore").tolist() == [0.0, 0.0]


def test_embedder_change_is_reported_and_reset_clears(tmp_path: Path, rng: np.random.Generator) -> None:
    """A store built with one embedder refuses another with a message that says how to fix it."""
    path = tmp_path / "ix"
    store = open_store(path)
    store.check_embedder("mini", DIM)
    record, chunks = doc("d", ["text"])
    store.upsert(record, chunks, unit(rng, 1))
    store.close()
    store = open_store(path)
    store.check_embedder("mini", DIM)
    with pytest.raises(ConfigError, match="--rebuild"):
        store.check_embedder("bigger", 768)
    with pytest.raises(ConfigError, match="768"):
        store.upsert(*doc("e", ["text"]), unit(rng, 1, 768))
    with pytest.raises(ConfigError, match="--rebuild"):
        store.search(unit(rng, 1, 768)[0], "text")
    store.reset()
    assert store.count() == 0 and store.documents() == {} and store.search(None, "text", mode="bm25") == []
    store.check_embedder("bigger", 768)
    store.upsert(*doc("e", ["text"]), unit(rng, 1, 768))
    assert store.search(unit(rng, 1, 768)[0], "text")[0].chunk.id == "e#0"
    store.close()


def test_bad_input_and_config(tmp_path: Path, rng: np.random.Generator) -> None:
    """Wrong shapes, foreign chunks and bad settings fail with errors that say what is wrong."""
    with pytest.raises(ConfigError, match="needs a directory"):
        LocalStore(LocalStore.Config())
    assert LocalStore(LocalStore.Config(), home=tmp_path / "home").directory == tmp_path / "home" / "index"
    with pytest.raises(ValidationError):
        LocalStore.Config(fusoin="rrf")
    with pytest.raises(ConfigError, match="stemmer"):
        open_store(tmp_path / "x", stemmer="klingon")
    store = open_store(tmp_path / "ix")
    assert store.search(unit(rng, 1)[0], "anything") == []  # empty store
    record, chunks = doc("d", ["a", "b"])
    with pytest.raises(IngestError, match="expected 2 vectors"):
        store.upsert(record, chunks, unit(rng, 1))
    with pytest.raises(IngestError, match="NaN"):
        store.upsert(record, chunks, np.full((2, DIM), np.nan, dtype=np.float32))
    with pytest.raises(IngestError, match="doc_id"):
        store.upsert(doc("other", ["x"])[0], chunks, unit(rng, 2))
    store.upsert(record, chunks, unit(rng, 2))
    with pytest.raises(IngestError, match="unique"):
        store.upsert(doc("e", ["x"])[0], [Chunk("d#0", "e", "e.md", "E", "x")], unit(rng, 1))
    assert store.count() == 2 and set(store.documents()) == {"d"}  # the failed upsert changed nothing
    store.upsert(*doc("empty", []), np.zeros((0, DIM), dtype=np.float32))
    assert "empty" in store.documents()
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
                hits = store.search(vecs[0], "shared", k=5, acl=["x"])
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
