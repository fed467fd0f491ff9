"""Shared fixtures: a configuration on the sample corpus and an assistant that has ingested it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "handbook"


def write_config(folder: Path, corpus: Path, extra: str = "", providers: str = "") -> Path:
    """A plugins.toml on ``corpus`` with the offline defaults plus ``extra`` tables."""
    providers = providers or '[providers.local]\nuse = "local"\n\n[routing]\ndefault = ["local"]\n'
    path = folder / "plugins.toml"
    path.write_text(
        f"""
[embedder]
use = "minilm"

[store]
use = "local"

[connectors.docs]
use = "filesystem"
path = "{corpus}"

{providers}
{extra}
""",
        encoding="utf-8",
    )
    return path


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
