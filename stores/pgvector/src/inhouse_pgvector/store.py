"""``pgvector``: the index in PostgreSQL with pgvector, shared by any number of processes.

Documents, chunks, vectors, ACLs and labels are rows; every write is one transaction and every
search one snapshot (see ``search``), so processes that ingest and processes that answer can
share a database: a search sees a document's chunks all from one version, and writers of
different documents never undo each other. The HNSW index is built by ``flush()`` (the end of
an ingestion) when missing; until then searches scan exactly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from inhouse.errors import ConfigError, IngestError
from inhouse.plugins import DocumentRecord, PluginConfig, SearchMode, Store
from inhouse.store_rules import upsert_vectors
from inhouse.types import Chunk, Hit
from inhouse_pgvector import records, schema
from inhouse_pgvector.connect import conninfo, first_connection, judge, open_pool, where
from inhouse_pgvector.search import Query, begin, conditions, lexemes, search, tsquery
from inhouse_pgvector.settings import Settings

REBUILD_HINT = "re-ingest with `inhouse ingest --rebuild` (or configure the embedder it was built with)"


def _configure(conn: psycopg.Connection) -> None:
    """Set up a new pooled connection: autocommit (transactions are explicit) and the vector type."""
    conn.autocommit = True
    register_vector(conn)


class PgvectorStore(Store):
    """Documents, chunks and vectors in PostgreSQL; hybrid search (HNSW + full-text) in SQL."""

    class Config(Settings):
        """Settings of the ``pgvector`` store (described in ``inhouse_pgvector.settings``)."""

    def __init__(self, config: PluginConfig | None = None, *, name: str = "", home: Path | None = None):
        super().__init__(config, name=name, home=home)
        cfg: PgvectorStore.Config = self.config  # type: ignore[assignment]
        self._info = conninfo(cfg)
        self.residency, self.residency_note = judge(self._info, cfg.residency)  # type: ignore[assignment]
        self.tables = schema.Tables(cfg.db_schema, cfg.table_prefix)
        with first_connection(cfg, self._info) as conn:
            conn.autocommit = True
            self.schema_version = schema.migrate(conn, self.tables, cfg.text_search)
            self.pgvector_version = schema.check_server(conn, self.tables, cfg.text_search, cfg.iterative_scan != "off")
        self._pool = open_pool(cfg, self._info, _configure)
        self._closed = False
        self.stats = {"searches": 0, "exact_fallbacks": 0, "index_builds": 0}

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        if self._closed:
            raise ConfigError("this store is closed; open it again")
        with self._pool.connection() as conn:
            yield conn

    def check(self) -> str:
        """What the index holds, where, and whether its HNSW index is built."""
        t = self.tables
        with self._connection() as conn:
            built = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (t.hnsw,)).fetchone()[0]
            docs = conn.execute(t.sql("SELECT count(*) FROM {documents}")).fetchone()[0]
            chunks = records.count(conn, t)
        index = "HNSW index built" if built else "no HNSW index yet (flush builds it)"
        place = f"{where(self._info)} ({t.schema}.{t.prefix}*)"
        return f"{docs} documents, {chunks} chunks in {place}; pgvector {self.pgvector_version}, {index}"

    # --- writes ----------------------------------------------------------------------------
    def check_embedder(self, model_id: str, dimension: int) -> None:
        """Record the embedder, or raise ConfigError when the stored vectors came from another one."""
        with self._connection() as conn, conn.transaction():
            self.tables.lock(conn)
            model, dim = schema.embedder(conn, self.tables)
            if (model not in (None, model_id) or dim not in (None, dimension)) and records.count(conn, self.tables):
                raise ConfigError(
                    f"The index in {where(self._info)} was built with embedder {model or 'unknown'!r} ({dim}-d) "
                    f"but the configuration uses {model_id!r} ({dimension}-d): {REBUILD_HINT}."
                )
            if (model, dim) != (model_id, dimension):
                schema.set_embedder(conn, self.tables, model_id, dimension)

    def upsert(self, doc: DocumentRecord, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Replace ``doc`` and its chunks in one transaction (visible to the next search)."""
        vecs = upsert_vectors(doc, chunks, vectors)
        with self._connection() as conn:
            if len(vecs):
                self._ensure_dimension(conn, vecs.shape[1])
                norms = np.linalg.norm(vecs, axis=1, keepdims=True)
                vecs = vecs / np.where(norms > 0, norms, 1)
            records.upsert(conn, self.tables, doc, chunks, vecs)

    def _ensure_dimension(self, conn: psycopg.Connection, dimension: int) -> None:
        """Accept vectors of ``dimension``: record it when none is (or the index is empty), else
        raise ConfigError when it differs."""
        if schema.embedder(conn, self.tables)[1] == dimension:
            return
        with conn.transaction():
            self.tables.lock(conn)
            held = schema.embedder(conn, self.tables)[1]
            if held is not None and held != dimension and records.count(conn, self.tables):
                raise ConfigError(
                    f"The index in {where(self._info)} holds {held}-d vectors, these are {dimension}-d: {REBUILD_HINT}."
                )
            if held != dimension:
                schema.set_embedder(conn, self.tables, None, dimension)

    def set_access(self, doc_id: str, acl: Sequence[str], sensitivity: str) -> None:
        """Give ``doc_id`` and its chunks this ACL and label (no re-embedding; visible to the next search)."""
        if isinstance(acl, str):
            raise IngestError(f"the ACL of {doc_id!r} must be a list of principals, not the string {acl!r}")
        with self._connection() as conn:
            if not records.set_access(conn, self.tables, doc_id, tuple(acl), sensitivity):
                raise IngestError(f"no stored document {doc_id!r} to set the access of")

    def delete(self, doc_ids: Sequence[str]) -> None:
        """Remove documents and their chunks in one transaction."""
        with self._connection() as conn:
            records.delete(conn, self.tables, doc_ids)

    def reset(self) -> None:
        """Drop every document, chunk and vector, the recorded embedder and the HNSW index."""
        with self._connection() as conn, conn.transaction():
            self.tables.lock(conn)
            conn.execute(self.tables.sql("TRUNCATE {chunks}, {documents}"))
            schema.forget_embedder(conn, self.tables)

    def flush(self) -> None:
        """Build the HNSW index when missing (or when ``hnsw_m``/``hnsw_ef_construction`` changed)
        and refresh the planner's statistics. Every write is already visible."""
        cfg: PgvectorStore.Config = self.config  # type: ignore[assignment]
        with self._connection() as conn:
            with conn.transaction():
                self.tables.lock(conn)
                if cfg.maintenance_work_mem is not None:
                    conn.execute("SELECT set_config('maintenance_work_mem', %s, true)", (cfg.maintenance_work_mem,))
                if schema.ensure_index(conn, self.tables, cfg.hnsw_m, cfg.hnsw_ef_construction):
                    self.stats["index_builds"] += 1
            conn.execute(self.tables.sql("ANALYZE {chunks}"))

    # --- reads -----------------------------------------------------------------------------
    def documents(self, root: str | None = None) -> dict[str, DocumentRecord]:
        """Every stored document (of one connector root, if given), by id."""
        with self._connection() as conn:
            return records.documents(conn, self.tables, root)

    def document(self, doc_id: str) -> DocumentRecord | None:
        """One stored document by id (one indexed lookup)."""
        with self._connection() as conn:
            return records.documents(conn, self.tables, doc_id=doc_id).get(doc_id)

    def count(self) -> int:
        """Number of stored chunks."""
        with self._connection() as conn:
            return records.count(conn, self.tables)

    def neighbours(self, chunk: Chunk, before: int = 1, after: int = 1) -> list[Chunk]:
        """The chunks of ``chunk``'s document around it, in reading order (one indexed query)."""
        with self._connection() as conn:
            return records.around(conn, self.tables, chunk.doc_id, chunk.ordinal - before, chunk.ordinal + after) or [chunk]

    def export(self) -> Iterator[tuple[DocumentRecord, list[Chunk], np.ndarray]]:
        """Every document with its chunks and vectors, each document read from one snapshot."""
        with self._connection() as conn:
            doc_ids = records.ids(conn, self.tables)
        for doc_id in doc_ids:
            with self._connection() as conn:
                item = records.export_one(conn, self.tables, doc_id)
            if item is not None:
                yield item

    def embedder_of(self) -> tuple[str | None, int | None]:
        """The embedder the stored vectors came from (remembered by ``check_embedder``)."""
        with self._connection() as conn:
            return schema.embedder(conn, self.tables)

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

        ``Hit.score`` is the fused RRF score (the cosine in "dense" mode, ``ts_rank_cd`` in
        "bm25" mode), ``Hit.dense`` the cosine whenever a vector is given, ``Hit.bm25`` the
        ``ts_rank_cd`` (0.0 when no query word occurs in the chunk; None in "dense" mode).
        """
        if mode not in ("hybrid", "dense", "bm25"):
            raise ConfigError(f"unknown search mode {mode!r}; use hybrid, dense or bm25")
        if mode == "dense" and vector is None:
            raise ConfigError("a dense search needs a query vector")
        if isinstance(acl, str):
            acl = [acl]
        if k <= 0:
            return []
        cfg: PgvectorStore.Config = self.config  # type: ignore[assignment]
        where_sql, params = conditions(acl, filters)
        q = None if vector is None else np.asarray(vector, dtype=np.float32).reshape(-1)
        if q is not None and (norm := float(np.linalg.norm(q))) > 0:
            q = q / norm
        with self._connection() as conn, conn.transaction():
            begin(conn, cfg)
            words = lexemes(conn, cfg.text_search, query) if mode != "dense" and query else []
            try:
                hits, exact = search(conn, self.tables, cfg, Query(q, tsquery(words), where_sql, params), k, mode)
            except psycopg.errors.DataException as e:
                raise ConfigError(
                    f"The query vector ({len(q) if q is not None else 0}-d) does not fit the index ({e}): {REBUILD_HINT}."
                ) from None
        self.stats["searches"] += 1
        self.stats["exact_fallbacks"] += exact
        return hits

    def close(self) -> None:
        """Close the connection pool (idempotent)."""
        if not self._closed:
            self._closed = True
            self._pool.close()
