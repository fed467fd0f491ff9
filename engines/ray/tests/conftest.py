"""One local Ray for this folder's tests (2 CPUs, started the way the engine starts one) and
the corpus they ingest."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray

from inhouse_ray import cluster
from support import EXAMPLES

#: Test-only AWS credentials for the Ray processes (the Bedrock embedder in the actors signs with
#: them against inhouse.testing's emulator); the test process's own environment is restored.
AWS_TEST_ENV = {"AWS_ACCESS_KEY_ID": "AKIDTESTING", "AWS_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture(scope="session")
def ray_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local Ray of 2 CPUs on loopback for the whole session; its GCS address (which another
    process joins with ``--ray-address``)."""
    assert not ray.is_initialized()
    empty = tmp_path_factory.mktemp("aws")
    with pytest.MonkeyPatch.context() as env:
        for name, value in AWS_TEST_ENV.items():
            env.setenv(name, value)
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        env.delenv("AWS_PROFILE", raising=False)
        env.setenv("AWS_CONFIG_FILE", str(empty / "no-config"))
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "no-credentials"))
        assert cluster.connect(None, num_cpus=2)
    yield ray.get_runtime_context().gcs_address
    cluster.disconnect()
    assert not ray.is_initialized()


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """examples/handbook, a note written here, and a corrupt PDF (which fails to parse)."""
    root = tmp_path_factory.mktemp("ray-corpus") / "docs"
    shutil.copytree(EXAMPLES, root)
    (root / "notes").mkdir()
    sentences = " ".join(f"Paragraph {i} says the cluster parses file {i} in its own task." for i in range(120))
    (root / "notes" / "ray.md").write_text(f"# Ingestion on Ray\n\n{sentences}\n")
    (root / "notes" / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >>\n" + bytes(range(256)) * 8)
    return root
