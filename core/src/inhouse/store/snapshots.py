"""Derived search snapshots: a FAISS inner-product index and a bm25s index, on disk.

The dense index is exact (``IndexFlatIP``) or an HNSW graph over the same vectors
(``IndexHNSWFlat``, inner product), as ``params["index"]`` says: ``flat``, ``hnsw``, or
``auto`` (HNSW from ``params["hnsw_above"]`` rows on). Both keep the vectors themselves, so
cosines of any row and exact scans of a few allowed rows need no second copy.

A snapshot is one directory ``g<generation>`` holding ``dense.faiss`` (FAISS's own binary
format, graph included), ``pks.npy`` (the SQLite chunk keys, row by row), ``bm25/`` (bm25s's ``.npy`` arrays
and JSON vocabulary; saved and loaded with ``allow_pickle=False``) and ``manifest.json``
(generation, parameters, and the size and CRC-32 of every file). It is written into a
temporary directory, every file and directory is fsynced, and it is renamed into place with
``os.replace`` before the parent directory is fsynced: a reader sees a whole snapshot or none.
A snapshot that is missing, corrupt (size or CRC mismatch, unreadable) or built with other
parameters is ignored, and the store rebuilds it from SQLite. Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bm25s
import faiss
import numpy as np
import Stemmer

from inhouse.errors import ConfigError

FORMAT = 1
log = logging.getLogger("inhouse.store")


class Tokenizer:
    """bm25s tokenisation with stopwords and a PyStemmer stemmer (one stemmer per thread)."""

    def __init__(self, stemmer: str | None, stopwords: str | None):
        if stemmer is not None and stemmer not in Stemmer.algorithms():
            raise ConfigError(f"unknown stemmer {stemmer!r}; use one of {', '.join(Stemmer.algorithms())} or none")
        self.stemmer_name, self.stopwords = stemmer, stopwords
        self._local = threading.local()
        try:
            self.query("probe")
        except Exception as e:  # bm25s raises for unknown stopword languages
            raise ConfigError(f"unknown stopwords {stopwords!r} ({e}); use a language code such as 'en'") from e

    def _stemmer(self) -> Any:
        if self.stemmer_name is None:
            return None
        if not hasattr(self._local, "stemmer"):
            self._local.stemmer = Stemmer.Stemmer(self.stemmer_name)
        return self._local.stemmer

    def corpus(self, texts: list[str]) -> Any:
        """Tokenise documents into bm25s ``Tokenized`` (ids + vocabulary)."""
        return bm25s.tokenize(texts, stopwords=self.stopwords or [], stemmer=self._stemmer(), show_progress=False)

    def query(self, text: str) -> list[str]:
        """Tokenise one query into (stemmed) token strings."""
        return bm25s.tokenize(
            [text], stopwords=self.stopwords or [], stemmer=self._stemmer(), return_ids=False, show_progress=False
        )[0]


@dataclass
class Snapshot:
    """The searchable form of one SQLite generation. Row ``i`` is the chunk with key ``pks[i]``."""

    generation: int
    pks: np.ndarray  # int64, ascending
    dense: faiss.Index | None  # IndexFlatIP or IndexHNSWFlat; None when the store is empty
    vectors: np.ndarray  # (n, dim) float32 view of the FAISS storage
    bm25: bm25s.BM25 | None  # None when no chunk has a single token
    params: dict[str, Any]
    exact: faiss.IndexFlat | None = field(init=False)  # the flat index of the same rows (the graph's storage)

    def __post_init__(self) -> None:
        self.exact = flat_of(self.dense)

    @property
    def size(self) -> int:
        """Number of rows."""
        return len(self.pks)

    @property
    def hnsw(self) -> faiss.HNSW | None:
        """The HNSW graph when the dense index is one, else None (an exact index)."""
        return self.dense.hnsw if isinstance(self.dense, faiss.IndexHNSW) else None


def flat_of(index: faiss.Index | None) -> faiss.IndexFlat | None:
    """The exact index holding ``index``'s vectors: itself, or an HNSW graph's storage."""
    if isinstance(index, faiss.IndexHNSW):
        return faiss.downcast_index(index.storage)
    return index


def _vectors_of(index: faiss.Index | None) -> np.ndarray:
    flat = flat_of(index)
    if flat is None or flat.ntotal == 0:
        return np.zeros((0, flat.d if flat is not None else 0), dtype=np.float32)
    return faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)


def uses_hnsw(params: dict[str, Any], rows: int) -> bool:
    """Whether a dense index of ``rows`` rows is an HNSW graph under these parameters."""
    kind = params.get("index", "flat")
    return kind == "hnsw" or (kind == "auto" and rows >= params["hnsw_above"])


def dense_index(vectors: np.ndarray, params: dict[str, Any]) -> faiss.Index:
    """The FAISS inner-product index of these unit vectors: exact, or an HNSW graph
    (``hnsw_m`` links per node, ``hnsw_ef_construction`` candidates while linking; the build
    uses every core through OpenMP)."""
    dim = vectors.shape[1]
    if uses_hnsw(params, len(vectors)):
        index = faiss.IndexHNSWFlat(dim, params["hnsw_m"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = params["hnsw_ef_construction"]
    else:
        index = faiss.IndexFlatIP(dim)
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def build(
    generation: int, pks: np.ndarray, texts: list[str], vectors: np.ndarray, params: dict[str, Any], tokenizer: Tokenizer
) -> Snapshot:
    """Build the FAISS and BM25 indexes from rows read out of SQLite."""
    dense = dense_index(vectors, params) if vectors.size else None
    bm25 = None
    if texts:
        tokens = tokenizer.corpus(texts)
        if tokens.vocab:
            bm25 = bm25s.BM25(k1=params["k1"], b=params["b"])
            bm25.index(tokens, show_progress=False)
    return Snapshot(generation, pks.astype(np.int64), dense, _vectors_of(dense), bm25, params)


def _crc(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            crc = zlib.crc32(block, crc)
    return crc


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save(snap: Snapshot, root: Path) -> Path:
    """Write ``snap`` atomically as ``root/g<generation>``; returns that directory."""
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"g{snap.generation:012d}"
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
    try:
        np.save(tmp / "pks.npy", snap.pks, allow_pickle=False)
        if snap.dense is not None:
            faiss.write_index(snap.dense, str(tmp / "dense.faiss"))
        if snap.bm25 is not None:
            snap.bm25.save(tmp / "bm25", show_progress=False)
        files = sorted(p for p in tmp.rglob("*") if p.is_file())
        manifest = {
            "format": FORMAT,
            "generation": snap.generation,
            "rows": snap.size,
            "dim": int(snap.vectors.shape[1]),
            "params": snap.params,
            "files": {p.relative_to(tmp).as_posix(): [p.stat().st_size, _crc(p)] for p in files},
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
        for p in [*files, tmp / "manifest.json", *(d for d in tmp.rglob("*") if d.is_dir()), tmp]:
            _fsync(p)
        if final.exists():  # a corrupt or stale snapshot of the same generation: move it aside
            os.replace(final, root / f".trash-{final.name}-{os.getpid()}-{time.monotonic_ns()}")
        os.replace(tmp, final)
        _fsync(root)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError) and (final / "manifest.json").exists():
            return final  # another process renamed its copy of this generation in first
        raise
    return final


def present(root: Path, generation: int, params: dict[str, Any]) -> bool:
    """Cheap check (no checksums) that a snapshot of this generation and parameters exists."""
    try:
        m = json.loads((root / f"g{generation:012d}" / "manifest.json").read_text())
        return m.get("format") == FORMAT and m.get("generation") == generation and m.get("params") == params
    except (OSError, ValueError):
        return False


def load(root: Path, generation: int, params: dict[str, Any]) -> Snapshot | None:
    """Load the snapshot of ``generation`` if it is whole and built with ``params``, else None."""
    d = root / f"g{generation:012d}"
    if not d.is_dir():
        return None
    try:
        m = json.loads((d / "manifest.json").read_text())
        if m.get("format") != FORMAT or m.get("generation") != generation or m.get("params") != params:
            log.info("snapshot %s is stale; rebuilding", d.name)
            return None
        for rel, (size, crc) in m["files"].items():
            p = d / rel
            if p.stat().st_size != size or _crc(p) != crc:
                raise ValueError(f"{rel} does not match its checksum")
        pks = np.load(d / "pks.npy", allow_pickle=False)
        dense = faiss.read_index(str(d / "dense.faiss")) if "dense.faiss" in m["files"] else None
        bm25 = None
        if any(k.startswith("bm25/") for k in m["files"]):
            bm25 = bm25s.BM25.load(d / "bm25", mmap=False, allow_pickle=False, load_corpus=False, show_progress=False)
        rows = m["rows"]
        if (
            pks.shape != (rows,)
            or (dense is not None and (dense.ntotal != rows or dense.d != m["dim"]))
            or (dense is None and rows)
            or (dense is not None and isinstance(dense, faiss.IndexHNSW) != uses_hnsw(params, rows))
            or (bm25 is not None and bm25.scores["num_docs"] != rows)
        ):
            raise ValueError("row counts or the index kind disagree with the manifest")
        return Snapshot(generation, pks, dense, _vectors_of(dense), bm25, params)
    except Exception as e:  # any damage means: rebuild from SQLite
        log.warning("snapshot %s is unreadable (%s); rebuilding it from the database", d, e)
        return None


def prune(root: Path, keep: int | None) -> None:
    """Remove snapshots other than generation ``keep`` (older ones only), and leftovers."""
    if not root.is_dir():
        return
    now = time.time()
    for p in root.iterdir():
        name = p.name
        old = name.startswith(".trash-") or (name.startswith(".tmp-") and now - p.stat().st_mtime > 3600)
        if name.startswith("g") and name[1:].isdigit():
            old = keep is None or int(name[1:]) < keep
        if old:
            shutil.rmtree(p, ignore_errors=True)
