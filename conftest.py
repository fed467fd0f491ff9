"""Fixtures every test folder shares: a private copy of the sample corpus, an assistant that has
ingested it, seeded random numbers, and test-only AWS credentials for the tests that run real
boto3 against the emulators (``inhouse.testing.emulators``). Helpers live in ``tests/support.py``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from support import EXAMPLES, write_config

# The test process's own settings: spinning OpenMP threads slow the models 20-40x on a busy
# 2-core machine, and no test may reach a model hub.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def corpus_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the sample corpus (tests may not change examples/)."""
    target = tmp_path_factory.mktemp("corpus") / "handbook"
    shutil.copytree(EXAMPLES, target)
    return target


@pytest.fixture(scope="session")
def assistant(tmp_path_factory: pytest.TempPathFactory):
    """An assistant with the real local plugins that has ingested examples/handbook once."""
    from inhouse import Assistant

    folder = tmp_path_factory.mktemp("assistant")
    config = write_config(folder, EXAMPLES)
    a = Assistant.from_config(config, home=folder / "home")
    report = a.ingest()
    assert not report.failed, report.failed
    yield a
    a.close()


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded random generator (the store tests draw unit vectors from it)."""
    return np.random.default_rng(42)


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Test credentials only (access key ``AKIDTESTING``): no session token or profile, no ~/.aws
    files and no instance metadata, so boto3 signs with these and nothing on the machine."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTING")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto's server (STS, SageMaker's control plane, ...) on a free loopback port."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
