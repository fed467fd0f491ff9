"""The tokens the embedder actors send count as the assistant's own: an ingest on Ray of
Bedrock's Titan embedder (against inhouse.testing's emulator on loopback) leaves the embedder's
``usage`` and the usage ledger with the totals a single-process ingest leaves; an embedder's
error in an actor reaches the caller as the same ``ProviderError``."""

from __future__ import annotations

from pathlib import Path

import pytest
from ray_support import assert_same_index, index, report_dict

from inhouse import Assistant
from inhouse.engines import open_engine
from inhouse.errors import ProviderError
from inhouse.testing.emulators.bedrock import BedrockEmulator


@pytest.fixture(scope="module")
def emulator():
    """Bedrock Runtime on loopback."""
    with BedrockEmulator() as emu:
        yield emu


@pytest.fixture
def config(tmp_path: Path, emulator: BedrockEmulator) -> Path:
    """Titan embeddings (256 dimensions) of a few notes; two actors, two texts per call."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(6):
        body = " ".join(f"Rule {i}.{j}: badge {j} opens door {i * j} of building {i}." for j in range(40))
        (docs / f"note-{i}.md").write_text(f"# Note {i}\n\n{body}\n")
    aws = f'region = "us-east-1"\nendpoint_url = "{emulator.endpoint_url}"\nbackoff_base = 0.001'
    path = tmp_path / "plugins.toml"
    path.write_text(
        f'[embedder]\nuse = "bedrock-embed"\ndimensions = 256\n{aws}\n[store]\nuse = "local"\n'
        f'[connectors.docs]\nuse = "filesystem"\npath = "{docs}"\n'
        "[ray]\nworkers = 2\ncpus_per_worker = 0.5\nbatch_size = 2\n"
    )
    return path


def _embedding_tokens(assistant: Assistant) -> int:
    return sum(row["input_tokens"] for row in assistant.ledger.calls(limit=10_000) if row["kind"] == "embed")


def test_ray_ingest_counts_the_tokens_the_actors_sent(
    config: Path, tmp_path: Path, ray_address: str, emulator: BedrockEmulator, aws_credentials: None
) -> None:
    with Assistant.from_config(config, home=tmp_path / "single") as single:
        expected_report = report_dict(single.ingest())
        expected_tokens = single.embedder.usage.input_tokens
        expected = index(single)
        assert expected_tokens > 0 and _embedding_tokens(single) == expected_tokens
    calls = len(emulator.requests)
    with Assistant.from_config(config, home=tmp_path / "ray") as assistant:
        with open_engine("ray", None, assistant) as engine:
            report = assistant.ingest(engine=engine)
        assert len(emulator.requests) == 2 * calls  # every text was embedded once, by the actors
        assert report_dict(report) == expected_report
        assert assistant.embedder.usage.input_tokens == expected_tokens
        assert _embedding_tokens(assistant) == expected_tokens
        assert_same_index(expected, index(assistant))


def test_an_embedder_error_in_an_actor_reaches_the_caller_as_itself(
    config: Path, tmp_path: Path, ray_address: str, emulator: BedrockEmulator, aws_credentials: None
) -> None:
    with Assistant.from_config(config, home=tmp_path / "single") as single, pytest.raises(ProviderError) as expected:
        emulator.script(["access-denied"])  # the next embedding request is refused
        single.ingest()
    with Assistant.from_config(config, home=tmp_path / "ray") as assistant, open_engine("ray", None, assistant) as engine:
        emulator.script(["access-denied"])
        with pytest.raises(ProviderError) as caught:
            assistant.ingest(engine=engine)
    assert expected.value.code == caught.value.code == "access-denied"
    assert str(caught.value) == str(expected.value)
