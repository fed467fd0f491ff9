"""Ingestion on Ray gives the index a single-process ingest gives: the same documents, chunk ids
and texts, vectors within 1e-5, the same report (a corrupt file fails alone) — through
``Assistant.ingest(engine=...)`` and through ``inhouse ingest --ray-address`` in another process
that joins the test's Ray. The real MiniLM embedder runs in two embedder actors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import ray
from ray_support import assert_same_index, index, report_dict

from inhouse import Assistant
from inhouse.engines import open_engine
from support import write_config

pytestmark = [pytest.mark.model, pytest.mark.slow]

# Two actors of half a CPU each beside one parsing task on the 2-CPU Ray; batches of 16 texts,
# so each ingester batch of 128 chunks is spread over both actors and reassembled.
RAY_TABLE = "[ray]\nworkers = 2\ncpus_per_worker = 0.5\nbatch_size = 16\nin_flight = 4\n"


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Path:
    """MiniLM, the local store and the corpus; the [ray] table above."""
    return write_config(tmp_path_factory.mktemp("ray-config"), corpus, extra=RAY_TABLE)


@pytest.fixture(scope="module")
def single(config: Path, tmp_path_factory: pytest.TempPathFactory):
    """The corpus ingested in this process (the default engine): its report and index."""
    with Assistant.from_config(config, home=tmp_path_factory.mktemp("single")) as assistant:
        report = assistant.ingest()
        return report_dict(report), index(assistant)


def test_the_corpus_has_what_the_comparison_needs(single) -> None:
    report, stored = single
    assert report["added"] >= 20 and report["chunks"] > 128  # more than one ingester batch
    assert [f["path"] for f in report["failed"]] == ["notes/broken.pdf"]
    assert len(stored) == report["added"]


def test_assistant_ingest_on_ray_writes_the_same_index(config: Path, single, ray_address: str, tmp_path: Path) -> None:
    expected_report, expected = single
    with Assistant.from_config(config, home=tmp_path / "home") as assistant:
        with open_engine("ray", None, assistant) as engine:
            assert engine.workers == 2 and not engine.started  # joined the Ray this process runs
            report = assistant.ingest(engine=engine)
        assert ray.is_initialized()  # close() left alone the Ray it did not start
        assert report_dict(report) == expected_report  # the corrupt PDF failed alone, with the same reason
        assert_same_index(expected, index(assistant))
        hits = assistant.search("Which paragraph says the cluster parses file 77?", k=3)
        assert hits and hits[0].chunk.source == "notes/ray.md"


def test_inhouse_ingest_ray_address_joins_the_cluster_and_writes_the_same_index(
    config: Path, single, ray_address: str, tmp_path: Path
) -> None:
    expected_report, expected = single
    home = tmp_path / "home"
    command = [sys.executable, "-m", "inhouse", "--home", str(home), "--config", str(config), "ingest"]
    done = subprocess.run(
        [*command, "--ray-address", ray_address, "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)  # Ray wrote nothing to stdout
    report.pop("seconds")
    assert report == expected_report
    with Assistant.from_config(config, home=home) as assistant:
        assert_same_index(expected, index(assistant))
