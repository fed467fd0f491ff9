"""``inhouse migrate`` between the default ``local`` store and ``pgvector``, both ways, without
re-embedding: the vectors are random (no embedder could reproduce them), so equal vectors at
the end mean they were copied. Records, chunks (ACLs, labels, pages, headings, meta) and the
recorded embedder arrive unchanged, and searches agree."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from inhouse import registry
from inhouse.cli import app
from inhouse.migrate import migrate
from inhouse.plugins import DocumentRecord, Store
from inhouse.testing.store import assert_same_index
from inhouse.types import Chunk

DIM = 16
EMBEDDER = ("test-embedder-16", DIM)


def local(path: Path) -> Store:
    return registry.build("stores", {"use": "local", "path": str(path)}, "store", home=path.parent, base_dir=path.parent)


@pytest.fixture
def source(tmp_path: Path) -> Store:
    """A local store of 12 documents (3 to 5 chunks each, random unit vectors) with varied ACLs,
    labels, pages, headings and metadata."""
    store = local(tmp_path / "source")
    store.check_embedder(*EMBEDDER)
    rng = np.random.default_rng(11)
    acls = [("*",), ("group:hr", "user:ana"), (), ("group:legal",)]
    for d in range(12):
        acl, label = acls[d % 4], ("internal", "confidential", "restricted")[d % 3]
        source = f"{'hr' if d % 2 else 'it'}/doc{d}.md"
        record = DocumentRecord(
            f"doc{d}", source, "/corpus", f"Document {d}", f"sha-{d}", 1700000000.0 + d, acl, "filesystem", label
        )
        n = 3 + d % 3
        chunks = [
            Chunk(f"doc{d}#{i}", f"doc{d}", source, f"Document {d}", f"paragraph {i} of document {d} about topic {d % 4}",
                  heading=f"Part {i}", page=i if d % 3 == 0 else None, acl=acl, ordinal=i, meta={"n": i, "tags": ["x", d]},
                  sensitivity=label)
            for i in range(n)
        ]  # fmt: skip
        vectors = rng.standard_normal((n, DIM)).astype(np.float32)
        store.upsert(record, chunks, vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    store.flush()
    yield store
    store.close()


def test_local_to_pgvector_and_back_copies_without_re_embedding(source: Store, open_store, tmp_path: Path) -> None:
    target = open_store()
    there = migrate(source, target)
    assert (there.copied, there.chunks, there.embedder) == (12, source.count(), EMBEDDER)
    assert there.verification is not None and there.verification.ok, there.verification
    assert_same_index(source, target)
    assert "HNSW index built" in target.check()  # migrate's flush built it
    rng = np.random.default_rng(5)
    for q in rng.standard_normal((4, DIM)).astype(np.float32):
        for acl in (None, ["group:hr"], ["*", "user:ana"], []):
            ours = [h.chunk.id for h in source.search(q, "", k=6, acl=acl, mode="dense")]
            assert ours == [h.chunk.id for h in target.search(q, "", k=6, acl=acl, mode="dense")], acl
    back = local(tmp_path / "back")
    home_again = migrate(target, back)
    assert home_again.copied == 12 and home_again.verification is not None and home_again.verification.ok
    assert_same_index(source, back)
    again = migrate(source, target)  # a second run finds everything there
    assert (again.copied, again.unchanged) == (0, 12)
    back.close()


def test_the_migrate_command_both_ways_with_a_dsn_from_the_environment(
    source: Store, pg_config: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``inhouse migrate --from local --to pgvector --to-config pgvector.toml`` and back, the
    pgvector settings in their own file with ``dsn = { env = ... }``."""
    monkeypatch.setenv("INHOUSE_TEST_PG_DSN", pg_config["dsn"])
    main = tmp_path / "plugins.toml"
    main.write_text(f'[embedder]\nuse = "minilm"\n\n[store]\nuse = "local"\npath = "{tmp_path / "source"}"\n')
    pg = tmp_path / "pgvector.toml"
    pg.write_text(
        '[embedder]\nuse = "minilm"\n\n[store]\nuse = "pgvector"\ndsn = { env = "INHOUSE_TEST_PG_DSN" }\n'
        f'db_schema = "{pg_config["db_schema"]}"\n'
    )
    copy = tmp_path / "copy.toml"
    copy.write_text('[embedder]\nuse = "minilm"\n\n[store]\nuse = "local"\npath = "copy"\n')
    base = ["--config", str(main), "--home", str(tmp_path / "home"), "migrate"]
    runner = CliRunner()
    there = runner.invoke(app, [*base, "--from", "local", "--to", "pgvector", "--to-config", str(pg), "--json"])
    assert there.exit_code == 0, there.output
    report = json.loads(there.output)
    assert report["copied"] == 12 and report["chunks"] == source.count() and report["verification"]["ok"]
    assert report["embedder"] == {"model": EMBEDDER[0], "dimension": DIM}
    back = runner.invoke(app, [*base, "--from", "pgvector", "--from-config", str(pg), "--to", "local", "--to-config", str(copy)])
    assert back.exit_code == 0, back.output
    assert "verified" in back.output
    copied = local(tmp_path / "copy")
    assert_same_index(source, copied)
    copied.close()
