"""``local``: the default store. SQLite is the record of truth; FAISS + bm25s snapshots search it.

Layout of the index directory: ``store.sqlite3`` (WAL) and ``snapshots/g<generation>/``.
Writes go to SQLite only (one durable transaction each) and bump its ``generation``; the
snapshots are rebuilt lazily, at the first search that finds them behind (or at ``flush()``
and ``close()``), so a 5,000-document ingestion rebuilds once, not 5,000 times. Searches see
every committed write, from this process or another one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from inhouse.access import readable
from inhouse.errors import ConfigError, IngestError
from inhouse.plugins import ConfigPath, DocumentRecord, PluginConfig, SearchMode, Store
from inhouse.store import snapshots
from inhouse.store.catalog import Catalog
from inhouse.store.fusion import Fusion
from inhouse.store.retrieve import State, rank
from inhouse.store.sqlite import Records
from inhouse.store_rules import upsert_vectors
from inhouse.types import Chunk, Hit

log = logging.getLogger("inhouse.store")
REBUILD_HINT = "re-ingest with `inhouse ingest --rebuild` (or configure the embedder it was built with)"


class LocalStore(Store):
    """Documents, chunks and vectors in a local directory; hybrid dense + BM25 search."""

    residency = "local"

    class Config(PluginConfig):
        """Settings of the ``local`` store."""

        path: ConfigPath | None = Field(None, description="index directory (default <home>/index)")
        bm25_k1: float = Field(1.5, gt=0, description="BM25 term-frequency saturation")
        bm25_b: float = Field(0.75, ge=0, le=1, description="BM25 length normalisation")
        stemmer: str | None = Field("english", description="PyStemmer algorithm for BM25, or none")
        stopwords: str | None = Field("en", description="bm25s stopword language for BM25, or none")
        fusion: Fusion = Field("zscore", description="hybrid fusion: rrf, minmax or zscore")
        rrf_k: int = Field(60, ge=1, description="the k of reciprocal rank fusion")
        alpha: float = Field(0.6, ge=0, le=1, description="weight of dense against BM25 in every fusion")
        candidates: int = Field(100, ge=1, description="per-method candidate depth before fusion")
        index: Literal["flat", "hnsw", "auto"] = Field(
            "auto",
            description="dense index: flat (exact scan), hnsw (approximate graph) or auto (flat below `hnsw_above` "
            "chunks, hnsw from there on: an exact scan of 200,000 384-d vectors takes ~20 ms on one core)",
        )
        hnsw_above: int = Field(200_000, ge=1, description="with index = auto, the chunk count from which HNSW is used")
        hnsw_m: int = Field(32, ge=2, le=256, description="HNSW links per node (memory ~ 8*M bytes per chunk)")
        hnsw_ef_construction: int = Field(
            80, ge=1, description="HNSW candidate list while building: higher builds slower, links better"
        )
        hnsw_ef_search: int = Field(
            128,
            ge=1,
            description="HNSW candidate list while searching: recall vs speed (128: recall@10 0.97 at a million chunks); "
            "at least k (hybrid: `candidates`), widened for ACLs and filters",
        )

    def __init__(self, config: PluginConfig | None = None, *, name: str = "", home: Path | None = None):
        super().__init__(config, name=name, home=home)
        cfg = self.config
        assert isinstance(cfg, LocalStore.Config)
        if cfg.path is None and home is None:
            raise ConfigError(f"store {name or 'local'!r} needs a directory: set `path` in its configuration")
        self.directory = directory = cfg.path if cfg.path is not None else Path(home) / "index"  # type: ignore[arg-type]
        self.directory.mkdir(parents=True, exist_ok=True)
        self._snapdir = directory / "snapshots"
        self._tokenizer = snapshots.Tokenizer(cfg.stemmer, cfg.stopwords)
        self._params: dict[str, Any] = {"k1": cfg.bm25_k1, "b": cfg.bm25_b, "stemmer": cfg.stemmer, "stopwords": cfg.stopwords}
        self._params["index"] = cfg.index
        if cfg.index != "flat":  # what the snapshot's graph is built with (a change rebuilds it)
            self._params.update(hnsw_above=cfg.hnsw_above, hnsw_m=cfg.hnsw_m, hnsw_ef_construction=cfg.hnsw_ef_construction)
        self._records = Records(directory / "store.sqlite3")
        self._state: State | None = None
        self._refresh = threading.Lock()
        self._closed = False
        self.stats = {"loads": 0, "rebuilds": 0, "rebuild_seconds": 0.0}

    def check(self) -> str:
        """How much the index holds, and where."""
        return f"{len(self.documents())} documents, {self.count()} chunks in {self.directory}"

    # --- writes: SQLite only -------------------------------------------------------------
    def check_embedder(self, model_id: str, dimension: int) -> None:
        """Record the embedder, or raise ConfigError when the stored vectors came from another one."""
        model, dim = self._records.embedder()
        if (model not in (None, model_id) or dim not in (None, dimension)) and self.count():
            raise ConfigError(
                f"The index at {self.directory} was built with embedder {model or 'unknown'!r} ({dim}-d) "
                f"but the configuration uses {model_id!r} ({dimension}-d): {REBUILD_HINT}."
            )
        if (model, dim) != (model_id, dimension):
            self._records.set_embedder(model_id, dimension)

    def upsert(self, doc: DocumentRecord, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Replace ``doc`` and its chunks in one durable transaction (searchable at the next search)."""
        vecs = upsert_vectors(doc, chunks, vectors)
        if len(vecs):
            _, dim = self._records.embedder()
            if dim is None or (dim != vecs.shape[1] and not self.count()):
                self._records.set_embedder(None, vecs.shape[1])
            elif dim != vecs.shape[1]:
                raise ConfigError(
                    f"The index at {self.directory} holds {dim}-d vectors, these are {vecs.shape[1]}-d: {REBUILD_HINT}."
                )
            norms = np.linalg.norm(vecs, axis=1, keepdims=True)
            vecs = vecs / np.where(norms > 0, norms, 1)
        self._records.upsert(doc, chunks, vecs)

    def set_access(self, doc_id: str, acl: Sequence[str], sensitivity: str) -> None:
        """Give ``doc_id`` and its chunks this ACL and label (no re-embedding; visible to the next search)."""
        if isinstance(acl, str):
            raise IngestError(f"the ACL of {doc_id!r} must be a list of principals, not the string {acl!r}")
        if not self._records.set_access(doc_id, tuple(acl), sensitivity):
            raise IngestError(f"no stored document {doc_id!r} to set the access of")

    def delete(self, doc_ids: Sequence[str]) -> None:
        """Remove documents and their chunks in one durable transaction."""
        self._records.delete(doc_ids)

    def reset(self) -> None:
        """Drop every document, chunk, vector, snapshot and the recorded embedder."""
        with self._refresh:
            self._records.reset()
            self._state = None
            snapshots.prune(self._snapdir, keep=None)

    # --- reads ---------------------------------------------------------------------------
    def documents(self, root: str | None = None) -> dict[str, DocumentRecord]:
        """Every stored document (of one connector root, if given), by id."""
        return self._records.documents(root)

    def document(self, doc_id: str) -> DocumentRecord | None:
        """One stored document by id (a single indexed lookup)."""
        return self._records.documents(doc_id=doc_id).get(doc_id)

    def export(self) -> Iterator[tuple[DocumentRecord, list[Chunk], np.ndarray]]:
        """Every document with its chunks and vectors, read from SQLite (the record of truth)."""
        return self._records.export()

    def embedder_of(self) -> tuple[str | None, int | None]:
        """The embedder the stored vectors came from (remembered by ``check_embedder``)."""
        return self._records.embedder()

    def count(self) -> int:
        """Number of stored chunks."""
        return self._records.count()

    def get_chunks(self, ids: Sequence[str]) -> list[Chunk]:
        """The chunks with these ids, in that order (unknown ids are left out)."""
        found = self._records.chunks_by_id(ids)
        return [found[i] for i in ids if i in found]

    def neighbours(self, chunk: Chunk, before: int = 1, after: int = 1) -> list[Chunk]:
        """The chunks of ``chunk``'s document around it, in reading order (one indexed query)."""
        return self._records.chunks_around(chunk.doc_id, chunk.ordinal - before, chunk.ordinal + after) or [chunk]

    def search(
        self,
        vector: np.ndarray | None,
        query: str,
        k: int = 5,
        acl: Sequence[str] | None = None,
        filters: dict[str, Any] | None = None,
        mode: SearchMode = "hybrid",
    ) -> list[Hit]:
        """The ``k`` best visible chunks, best first (see ``Store.search``).

        ``Hit.score`` is the fused score (the cosine in "dense" mode, raw BM25 in "bm25" mode),
        ``Hit.dense`` the cosine whenever a vector is given, ``Hit.bm25`` the raw BM25 score
        (0.0 when no query term occurs in the chunk; None in "dense" mode).
        """
        if mode not in ("hybrid", "dense", "bm25"):
            raise ConfigError(f"unknown search mode {mode!r}; use hybrid, dense or bm25")
        if mode == "dense" and vector is None:
            raise ConfigError("a dense search needs a query vector")
        if isinstance(acl, str):
            acl = [acl]
        if k <= 0:
            return []
        tokens = self._tokenizer.query(query) if mode != "dense" and query else []
        for _ in range(3):  # a concurrent write may remove rows between ranking and reading them
            state = self._current()
            if state.catalog.size == 0:
                return []
            q = self._query_vector(vector, state)
            mask = state.catalog.mask(acl, filters)
            if mask is not None and not mask.any():
                return []
            cfg: LocalStore.Config = self.config  # type: ignore[assignment]
            r = rank(
                state,
                q,
                tokens,
                k,
                mask,
                mode,
                fusion=cfg.fusion,
                candidates=cfg.candidates,
                alpha=cfg.alpha,
                rrf_k=cfg.rrf_k,
                ef_search=cfg.hnsw_ef_search,
            )
            pks = state.snapshot.pks[r.positions].tolist()
            rows = self._records.chunks_by_pk(pks)
            if len(rows) == len(pks):
                break
        hits = []
        for i, pk in enumerate(pks):
            chunk = rows.get(pk)
            if chunk is None or not readable(chunk.acl, acl):
                continue
            hits.append(
                Hit(
                    chunk,
                    float(r.scores[i]),
                    None if r.dense is None else float(r.dense[i]),
                    None if r.bm25 is None else float(r.bm25[i]),
                )
            )
        return hits

    def _query_vector(self, vector: np.ndarray | None, state: State) -> np.ndarray | None:
        if vector is None:
            return None
        q = np.asarray(vector, dtype=np.float32).reshape(-1)
        dim = state.snapshot.vectors.shape[1]
        if state.snapshot.dense is not None and q.shape[0] != dim:
            raise ConfigError(
                f"The query vector is {q.shape[0]}-d but the index at {self.directory} holds {dim}-d vectors: {REBUILD_HINT}."
            )
        norm = float(np.linalg.norm(q))
        return q / norm if norm > 0 else q

    # --- snapshots -----------------------------------------------------------------------
    def _current(self) -> State:
        """The state of SQLite's current generation, loading or rebuilding it when behind."""
        if self._closed:
            raise ConfigError("this store is closed; open it again")
        state = self._state
        if state is not None and state.generation == self._records.generation():
            return state
        with self._refresh:
            state = self._state
            if state is None or state.generation != self._records.generation():
                state = self._state = self._load_or_build()
            return state

    def _load_or_build(self) -> State:
        gen, rows, _, _ = self._records.catalog(with_content=False)
        catalog = Catalog(gen, rows)
        snap = snapshots.load(self._snapdir, gen, self._params)
        if snap is not None and np.array_equal(snap.pks, catalog.pks):
            self.stats["loads"] += 1
            return State(snap, catalog, saved=True)
        old = self._state
        if old is not None and np.array_equal(old.snapshot.pks, catalog.pks):
            # The same rows (keys are never reused): only ACLs or labels changed, so the
            # texts and vectors are too; the snapshot carries over to this generation.
            state = State(replace(old.snapshot, generation=gen), catalog)
            self._save(state)
            return state
        t0 = time.perf_counter()
        gen, rows, texts, blob = self._records.catalog(with_content=True)
        catalog = Catalog(gen, rows)
        vectors = np.frombuffer(blob, dtype="<f4").reshape(len(rows), -1) if rows else np.zeros((0, 0), "f4")
        snap = snapshots.build(gen, catalog.pks, texts, vectors, self._params, self._tokenizer)
        state = State(snap, catalog)
        self._save(state)
        self.stats["rebuilds"] += 1
        self.stats["rebuild_seconds"] += time.perf_counter() - t0
        log.info("rebuilt search snapshot g%d (%d chunks) in %.2fs", gen, len(rows), time.perf_counter() - t0)
        return state

    def _save(self, state: State) -> None:
        try:
            snapshots.save(state.snapshot, self._snapdir)
            snapshots.prune(self._snapdir, keep=state.generation)
            state.saved = True
        except Exception as e:  # a read-only directory still searches, from memory
            log.warning("could not save the search snapshot in %s (%s)", self._snapdir, e)

    def flush(self) -> None:
        """Bring the snapshots up to date with SQLite and save them (a no-op when they are)."""
        with self._refresh:
            gen, state = self._records.generation(), self._state
            if state is not None and state.generation == gen:
                if not state.saved:
                    self._save(state)
                return
            if state is None and snapshots.present(self._snapdir, gen, self._params):
                return
        self._current()

    def close(self) -> None:
        """Save up-to-date snapshots (so the next open is fast) and close the database."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self._records.close()
            self._state = None
