"""Tables, versioned migrations under the advisory lock (several processes opening at once), two
indexes in one database, the recorded embedder and the errors of bad writes."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import psycopg
import pytest

from inhouse.errors import ConfigError, IngestError
from inhouse.plugins import DocumentRecord
from inhouse.types import Chunk
from inhouse_pgvector import schema


def document(doc_id: str, n: int = 1, acl: tuple[str, ...] = ("*",)) -> tuple[DocumentRecord, list[Chunk]]:
    record = DocumentRecord(doc_id, f"{doc_id}.md", "/r", doc_id, "h", 1.0, acl)
    return record, [
        Chunk(f"{doc_id}#{i}", doc_id, f"{doc_id}.md", doc_id, f"text {i} of {doc_id}", acl=acl, ordinal=i) for i in range(n)
    ]


def vectors(n: int, dim: int = 8) -> np.ndarray:
    return np.eye(n, dim, dtype=np.float32) + 0.01


def versions(dsn: str, schema_name: str, prefix: str = "inhouse_") -> list[int]:
    with psycopg.connect(dsn) as conn:
        return [r[0] for r in conn.execute(f'SELECT version FROM "{schema_name}"."{prefix}schema_version" ORDER BY version')]


def test_a_new_index_gets_its_tables_and_a_schema_version(open_store, pg_config) -> None:
    store = open_store()
    assert store.schema_version == 1 and versions(pg_config["dsn"], pg_config["db_schema"]) == [1]
    with psycopg.connect(pg_config["dsn"]) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (pg_config["db_schema"],))}
    assert tables == {"inhouse_meta", "inhouse_documents", "inhouse_chunks", "inhouse_schema_version"}
    open_store()  # opening again applies nothing
    assert versions(pg_config["dsn"], pg_config["db_schema"]) == [1]


def test_migrations_apply_in_order_once_and_a_newer_schema_is_refused(open_store, pg_config) -> None:
    open_store()
    tables = schema.Tables(pg_config["db_schema"], "inhouse_")
    later = (
        *schema.MIGRATIONS,
        (2, "a note per document", ("ALTER TABLE {documents} ADD COLUMN note text",)),
        (3, "a default note", ("ALTER TABLE {documents} ALTER COLUMN note SET DEFAULT 'none'",)),
    )
    with psycopg.connect(pg_config["dsn"], autocommit=True) as conn:
        assert schema.migrate(conn, tables, "english", later) == 3
        assert schema.migrate(conn, tables, "english", later) == 3  # nothing left to apply
        default = conn.execute(
            "SELECT column_default FROM information_schema.columns WHERE table_schema = %s AND column_name = 'note'",
            (pg_config["db_schema"],),
        ).fetchone()[0]
    assert default == "'none'::text" and versions(pg_config["dsn"], pg_config["db_schema"]) == [1, 2, 3]
    with pytest.raises(ConfigError, match=r"written by a newer inhouse-pgvector \(schema 3, this one knows 1\)"):
        open_store()


def test_processes_opening_a_new_index_at_once_wait_for_one_migration(postgres, pg_config) -> None:
    """Four processes start while the migration lock is held; they queue on it, and once it is
    released each opens the index, the first creating it: one set of tables, one version row."""
    code = (
        "import sys\nfrom inhouse_pgvector.store import PgvectorStore\n"
        "store = PgvectorStore(PgvectorStore.Config(dsn=sys.argv[1], db_schema=sys.argv[2]), name='store')\n"
        "print(store.schema_version, store.count())\nstore.close()\n"
    )
    with psycopg.connect(postgres) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (schema.MIGRATION_LOCK,))
        starts = [
            subprocess.Popen([sys.executable, "-c", code, postgres, pg_config["db_schema"]], stdout=subprocess.PIPE, text=True)
            for _ in range(4)
        ]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with psycopg.connect(postgres) as probe:
                waiting = probe.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted").fetchone()[0]
            if waiting == 4:
                break
            time.sleep(0.1)
        assert waiting == 4
        holder.rollback()  # releases the lock
    outputs = [p.communicate(timeout=120)[0] for p in starts]
    assert [p.returncode for p in starts] == [0] * 4 and outputs == ["1 0\n"] * 4
    assert versions(postgres, pg_config["db_schema"]) == [1]


def test_two_indexes_share_one_database_by_prefix_or_schema(open_store, pg_config) -> None:
    first, second = open_store(table_prefix="a_"), open_store(table_prefix="b_")
    third = open_store(db_schema=pg_config["db_schema"] + "_other")
    for store, name in ((first, "one"), (second, "two"), (third, "three")):
        store.upsert(*document(name, 2), vectors(2))
    assert [set(s.documents()) for s in (first, second, third)] == [{"one"}, {"two"}, {"three"}]
    first.reset()
    assert (first.count(), second.count(), third.count()) == (0, 2, 2)
    assert first.embedder_of() == (None, None) and second.embedder_of() == (None, 8)
    assert [h.chunk.doc_id for h in second.search(None, "text", mode="bm25")] == ["two", "two"]


def test_the_text_search_configuration_is_fixed_at_creation(open_store) -> None:
    open_store(text_search="simple")
    with pytest.raises(ConfigError, match=r"store.text_search: the tables were created with .* 'simple', not 'english'"):
        open_store()


def test_the_embedder_is_remembered_and_another_one_refused(open_store) -> None:
    store = open_store()
    store.check_embedder("model-a", 8)
    assert store.embedder_of() == ("model-a", 8)
    store.check_embedder("model-b", 16)  # empty: the new embedder is taken, the column retyped
    store.upsert(*document("x"), np.ones((1, 16), dtype=np.float32))
    assert store.embedder_of() == ("model-b", 16)
    with pytest.raises(ConfigError, match=r"built with embedder 'model-b' \(16-d\) but the configuration uses 'model-a'"):
        store.check_embedder("model-a", 16)
    with pytest.raises(ConfigError, match="holds 16-d vectors, these are 8-d"):
        store.upsert(*document("y"), vectors(1))
    store.flush()
    assert "HNSW index built" in store.check()
    store.reset()
    assert store.embedder_of() == (None, None) and "no HNSW index yet" in store.check()
    store.upsert(*document("y"), vectors(1))  # any dimension again
    assert store.embedder_of() == (None, 8)


def test_bad_writes_are_refused_and_leave_the_index_as_it_was(open_store) -> None:
    store = open_store()
    store.upsert(*document("a", 2), vectors(2))
    record, chunks = document("b", 2)
    clash = [chunks[0], Chunk("a#1", "b", "b.md", "b", "stolen id", acl=("*",), ordinal=1)]
    with pytest.raises(IngestError, match=r"chunk ids of 'b\.md' collide with another document's"):
        store.upsert(record, clash, vectors(2))
    with pytest.raises(IngestError, match="must have doc_id 'b'"):
        store.upsert(record, document("c", 1)[1], vectors(1))
    with pytest.raises(IngestError, match="expected 2 vectors"):
        store.upsert(record, chunks, vectors(1))
    with pytest.raises(IngestError, match="NaN or infinite"):
        store.upsert(record, chunks, np.full((2, 8), np.nan, dtype=np.float32))
    with pytest.raises(IngestError, match="no stored document 'nope'"):
        store.set_access("nope", ["*"], "internal")
    with pytest.raises(IngestError, match="must be a list of principals"):
        store.set_access("a", "group:hr", "internal")  # type: ignore[arg-type]
    assert set(store.documents()) == {"a"} and store.count() == 2
    store.upsert(record, [], np.zeros((0, 8), dtype=np.float32))  # a document without chunks
    assert store.document("b") == record and store.count() == 2
    store.close()
    store.close()
    with pytest.raises(ConfigError, match="this store is closed"):
        store.count()
