"""Ingestion engines (``inhouse.engines``): an engine changes where parsing and embedding run,
never what is indexed; an engine that is not installed is named with the package to install."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from inhouse import Assistant
from inhouse.engines import Engine, open_engine
from inhouse.errors import InhouseError
from support import write_config


class ProcessEngine(Engine):
    """Parses in another process (so the work must pickle, as on Ray) and embeds in batches of 3."""

    def __init__(self, embedder):
        super().__init__(embedder)
        self.pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        self.split_calls = 0
        self.embedded: list[int] = []

    def split(self, work: Callable, jobs: Iterable) -> Iterator:
        self.split_calls += 1
        return self.pool.map(work, jobs)

    def embed(self, texts: list[str]) -> np.ndarray:
        self.embedded.append(len(texts))
        return np.concatenate([super(ProcessEngine, self).embed(texts[i : i + 3]) for i in range(0, len(texts), 3)])

    def close(self) -> None:
        self.pool.shutdown()


def index_of(assistant: Assistant) -> dict[str, tuple[str, np.ndarray]]:
    """Chunk id -> (text, vector) of everything the assistant's store holds."""
    out = {}
    for _, chunks, vectors in assistant.store.export():
        out.update({c.id: (c.text, v) for c, v in zip(chunks, vectors, strict=True)})
    return out


@pytest.mark.model
def test_another_engine_gives_the_same_index_and_reports_bad_files(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "leave.md").write_text("# Leave\n\n## Annual leave\nEveryone gets 26 days of annual leave.\n\n" * 3)
    (corpus / "vpn.txt").write_text("VPN\nConnect with the Tunnelbird client before opening internal tools.\n")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4\ngarbage without xref")
    (corpus / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    reports, indexes = [], []
    for name in ("here", "elsewhere"):
        (tmp_path / name).mkdir()
        with Assistant.from_config(write_config(tmp_path / name, corpus), tmp_path / name / "home") as a:
            if name == "here":
                reports.append(a.ingest())
            else:
                with ProcessEngine(a.embedder) as engine:
                    reports.append(a.ingest(engine=engine))
                assert engine.split_calls == 1 and sum(engine.embedded) == a.store.count()
            indexes.append(index_of(a))
    here, elsewhere = reports
    assert (elsewhere.added, elsewhere.chunks) == (here.added, here.chunks) == (2, len(indexes[0]))
    assert [f["path"] for f in elsewhere.failed] == [f["path"] for f in here.failed] == ["broken.pdf"]
    assert [s["path"] for s in elsewhere.skipped] == ["photo.png"]
    assert indexes[0].keys() == indexes[1].keys()
    for chunk_id, (text, vector) in indexes[0].items():
        assert indexes[1][chunk_id][0] == text
        np.testing.assert_allclose(indexes[1][chunk_id][1], vector, atol=1e-5)


def test_an_engine_that_is_not_installed_names_what_to_install(tmp_path: Path) -> None:
    missing = r"the 'warp' ingestion engine is not installed: install a package .* inhouse.engines"
    config = write_config(tmp_path, tmp_path)
    with Assistant.from_config(config, tmp_path / "home") as a, pytest.raises(InhouseError, match=missing):
        open_engine("warp", None, a)
