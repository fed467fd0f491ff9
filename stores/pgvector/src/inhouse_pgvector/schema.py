"""The tables, their versioned migrations, the recorded embedder and the HNSW index.

Migrations are an ordered list applied in one transaction under a database-wide advisory lock,
so any number of processes may open the store at once: the first applies what is missing, the
others wait and then find nothing to do. ``{prefix}schema_version`` lists what was applied.
A database written by a newer version is refused rather than misread.

Vectors sit in one ``vector`` column whose dimension is fixed (``vector(N)``) when the first
vectors or the embedder are recorded; the HNSW index over it (inner product: the vectors are
unit length) is built by ``ensure_index`` at ``flush()``, so a bulk load builds it once.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from inhouse.errors import ConfigError

#: (version, description, statements); statements are formatted with ``Tables.names``.
Migration = tuple[int, str, tuple[str, ...]]
MIGRATIONS: tuple[Migration, ...] = (
    (
        1,
        "documents, chunks (vectors, full-text, ACL), meta",
        (
            "CREATE TABLE {meta} (key text PRIMARY KEY, value text NOT NULL)",
            "INSERT INTO {meta} VALUES ('text_search', {text_search})",
            "CREATE TABLE {documents} (id text PRIMARY KEY, source text NOT NULL, root text NOT NULL, title text NOT NULL,"
            " hash text NOT NULL, modified double precision NOT NULL, acl text[] NOT NULL, connector text NOT NULL,"
            " sensitivity text NOT NULL)",
            "CREATE INDEX {documents_root} ON {documents} (root)",
            "CREATE TABLE {chunks} (pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id text NOT NULL UNIQUE,"
            " doc_id text NOT NULL REFERENCES {documents} (id) ON DELETE CASCADE, ordinal integer NOT NULL,"
            " source text NOT NULL, title text NOT NULL, heading text NOT NULL, page integer, acl text[] NOT NULL,"
            " text text NOT NULL, meta jsonb NOT NULL, sensitivity text NOT NULL, embedding vector NOT NULL,"
            " tsv tsvector GENERATED ALWAYS AS"
            " (to_tsvector({text_search}::regconfig, title || ' ' || heading || ' ' || text)) STORED)",
            "CREATE INDEX {chunks_doc} ON {chunks} (doc_id, ordinal)",
            "CREATE INDEX {chunks_source} ON {chunks} (source text_pattern_ops)",
            "CREATE INDEX {chunks_acl} ON {chunks} USING gin (acl)",
            "CREATE INDEX {chunks_tsv} ON {chunks} USING gin (tsv)",
        ),
    ),
)
MIGRATION_LOCK = 0x696E686F757365  # "inhouse": one advisory lock for every index's migrations in a database
ITERATIVE_SCANS = (0, 8, 0)  # the pgvector version with hnsw.iterative_scan


class Tables:
    """The qualified names of one index's tables (``db_schema``, ``table_prefix``)."""

    def __init__(self, schema: str, prefix: str):
        self.schema = schema
        self.prefix = prefix
        self.key = f"inhouse_pgvector:{schema}.{prefix}"  # the index's advisory lock (hashed)
        tables = ("meta", "documents", "chunks", "schema_version")
        indexes = ("documents_root", "chunks_doc", "chunks_source", "chunks_acl", "chunks_tsv", "chunks_hnsw")
        self.names: dict[str, sql.Composable] = {t: sql.Identifier(schema, prefix + t) for t in tables}
        self.names.update({i: sql.Identifier(prefix + i) for i in indexes})  # created in their table's schema
        self.names["hnsw_index"] = sql.Identifier(schema, prefix + "chunks_hnsw")  # qualified, to drop it
        self.hnsw = f"{schema}.{prefix}chunks_hnsw"

    def sql(self, template: str, **more: Any) -> sql.Composed:
        """``template`` with ``{chunks}``, ``{documents}``, ... replaced by these tables' names."""
        return sql.SQL(template).format(**self.names, **more)

    def lock(self, conn: psycopg.Connection) -> None:
        """Hold this index's advisory lock until the transaction ends (schema-changing writes)."""
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.key,))


def migrate(conn: psycopg.Connection, tables: Tables, text_search: str, migrations: tuple[Migration, ...] = MIGRATIONS) -> int:
    """Create the extension, schema and tables, or apply the migrations they lack, in one
    transaction under the migration lock; returns the schema version."""
    newest = migrations[-1][0]
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone() is None:
            try:
                with conn.transaction():
                    conn.execute("CREATE EXTENSION vector")
            except psycopg.errors.InsufficientPrivilege:
                raise ConfigError(
                    "the database has no pgvector extension and this user may not create it: run CREATE EXTENSION vector "
                    "as an administrator (on RDS/Aurora: a member of rds_superuser)"
                ) from None
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(tables.schema)))
        conn.execute(
            tables.sql(
                "CREATE TABLE IF NOT EXISTS {schema_version} (version integer PRIMARY KEY, description text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
        )
        current = conn.execute(tables.sql("SELECT coalesce(max(version), 0) FROM {schema_version}")).fetchone()[0]
        if current > newest:
            raise ConfigError(
                f"the tables {tables.schema}.{tables.prefix}* were written by a newer inhouse-pgvector (schema {current}, "
                f"this one knows {newest}): upgrade inhouse-pgvector, or set another store.table_prefix"
            )
        for version, description, statements in migrations:
            if version <= current:
                continue
            for statement in statements:
                conn.execute(tables.sql(statement, text_search=sql.Literal(text_search)))
            conn.execute(tables.sql("INSERT INTO {schema_version} VALUES (%s, %s)"), (version, description))
    return newest


def check_server(conn: psycopg.Connection, tables: Tables, text_search: str, iterative: bool) -> str:
    """The pgvector version; ``ConfigError`` when the tables use another text search
    configuration or iterative scans are wanted from a pgvector older than 0.8."""
    with conn.transaction():
        version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0]
        stored = conn.execute(tables.sql("SELECT value FROM {meta} WHERE key = 'text_search'")).fetchone()[0]
    if stored != text_search:
        raise ConfigError(
            f"store.text_search: the tables were created with the text search configuration {stored!r}, not "
            f"{text_search!r}: set text_search = {stored!r}, or use another table_prefix and re-ingest"
        )
    if iterative and tuple(int(p) for p in version.split(".")[:3]) < ITERATIVE_SCANS:
        raise ConfigError(
            f"store.iterative_scan: pgvector {version} has no iterative index scans (0.8.0 or later): run ALTER EXTENSION "
            'vector UPDATE, or set iterative_scan = "off" (a filtered search then falls back to an exact scan)'
        )
    return version


def embedder(conn: psycopg.Connection, tables: Tables) -> tuple[str | None, int | None]:
    """The recorded (model id, dimension), or Nones."""
    rows = dict(
        conn.execute(tables.sql("SELECT key, value FROM {meta} WHERE key IN ('embedder_model', 'embedder_dim')")).fetchall()
    )
    dim = rows.get("embedder_dim")
    return rows.get("embedder_model"), (int(dim) if dim is not None else None)


def set_embedder(conn: psycopg.Connection, tables: Tables, model: str | None, dim: int) -> None:
    """Record the embedder (model None: only the dimension is known) and give the vector column
    that dimension, dropping the HNSW index when it changes (the table holds no vectors then).
    Call inside a transaction holding the index's lock."""
    _, held = embedder(conn, tables)
    if model is None:
        conn.execute(tables.sql("DELETE FROM {meta} WHERE key = 'embedder_model'"))
    else:
        conn.execute(tables.sql(_PUT), ("embedder_model", model))
    conn.execute(tables.sql(_PUT), ("embedder_dim", str(dim)))
    if held != dim:
        conn.execute(tables.sql("DROP INDEX IF EXISTS {hnsw_index}"))
        conn.execute(tables.sql("ALTER TABLE {chunks} ALTER COLUMN embedding TYPE vector({dim})", dim=sql.Literal(dim)))


_PUT = "INSERT INTO {meta} VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value"


def forget_embedder(conn: psycopg.Connection, tables: Tables) -> None:
    """Drop the recorded embedder, the HNSW index and the column's dimension (an emptied index)."""
    conn.execute(tables.sql("DELETE FROM {meta} WHERE key IN ('embedder_model', 'embedder_dim')"))
    conn.execute(tables.sql("DROP INDEX IF EXISTS {hnsw_index}"))
    conn.execute(tables.sql("ALTER TABLE {chunks} ALTER COLUMN embedding TYPE vector"))


def ensure_index(conn: psycopg.Connection, tables: Tables, m: int, ef_construction: int) -> bool:
    """Build the HNSW index when the dimension is known and the index is missing or was built
    with other parameters; True when it was (re)built. Call inside a transaction holding the
    index's lock."""
    if embedder(conn, tables)[1] is None:
        return False
    wanted = [f"m={m}", f"ef_construction={ef_construction}"]
    row = conn.execute("SELECT reloptions FROM pg_class WHERE oid = to_regclass(%s)", (tables.hnsw,)).fetchone()
    if row is not None and sorted(row[0] or []) == sorted(wanted):
        return False
    conn.execute(tables.sql("DROP INDEX IF EXISTS {hnsw_index}"))
    conn.execute(
        tables.sql(
            "CREATE INDEX {chunks_hnsw} ON {chunks} USING hnsw (embedding vector_ip_ops) WITH (m = {m}, ef_construction = {ef})",
            m=sql.Literal(m),
            ef=sql.Literal(ef_construction),
        )
    )
    return True
