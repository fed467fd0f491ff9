"""Search in SQL: dense (HNSW), full-text (tsvector) and their reciprocal rank fusion, with the ACL
and the filters inside every query.

One search is one ``REPEATABLE READ`` read-only transaction, so every list and the rows read
back come from one snapshot: a document being replaced is seen whole, before or after.

Dense candidates come from the HNSW index with pgvector's iterative scans, so a filter that
hides most rows still yields the wanted depth; when the index yields fewer (scans disabled, the
``max_scan_tuples`` budget spent, or fewer matching rows than asked) the query runs again as an
exact scan (index scans off: the ACL's GIN index and a sort), so ``k`` visible chunks come back
whenever they exist. Full-text matching is an OR of the query's lexemes (like BM25: a chunk
needs one query word, not all), ranked by ``ts_rank_cd``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

from inhouse.plugins import SearchMode
from inhouse.store_rules import filter_terms
from inhouse.types import Chunk, Hit
from inhouse_pgvector.records import CHUNK_COLUMNS, chunk_of
from inhouse_pgvector.schema import Tables
from inhouse_pgvector.settings import Settings


@dataclass
class Query:
    """One search's inputs, checked: a unit query vector (or None), the tsquery text of the
    query's lexemes (or None), the SQL condition of the ACL and filters with its parameters."""

    vector: np.ndarray | None
    tsquery: str | None
    where: sql.Composable
    params: list[Any]


def conditions(acl: Sequence[str] | None, filters: dict[str, Any] | None) -> tuple[sql.Composable, list[Any]]:
    """The SQL condition (and parameters) of the caller's principals and the filters: an ACL
    shares a principal (an empty one never does), each filter matches one of its values exactly
    or, for a value ending in ``*``, as a prefix."""
    parts: list[sql.Composable] = []
    params: list[Any] = []
    if acl is not None:
        parts.append(sql.SQL("acl && %s::text[]"))
        params.append(list(acl))
    for field, terms in filter_terms(filters).items():
        column = sql.Identifier(field)
        alternatives: list[sql.Composable] = []
        for term in terms:
            form = "starts_with({}, %s)" if term.prefix else "{} = %s"
            alternatives.append(sql.SQL(form).format(column))
            params.append(term.value)
        parts.append(sql.SQL("({})").format(sql.SQL(" OR ").join(alternatives) if alternatives else sql.SQL("FALSE")))
    return (sql.SQL(" AND ").join(parts) if parts else sql.SQL("TRUE")), params


def tsquery(lexemes: Sequence[str]) -> str | None:
    """The tsquery text matching any of these (already normalised) lexemes, or None for none."""
    quoted = ["'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'" for lexeme in lexemes]
    return " | ".join(quoted) or None


def begin(conn: psycopg.Connection, cfg: Settings) -> None:
    """Open the search's read-only snapshot and set this transaction's HNSW parameters."""
    settings = [("hnsw.ef_search", cfg.ef_search)]
    if cfg.iterative_scan != "off":
        settings += [("hnsw.iterative_scan", cfg.iterative_scan), ("hnsw.max_scan_tuples", cfg.max_scan_tuples)]
    statements = [sql.SQL("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")]
    statements += [sql.SQL("SET LOCAL {} = {}").format(sql.SQL(name), sql.Literal(str(value))) for name, value in settings]
    conn.execute(sql.SQL("; ").join(statements))


def lexemes(conn: psycopg.Connection, text_search: str, text: str) -> list[str]:
    """The normalised words of ``text`` under the text search configuration (no stopwords)."""
    return conn.execute("SELECT tsvector_to_array(to_tsvector(%s::regconfig, %s))", (text_search, text)).fetchone()[0]


def dense(conn: psycopg.Connection, tables: Tables, q: Query, depth: int) -> tuple[list[int], bool]:
    """Best-first keys of the ``depth`` nearest allowed chunks, and whether the exact scan was needed."""
    nearest = tables.sql(
        "SELECT pk, distance FROM (SELECT pk, embedding <#> %s AS distance FROM {chunks} WHERE {where}"
        " ORDER BY embedding <#> %s LIMIT %s) AS nearest ORDER BY distance, pk",
        where=q.where,
    )
    args = [q.vector, *q.params, q.vector, depth]
    rows = conn.execute(nearest, args).fetchall()
    if len(rows) >= depth:
        return [r[0] for r in rows], False
    conn.execute("SET LOCAL enable_indexscan = off")
    rows = conn.execute(nearest, args).fetchall()
    conn.execute("RESET enable_indexscan")
    return [r[0] for r in rows], True


def lexical(conn: psycopg.Connection, tables: Tables, q: Query, depth: int) -> list[int]:
    """Best-first keys of the ``depth`` allowed chunks ranking highest for the query's words."""
    if q.tsquery is None:
        return []
    ranked = tables.sql(
        "SELECT pk FROM {chunks} WHERE tsv @@ %s::tsquery AND {where} ORDER BY ts_rank_cd(tsv, %s::tsquery) DESC, pk LIMIT %s",
        where=q.where,
    )
    return [r[0] for r in conn.execute(ranked, [q.tsquery, *q.params, q.tsquery, depth])]


def rrf(lists: list[list[int]], weights: list[float], rrf_k: int) -> list[tuple[int, float]]:
    """Reciprocal rank fusion (Cormack et al., 2009): ``sum w / (rrf_k + rank)``, best first."""
    score: dict[int, float] = {}
    for keys, weight in zip(lists, weights, strict=True):
        for rank, key in enumerate(keys, start=1):
            score[key] = score.get(key, 0.0) + weight / (rrf_k + rank)
    return sorted(score.items(), key=lambda item: -item[1])


def fetch(conn: psycopg.Connection, tables: Tables, q: Query, keys: list[int], bm25: bool) -> dict[int, tuple[Chunk, Any, Any]]:
    """The chunks of these keys with their cosine (when a vector is given) and ``ts_rank_cd``
    (when full-text search was consulted: 0.0 without a match)."""
    cosine = sql.SQL("-(embedding <#> %s)") if q.vector is not None else sql.SQL("NULL::float8")
    rank = sql.SQL("coalesce(ts_rank_cd(tsv, %s::tsquery), 0.0)") if bm25 else sql.SQL("NULL::float4")
    select = tables.sql(
        "SELECT {columns}, {cosine}, {rank} FROM {chunks} WHERE pk = ANY(%s)", columns=CHUNK_COLUMNS, cosine=cosine, rank=rank
    )
    args: list[Any] = ([q.vector] if q.vector is not None else []) + ([q.tsquery] if bm25 else []) + [keys]
    return {row[0]: (chunk_of(row[:-2]), row[-2], row[-1]) for row in conn.execute(select, args)}


def search(conn: psycopg.Connection, tables: Tables, cfg: Settings, q: Query, k: int, mode: SearchMode) -> tuple[list[Hit], bool]:
    """The ``k`` best allowed chunks for ``mode`` (see ``Store.search``), and whether the dense
    list needed the exact scan. Runs in the caller's transaction, opened with :func:`begin`."""
    use_dense = mode != "bm25" and q.vector is not None
    use_text = mode != "dense"
    depth = max(k, cfg.candidates) if mode == "hybrid" else k
    exact = False
    lists: list[list[int]] = []
    if use_dense:
        keys, exact = dense(conn, tables, q, depth)
        lists.append(keys)
    if use_text:
        lists.append(lexical(conn, tables, q, depth))
    if mode == "hybrid" and len(lists) == 2:
        ranked = rrf(lists, [2 * cfg.alpha, 2 * (1 - cfg.alpha)], cfg.rrf_k)[:k]
    else:
        ranked = [(key, 0.0) for key in (lists[0] if lists else [])][:k]
    rows = fetch(conn, tables, q, [key for key, _ in ranked], use_text)
    hits = []
    for key, fused in ranked:
        chunk, cosine, rank = rows[key]
        cosine = None if cosine is None else float(cosine)
        rank = None if rank is None else float(rank)
        score = fused if mode == "hybrid" and len(lists) == 2 else (cosine if use_dense else rank)
        hits.append(Hit(chunk, float(score or 0.0), cosine, rank))
    return hits, exact
