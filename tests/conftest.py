"""Shared fixtures: a configuration on the sample corpus, an assistant that has ingested it,
and test-only AWS credentials for the tests that run real boto3 against the emulators; plus the
prompt that the emulators' grounded model answers, its answer, and ``texts``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from inhouse.plugins import Prompt

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "handbook"

#: A question with its context, as the assistant sends it: the emulators' grounded model answers
#: with the first sentence of passage [1], cited (``ANSWER``).
PROMPT = Prompt(
    system="Answer from the context.\n\nContext:\n"
    "[1] (Leave > Annual leave)\nStaff get 25 days of annual leave. Carry-over is 5 days.",
    messages=[{"role": "user", "content": "How many days of leave?"}],
    max_tokens=50,
    stop=["\n\n\n"],
)
ANSWER = "Staff get 25 days of annual leave. [1]"


def texts(items: Iterable[Any]) -> str:
    """The text a provider generated, its ``Usage`` and artifacts left out."""
    return "".join(item for item in items if isinstance(item, str))


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
