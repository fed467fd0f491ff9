"""The record of truth: documents, chunks and vectors in one SQLite file.

Every write is one transaction (WAL, ``synchronous=FULL``) that also bumps the ``generation``
counter in ``meta``; derived snapshots (FAISS, BM25) are tagged with the generation they
were built from. Vectors are raw little-endian float32 BLOBs and lists/dicts are JSON: no
pickle anywhere. Chunk primary keys use AUTOINCREMENT, so a key is never reused and a stale
snapshot can never point at a different chunk. A covering index holds the catalog columns,
so loading them at open does not read texts and vectors (about 2x faster at 20,000 chunks).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from inhouse.errors import ConfigError, IngestError
from inhouse.plugins import DocumentRecord
from inhouse.types import Chunk

SCHEMA_VERSION = 3  # 2: documents.connector; 3: sensitivity, and an empty ACL means nobody
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS documents (
  id TEXT PRIMARY KEY, source TEXT NOT NULL, root TEXT NOT NULL, title TEXT NOT NULL,
  hash TEXT NOT NULL, modified REAL NOT NULL, acl TEXT NOT NULL DEFAULT '[]',
  connector TEXT NOT NULL DEFAULT '', sensitivity TEXT NOT NULL DEFAULT 'internal');
CREATE INDEX IF NOT EXISTS documents_root ON documents(root);
CREATE TABLE IF NOT EXISTS chunks (
  pk INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
  doc_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  ordinal INTEGER NOT NULL, source TEXT NOT NULL, title TEXT NOT NULL, heading TEXT NOT NULL,
  page INTEGER, acl TEXT NOT NULL, text TEXT NOT NULL, meta TEXT NOT NULL, vector BLOB NOT NULL,
  sensitivity TEXT NOT NULL DEFAULT 'internal');
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE INDEX IF NOT EXISTS chunks_catalog
  ON chunks(pk, id, doc_id, ordinal, source, title, heading, page, acl);
"""
# Columns of the in-memory catalog, in SELECT order (after pk).
CATALOG_COLUMNS = ("id", "doc_id", "ordinal", "source", "title", "heading", "page", "acl")
_CHUNK_COLUMNS = "pk, id, doc_id, ordinal, source, title, heading, page, acl, text, meta, sensitivity"
_DOCUMENT_COLUMNS = "id, source, root, title, hash, modified, acl, connector, sensitivity"
# Schema 3 upgrade: the label columns (tables created by this version already have them),
# and ACLs stored empty when empty meant everyone now say so.
_UPGRADE_3 = (
    "UPDATE documents SET acl = '[\"*\"]' WHERE acl = '[]'",
    "UPDATE chunks SET acl = '[\"*\"]' WHERE acl = '[]'",
    "UPDATE meta SET value = 3 WHERE key = 'schema'",
)


def _document(row: Sequence[Any]) -> DocumentRecord:
    """A ``DocumentRecord`` from a row selected as ``_DOCUMENT_COLUMNS``."""
    return DocumentRecord(*row[:6], tuple(json.loads(row[6])), row[7], row[8])


def row_to_chunk(row: Sequence[Any]) -> Chunk:
    """Build a ``Chunk`` from a row selected as ``_CHUNK_COLUMNS``."""
    _, cid, doc_id, ordinal, source, title, heading, page, acl, text, meta, sensitivity = row
    return Chunk(
        id=cid,
        doc_id=doc_id,
        source=source,
        title=title,
        text=text,
        heading=heading,
        page=page,
        acl=tuple(json.loads(acl)),
        ordinal=ordinal,
        meta=json.loads(meta),
        sensitivity=sensitivity,
    )


class Records:
    """SQLite access for one index directory: a writer and a reader connection, each locked.

    Safe to share between threads; several processes may open the same file (SQLite locks).
    """

    def __init__(self, path: Path, timeout: float = 30.0):
        self.path = path
        self._writer = self._connect(timeout)
        self._reader = self._connect(timeout)
        self._wlock = threading.RLock()
        self._rlock = threading.Lock()
        with self.write() as db:
            for stmt in filter(str.strip, _SCHEMA.split(";")):
                db.execute(stmt)
            db.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            db.execute("INSERT OR IGNORE INTO meta VALUES ('generation', 0)")
            schema = int(db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0])
            if schema == 1:  # an index written before documents remembered their connector
                db.execute("ALTER TABLE documents ADD COLUMN connector TEXT NOT NULL DEFAULT ''")
                db.execute("UPDATE meta SET value = 2 WHERE key = 'schema'")
                schema = 2
            if schema == 2:  # written when an empty ACL meant public: it becomes ["*"]
                for table in ("documents", "chunks"):
                    if "sensitivity" not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}:
                        db.execute(f"ALTER TABLE {table} ADD COLUMN sensitivity TEXT NOT NULL DEFAULT 'internal'")
                for stmt in _UPGRADE_3:
                    db.execute(stmt)
                schema = 3
        if schema > SCHEMA_VERSION:
            raise ConfigError(
                f"The index at {path} was written by a newer inhouse (schema {schema}); "
                "upgrade inhouse or re-ingest with `inhouse ingest --rebuild`."
            )

    def _connect(self, timeout: float) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        return db

    def close(self) -> None:
        """Close both connections (idempotent)."""
        with self._wlock, self._rlock:
            self._writer.close()
            self._reader.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction on the writer connection; commits on success."""
        with self._wlock:
            db = self._writer
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """One read transaction (a consistent WAL snapshot) on the reader connection."""
        with self._rlock:
            db = self._reader
            db.execute("BEGIN")
            try:
                yield db
            finally:
                db.execute("COMMIT")

    @staticmethod
    def _bump(db: sqlite3.Connection) -> None:
        db.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")

    @staticmethod
    def _meta(db: sqlite3.Connection, key: str) -> Any:
        row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def generation(self) -> int:
        """The write counter: changes whenever documents or chunks change."""
        with self._rlock:
            return int(self._meta(self._reader, "generation"))

    def embedder(self) -> tuple[str | None, int | None]:
        """The (model id, dimension) the stored vectors were made with, or Nones."""
        with self.read() as db:
            model, dim = self._meta(db, "embedder_model"), self._meta(db, "embedder_dim")
        return model, (int(dim) if dim is not None else None)

    def set_embedder(self, model: str | None, dim: int) -> None:
        """Record the embedder (model None: unknown, only the dimension is known)."""
        with self.write() as db:
            if model is None:
                db.execute("DELETE FROM meta WHERE key = 'embedder_model'")
            else:
                db.execute("INSERT OR REPLACE INTO meta VALUES ('embedder_model', ?)", (model,))
            db.execute("INSERT OR REPLACE INTO meta VALUES ('embedder_dim', ?)", (int(dim),))

    def upsert(self, doc: DocumentRecord, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Replace ``doc`` and all its chunks in one durable transaction."""
        blobs = [np.ascontiguousarray(v, dtype="<f4").tobytes() for v in vectors]
        rows = [
            (
                c.id,
                doc.id,
                c.ordinal,
                c.source,
                c.title,
                c.heading,
                c.page,
                json.dumps(list(c.acl)),
                c.text,
                json.dumps(c.meta, ensure_ascii=False),
                b,
                c.sensitivity,
            )
            for c, b in zip(chunks, blobs, strict=True)
        ]
        with self.write() as db:
            db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc.id,))
            db.execute(
                f"INSERT INTO documents ({_DOCUMENT_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                "source=excluded.source, root=excluded.root, title=excluded.title, hash=excluded.hash, "
                "modified=excluded.modified, acl=excluded.acl, connector=excluded.connector, sensitivity=excluded.sensitivity",
                (
                    doc.id,
                    doc.source,
                    doc.root,
                    doc.title,
                    doc.hash,
                    doc.modified,
                    json.dumps(list(doc.acl)),
                    doc.connector,
                    doc.sensitivity,
                ),
            )
            try:
                db.executemany(
                    "INSERT INTO chunks (id, doc_id, ordinal, source, title, heading, page, acl, "
                    "text, meta, vector, sensitivity) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    rows,
                )
            except sqlite3.IntegrityError as e:
                raise IngestError(
                    f"chunk ids of {doc.source!r} collide with another document's ({e}); "
                    "chunk ids must be unique across the index"
                ) from e
            self._bump(db)

    def set_access(self, doc_id: str, acl: Sequence[str], sensitivity: str) -> bool:
        """Give a document and its chunks this ACL and label in one transaction (texts and
        vectors untouched); False when no such document is stored."""
        value = json.dumps(list(acl))
        with self.write() as db:
            found = db.execute(
                "UPDATE documents SET acl = ?, sensitivity = ? WHERE id = ?", (value, sensitivity, doc_id)
            ).rowcount
            db.execute("UPDATE chunks SET acl = ?, sensitivity = ? WHERE doc_id = ?", (value, sensitivity, doc_id))
            if found:
                self._bump(db)
        return bool(found)

    def delete(self, doc_ids: Sequence[str]) -> int:
        """Remove documents and their chunks in one transaction; returns documents removed."""
        ids = list(doc_ids)
        removed = 0
        with self.write() as db:
            for i in range(0, len(ids), 500):
                part = ids[i : i + 500]
                marks = ",".join("?" * len(part))
                db.execute(f"DELETE FROM chunks WHERE doc_id IN ({marks})", part)
                removed += db.execute(f"DELETE FROM documents WHERE id IN ({marks})", part).rowcount
            if removed:
                self._bump(db)
        return removed

    def reset(self) -> None:
        """Drop every document, chunk and the recorded embedder (the generation keeps counting)."""
        with self.write() as db:
            db.execute("DELETE FROM chunks")
            db.execute("DELETE FROM documents")
            db.execute("DELETE FROM meta WHERE key IN ('embedder_model', 'embedder_dim')")
            self._bump(db)
        with self._wlock:
            self._writer.execute("VACUUM")

    def documents(self, root: str | None = None, doc_id: str | None = None) -> dict[str, DocumentRecord]:
        """Stored documents (of one root, or the one with ``doc_id``, if given), by id."""
        sql, args = f"SELECT {_DOCUMENT_COLUMNS} FROM documents", ()
        if root is not None:
            sql, args = sql + " WHERE root = ?", (root,)
        elif doc_id is not None:
            sql, args = sql + " WHERE id = ?", (doc_id,)
        with self.read() as db:
            rows = db.execute(sql, args).fetchall()
        return {r[0]: _document(r) for r in rows}

    def count(self) -> int:
        """Number of stored chunks."""
        with self.read() as db:
            return db.execute("SELECT count(*) FROM chunks").fetchone()[0]

    def catalog(self, with_content: bool) -> tuple[int, list[tuple], list[str], bytes]:
        """A consistent read of (generation, catalog rows, embed texts, concatenated vectors).

        Rows are ``(pk, *CATALOG_COLUMNS)`` ordered by pk; texts and vectors are only read
        (and non-empty) when ``with_content`` is true, i.e. for a snapshot rebuild.
        """
        cols = "pk, " + ", ".join(CATALOG_COLUMNS)
        with self.read() as db:
            gen = int(self._meta(db, "generation"))
            if not with_content:
                return gen, db.execute(f"SELECT {cols} FROM chunks ORDER BY pk").fetchall(), [], b""
            rows, texts, blobs = [], [], []
            for *meta, text, blob in db.execute(f"SELECT {cols}, text, vector FROM chunks ORDER BY pk"):
                rows.append(tuple(meta))
                title, heading = meta[5], meta[6]
                texts.append(Chunk("", "", "", title, text, heading).embed_text())
                blobs.append(blob)
        return gen, rows, texts, b"".join(blobs)

    def export(self) -> Iterator[tuple[DocumentRecord, list[Chunk], np.ndarray]]:
        """Every document with its chunks (in reading order) and their vectors, one document
        per read transaction (a document is never seen half-written)."""
        for doc_id in sorted(self.documents()):
            with self.read() as db:
                doc = db.execute(f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE id = ?", (doc_id,)).fetchone()
                rows = db.execute(
                    f"SELECT {_CHUNK_COLUMNS}, vector FROM chunks WHERE doc_id = ? ORDER BY ordinal, pk", (doc_id,)
                ).fetchall()
            if doc is None:
                continue  # deleted since the listing
            record = _document(doc)
            chunks = [row_to_chunk(r[:-1]) for r in rows]
            vectors = np.stack([np.frombuffer(r[-1], dtype="<f4") for r in rows]) if rows else np.zeros((0, 0), "<f4")
            yield record, chunks, vectors.astype(np.float32)

    def chunks_by_pk(self, pks: Sequence[int]) -> dict[int, Chunk]:
        """Chunks for these primary keys (missing ones are left out)."""
        return {r[0]: row_to_chunk(r) for r in self._select("pk", pks)}

    def chunks_by_id(self, ids: Sequence[str]) -> dict[str, Chunk]:
        """Chunks for these chunk ids (missing ones are left out)."""
        return {r[1]: row_to_chunk(r) for r in self._select("id", ids)}

    def chunks_around(self, doc_id: str, first: int, last: int) -> list[Chunk]:
        """The chunks of ``doc_id`` whose ordinal is between ``first`` and ``last``, in order."""
        sql = f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE doc_id = ? AND ordinal BETWEEN ? AND ? ORDER BY ordinal"
        with self.read() as db:
            return [row_to_chunk(r) for r in db.execute(sql, (doc_id, first, last))]

    def _select(self, column: str, keys: Sequence[Any]) -> list[tuple]:
        out: list[tuple] = []
        keys = list(keys)
        with self.read() as db:
            for i in range(0, len(keys), 500):
                part = keys[i : i + 500]
                marks = ",".join("?" * len(part))
                out += db.execute(f"SELECT {_CHUNK_COLUMNS} FROM chunks WHERE {column} IN ({marks})", part)
        return out
