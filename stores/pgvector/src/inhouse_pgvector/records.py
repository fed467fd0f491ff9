"""Rows in and out: documents and chunks written in one transaction each, read back as
``DocumentRecord`` and ``Chunk``.

An upsert locks the document's row first (``INSERT ... ON CONFLICT DO UPDATE``), so two
processes writing the same document take turns and the later one replaces the earlier one's
chunks whole; then it deletes the old chunks and streams the new ones in with binary ``COPY``
(vectors included), the fast path for bulk loads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from inhouse.errors import IngestError
from inhouse.plugins import DocumentRecord
from inhouse.types import Chunk
from inhouse_pgvector.schema import Tables

_CHUNK_NAMES = ("pk", "id", "doc_id", "ordinal", "source", "title", "heading", "page", "acl", "text", "meta", "sensitivity")
CHUNK_COLUMNS = sql.SQL(", ").join(map(sql.Identifier, _CHUNK_NAMES))
_DOCUMENT_NAMES = ("id", "source", "root", "title", "hash", "modified", "acl", "connector", "sensitivity")
DOCUMENT_COLUMNS = sql.SQL(", ").join(map(sql.Identifier, _DOCUMENT_NAMES))
_COPY_NAMES = (*_CHUNK_NAMES[1:], "embedding")
_COPY_TYPES = ("text", "text", "int4", "text", "text", "text", "int4", "text[]", "text", "jsonb", "text", "vector")


def chunk_of(row: Sequence[Any]) -> Chunk:
    """A ``Chunk`` from a row selected as ``CHUNK_COLUMNS``."""
    _, cid, doc_id, ordinal, source, title, heading, page, acl, text, meta, sensitivity = row
    return Chunk(cid, doc_id, source, title, text, heading, page, tuple(acl), ordinal, meta, sensitivity)


def document_of(row: Sequence[Any]) -> DocumentRecord:
    """A ``DocumentRecord`` from a row selected as ``DOCUMENT_COLUMNS``."""
    doc_id, source, root, title, digest, modified, acl, connector, sensitivity = row
    return DocumentRecord(doc_id, source, root, title, digest, modified, tuple(acl), connector, sensitivity)


def upsert(conn: psycopg.Connection, tables: Tables, doc: DocumentRecord, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
    """Replace ``doc`` and all its chunks in one transaction."""
    values = (doc.id, doc.source, doc.root, doc.title, doc.hash, doc.modified, list(doc.acl), doc.connector, doc.sensitivity)
    try:
        with conn.transaction():
            conn.execute(
                tables.sql(
                    "INSERT INTO {documents} ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE"
                    " SET source = excluded.source, root = excluded.root, title = excluded.title, hash = excluded.hash,"
                    " modified = excluded.modified, acl = excluded.acl, connector = excluded.connector,"
                    " sensitivity = excluded.sensitivity",
                    columns=DOCUMENT_COLUMNS,
                ),
                values,
            )
            conn.execute(tables.sql("DELETE FROM {chunks} WHERE doc_id = %s"), (doc.id,))
            if not chunks:
                return
            columns = sql.SQL(", ").join(map(sql.Identifier, _COPY_NAMES))
            with (
                conn.cursor() as cur,
                cur.copy(tables.sql("COPY {chunks} ({columns}) FROM STDIN (FORMAT BINARY)", columns=columns)) as copy,
            ):
                copy.set_types(list(_COPY_TYPES))
                for c, vector in zip(chunks, vectors, strict=True):
                    meta = Jsonb(c.meta)
                    copy.write_row(
                        (
                            c.id,
                            doc.id,
                            c.ordinal,
                            c.source,
                            c.title,
                            c.heading,
                            c.page,
                            list(c.acl),
                            c.text,
                            meta,
                            c.sensitivity,
                            vector,
                        )
                    )
    except psycopg.errors.UniqueViolation as e:
        raise IngestError(
            f"chunk ids of {doc.source!r} collide with another document's ({e.diag.message_detail or e}); "
            "chunk ids must be unique across the index"
        ) from None


def set_access(conn: psycopg.Connection, tables: Tables, doc_id: str, acl: Sequence[str], sensitivity: str) -> bool:
    """Give a document and its chunks this ACL and label in one transaction; False when no such document."""
    with conn.transaction():
        found = conn.execute(
            tables.sql("UPDATE {documents} SET acl = %s, sensitivity = %s WHERE id = %s"), (list(acl), sensitivity, doc_id)
        ).rowcount
        conn.execute(
            tables.sql("UPDATE {chunks} SET acl = %s, sensitivity = %s WHERE doc_id = %s"), (list(acl), sensitivity, doc_id)
        )
    return bool(found)


def delete(conn: psycopg.Connection, tables: Tables, doc_ids: Sequence[str]) -> int:
    """Remove documents (their chunks go with them) in one transaction; returns how many."""
    with conn.transaction():
        return conn.execute(tables.sql("DELETE FROM {documents} WHERE id = ANY(%s)"), (list(doc_ids),)).rowcount


def documents(
    conn: psycopg.Connection, tables: Tables, root: str | None = None, doc_id: str | None = None
) -> dict[str, DocumentRecord]:
    """Stored documents (of one root, or the one with ``doc_id``, if given), by id."""
    query, args = tables.sql("SELECT {columns} FROM {documents}", columns=DOCUMENT_COLUMNS), ()
    if root is not None:
        query, args = query + sql.SQL(" WHERE root = %s"), (root,)
    elif doc_id is not None:
        query, args = query + sql.SQL(" WHERE id = %s"), (doc_id,)
    return {row[0]: document_of(row) for row in conn.execute(query, args)}


def count(conn: psycopg.Connection, tables: Tables) -> int:
    """Number of stored chunks."""
    return conn.execute(tables.sql("SELECT count(*) FROM {chunks}")).fetchone()[0]


def around(conn: psycopg.Connection, tables: Tables, doc_id: str, first: int, last: int) -> list[Chunk]:
    """The chunks of ``doc_id`` with ordinals from ``first`` to ``last``, in reading order."""
    query = tables.sql(
        "SELECT {columns} FROM {chunks} WHERE doc_id = %s AND ordinal BETWEEN %s AND %s ORDER BY ordinal, pk",
        columns=CHUNK_COLUMNS,
    )
    return [chunk_of(row) for row in conn.execute(query, (doc_id, first, last))]


def export_one(conn: psycopg.Connection, tables: Tables, doc_id: str) -> tuple[DocumentRecord, list[Chunk], np.ndarray] | None:
    """One document with its chunks (reading order) and vectors, from one snapshot; None when gone."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        found = documents(conn, tables, doc_id=doc_id).get(doc_id)
        if found is None:
            return None
        query = tables.sql(
            "SELECT {columns}, embedding FROM {chunks} WHERE doc_id = %s ORDER BY ordinal, pk", columns=CHUNK_COLUMNS
        )
        rows = conn.execute(query, (doc_id,)).fetchall()
    chunks = [chunk_of(row[:-1]) for row in rows]
    vectors = np.stack([row[-1].to_numpy() for row in rows]) if rows else np.zeros((0, 0), np.float32)
    return found, chunks, vectors.astype(np.float32)


def ids(conn: psycopg.Connection, tables: Tables) -> list[str]:
    """Every document id, sorted."""
    return [row[0] for row in conn.execute(tables.sql("SELECT id FROM {documents} ORDER BY id"))]
