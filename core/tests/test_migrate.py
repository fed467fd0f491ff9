"""``inhouse migrate`` between two local stores in different folders: the sample corpus as
ingested with the real MiniLM embedder, copied without re-embedding, exactly (records, chunks,
ACLs, labels, vectors), resumably, and refused into a store of another embedder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from inhouse.cli import app
from inhouse.errors import ConfigError
from inhouse.migrate import migrate
from inhouse.plugins import DocumentRecord, Store
from inhouse.store.local import LocalStore
from inhouse.testing.store import assert_same_index
from inhouse.types import Chunk
from storekit import doc, open_store


@pytest.fixture
def source(assistant, tmp_path: Path) -> LocalStore:
    """A private copy of the ingested sample corpus (tests may change it), with a few documents
    given their own ACLs and labels."""
    store = open_store(tmp_path / "source")
    report = migrate(assistant.store, store)
    assert report.verification is not None and report.verification.ok
    ids = sorted(store.documents())
    store.set_access(ids[0], ["group:hr", "user:ana"], "restricted")
    store.set_access(ids[1], [], "confidential")  # visible to nobody
    store.set_access(ids[2], ["*"], "public")
    yield store
    store.close()


def test_copies_the_index_exactly_and_searches_agree(assistant, source: LocalStore, tmp_path: Path) -> None:
    target = open_store(tmp_path / "target")
    seen: list[tuple[int, int, int]] = []
    report = migrate(source, target, on_progress=lambda *progress: seen.append(progress))
    documents = len(source.documents())
    assert (report.documents, report.copied, report.unchanged, report.access) == (documents, documents, 0, 0)
    assert report.chunks == source.count() == target.count() > 100
    assert report.embedder == ("sentence-transformers/all-MiniLM-L6-v2", 384)
    assert seen[-1] == (documents, documents, report.chunks) and len(seen) == documents
    check = report.verification
    assert check is not None and check.ok, check
    assert check.searches >= 20 and check.agreed == check.searches  # with and without the chunks' ACLs
    assert_same_index(source, target)
    question = assistant.embedder.embed_query("How many vacation days do I get?")
    for acl in (None, ["group:hr"], ["user:ana"], ["*"]):
        ours = [(h.chunk.id, round(h.score, 5)) for h in source.search(question, "vacation days", k=8, acl=acl)]
        assert ours and ours == [(h.chunk.id, round(h.score, 5)) for h in target.search(question, "vacation days", k=8, acl=acl)]
    restricted = sorted(source.documents())[0]
    assert {h.chunk.doc_id for h in target.search(question, "", k=500, acl=["group:hr"], mode="dense")} == {restricted}
    target.close()


def test_a_second_run_writes_nothing_and_force_rewrites_without_duplicates(source: LocalStore, tmp_path: Path) -> None:
    target = open_store(tmp_path / "target")
    migrate(source, target)
    again = migrate(source, target)
    documents = len(source.documents())
    assert (again.copied, again.unchanged, again.chunks, again.access) == (0, documents, 0, 0)
    assert again.verification is not None and again.verification.ok
    forced = migrate(source, target, force=True)
    assert (forced.copied, forced.chunks) == (documents, source.count())
    assert target.count() == source.count() and len(target.documents()) == documents
    assert_same_index(source, target)
    target.close()


def test_an_interrupted_copy_resumes_where_it_stopped(source: LocalStore, tmp_path: Path) -> None:
    target = open_store(tmp_path / "target")

    def stop_after_five(done: int, total: int, chunks: int) -> None:
        if done == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        migrate(source, target, on_progress=stop_after_five)
    assert len(target.documents()) == 5
    resumed = migrate(source, target)
    assert (resumed.unchanged, resumed.copied) == (5, len(source.documents()) - 5)
    assert resumed.verification is not None and resumed.verification.ok
    assert_same_index(source, target)
    target.close()


def test_a_changed_acl_or_label_alone_is_set_without_rewriting(source: LocalStore, tmp_path: Path) -> None:
    target = open_store(tmp_path / "target")
    migrate(source, target)
    doc_id = sorted(source.documents())[3]
    source.set_access(doc_id, ["group:legal"], "confidential")
    report = migrate(source, target)
    assert (report.access, report.copied, report.chunks) == (1, 0, 0)
    assert target.document(doc_id) == source.document(doc_id)
    assert {c.acl for c in target.neighbours(_first_chunk(target, doc_id), 0, 1000)} == {("group:legal",)}
    assert_same_index(source, target)
    target.close()


def _first_chunk(store: Store, doc_id: str) -> Chunk:
    return next(chunks[0] for record, chunks, _ in store.export() if record.id == doc_id)


def test_a_dry_run_counts_and_writes_nothing(source: LocalStore, tmp_path: Path) -> None:
    target = open_store(tmp_path / "target")
    report = migrate(source, target, dry_run=True)
    assert (report.copied, report.chunks, report.dry_run) == (len(source.documents()), source.count(), True)
    assert report.verification is None
    assert target.count() == 0 and target.documents() == {} and target.embedder_of() == (None, None)
    target.close()


def test_documents_only_in_the_target_fail_the_check_until_pruned(source: LocalStore, tmp_path: Path) -> None:
    target = open_store(tmp_path / "target")
    migrate(source, target)
    stray_id = sorted(source.documents())[4]
    _, chunks, vectors = next(item for item in source.export() if item[0].id == stray_id)
    stray = DocumentRecord("stray", "stray.md", "/elsewhere", "Stray", "h", 1.0, ("*",))
    target.upsert(stray, [Chunk("stray#0", "stray", "stray.md", "Stray", chunks[0].text, acl=("*",))], vectors[:1])
    kept = migrate(source, target)
    assert kept.extra == 1 and not kept.pruned
    assert kept.verification is not None and not kept.verification.ok and kept.verification.extra == ["stray"]
    pruned = migrate(source, target, prune=True)
    assert pruned.pruned and pruned.verification is not None and pruned.verification.ok
    assert target.document("stray") is None
    target.close()


def test_a_target_of_another_embedder_or_dimension_is_refused(source: LocalStore, tmp_path: Path) -> None:
    eight = open_store(tmp_path / "eight")
    eight.check_embedder("hashing-8", 8)
    record, chunks = doc("x", ["some text"])
    eight.upsert(record, chunks, np.eye(1, 8, dtype=np.float32))
    with pytest.raises(ConfigError, match=r"the target store holds 8-d vectors but the source store's are 384-d"):
        migrate(source, eight)
    other = open_store(tmp_path / "other")
    other.check_embedder("another-384-model", 384)
    other.upsert(record, chunks, np.eye(1, 384, dtype=np.float32))
    with pytest.raises(ConfigError, match=r"vectors of embedder 'another-384-model' but the source store's come from 'sentence"):
        migrate(source, other, dry_run=True)
    assert [eight.count(), other.count()] == [1, 1] and other.embedder_of() == ("another-384-model", 384)
    eight.close()
    other.close()


def test_the_command_copies_between_two_configurations_and_back(source: LocalStore, tmp_path: Path) -> None:
    home = tmp_path / "home"
    main = tmp_path / "plugins.toml"
    main.write_text(f'[embedder]\nuse = "minilm"\n\n[store]\nuse = "local"\npath = "{tmp_path / "source"}"\n')
    other = tmp_path / "other.toml"
    other.write_text('[embedder]\nuse = "minilm"\n\n[store]\nuse = "local"\npath = "copy"\n')  # relative to other.toml
    base = ["--config", str(main), "--home", str(home), "migrate"]
    runner = CliRunner()
    there = runner.invoke(app, [*base, "--from", "local", "--to", "local", "--to-config", str(other), "--json"])
    assert there.exit_code == 0, there.output
    report = json.loads(there.output)
    assert report["copied"] == len(source.documents()) and report["chunks"] == source.count()
    assert report["verification"]["ok"]
    assert report["embedder"] == {"model": "sentence-transformers/all-MiniLM-L6-v2", "dimension": 384}
    copy = open_store(tmp_path / "copy")
    assert_same_index(source, copy)
    copy.close()
    back = runner.invoke(app, [*base, "--from", "local", "--to", "local", "--from-config", str(other)], env={"COLUMNS": "200"})
    assert back.exit_code == 0, back.output
    assert "already there" in back.output and "verified" in back.output and "searches give the same top hit" in back.output
    same = runner.invoke(app, [*base, "--from", "local", "--to", "local"])
    assert "are the same store" in str(same.exception)
    wrong = runner.invoke(app, [*base, "--from", "local", "--to", "pgvector", "--to-config", str(other), "--dry-run"])
    assert f"--to pgvector, but the [store] of {other} uses 'local'" in str(wrong.exception)
