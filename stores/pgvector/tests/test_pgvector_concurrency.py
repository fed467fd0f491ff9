"""Several OS processes share one index, as ``inhouse serve`` replicas and an ingestion would: two
writers replace their own document again and again while two readers search and export. No
reader ever sees a torn document (chunks of two versions, a version with chunks missing, a record
without its chunks) or a document going back in time, and both writers' last versions land."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("pgvector_worker.py")
VERSIONS = 150


@pytest.mark.slow
def test_writers_and_readers_in_separate_processes(open_store, pg_config, tmp_path: Path) -> None:
    store = open_store()  # creates the tables before the workers start
    env = {**os.environ, "INHOUSE_TEST_PG_DSN": pg_config["dsn"], "INHOUSE_TEST_PG_SCHEMA": pg_config["db_schema"]}
    go = tmp_path / "go"
    roles = [("write", "alpha"), ("write", "beta"), ("read", "alpha,beta"), ("read", "alpha,beta")]
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), role, target, str(VERSIONS), str(go)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        for role, target in roles
    ]  # fmt: skip
    try:
        for worker in workers:
            line = worker.stdout.readline()
            assert line == "ready\n", worker.stderr.read()
        go.touch()
        results = []
        for worker in workers:
            out, err = worker.communicate(timeout=400)
            assert worker.returncode == 0, err
            results.append(json.loads(out))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    writers, readers = results[:2], results[2:]
    assert [w["written"] for w in writers] == [VERSIONS, VERSIONS]
    for reader in readers:
        assert reader["problems"] == []
        assert reader["latest"] == {"alpha": VERSIONS, "beta": VERSIONS}
        assert reader["searches"] >= 10 and reader["exports"] >= 2
    assert max(n for reader in readers for n in reader["distinct"].values()) >= 3, readers  # they ran while versions changed
    # no lost update: each writer's last version is what is stored, whole
    documents = store.documents()
    assert {d.id: d.hash for d in documents.values()} == {"alpha": f"v{VERSIONS}", "beta": f"v{VERSIONS}"}
    assert store.count() == sum(w["chunks"] for w in writers)  # the last versions' chunks, nothing else
