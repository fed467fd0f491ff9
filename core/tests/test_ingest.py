"""Ingestion faults: bad files are reported and skipped, incremental runs, SIGKILL safety."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inhouse import Assistant
from inhouse.errors import IngestError
from support import write_config

pytestmark = pytest.mark.model


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "leave.md").write_text("---\ntitle: Leave\n---\n# Leave\n\n## Annual leave\nEveryone gets 26 days of annual leave.\n")
    (root / "vpn.txt").write_text("VPN\nConnect with the Tunnelbird client before opening internal tools.\n")
    return root


def make(tmp_path: Path, corpus: Path, extra: str = "") -> Assistant:
    return Assistant.from_config(write_config(tmp_path, corpus, extra), tmp_path / "home")


def test_bad_files_are_reported_and_nothing_is_lost(tmp_path: Path, corpus: Path) -> None:
    with make(tmp_path, corpus, "[ingest]\nmax_file_mb = 0.01\n") as a:
        assert a.ingest().added == 2
        (corpus / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage without xref")
        (corpus / "binary.md").write_bytes(bytes(range(256)) * 4)
        (corpus / "empty.md").write_bytes(b"")
        (corpus / "latin1.txt").write_bytes(
            "Caf\xe9 opening hours: 08:00 to 17:00, cr\xe8me br\xfbl\xe9e on Fridays.".encode("latin-1")
        )
        (corpus / "huge.txt").write_text("big " * 10_000)
        (corpus / "dangling.md").symlink_to(corpus / "gone.md")
        (corpus / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
        report = a.ingest()
        reasons = {f["path"]: f["reason"] for f in report.failed}
        assert set(reasons) == {"broken.pdf", "binary.md", "empty.md", "huge.txt", "dangling.md"}, reasons
        assert "PDF" in reasons["broken.pdf"] and "binary" in reasons["binary.md"] and "empty" in reasons["empty.md"]
        assert "max_file_mb" in reasons["huge.txt"] and "unreadable" in reasons["dangling.md"]
        assert [s["path"] for s in report.skipped] == ["photo.png"] and "unsupported" in report.skipped[0]["reason"]
        assert report.added == 1 and report.unchanged == 2
        hits = a.search("café opening hours", k=1)
        assert hits[0].chunk.source == "latin1.txt" and "Café" in hits[0].chunk.text
        assert a.search("Tunnelbird client", k=1)[0].chunk.source == "vpn.txt"


def test_changed_and_deleted_files(tmp_path: Path, corpus: Path) -> None:
    with make(tmp_path, corpus) as a:
        a.ingest()
        (corpus / "leave.md").write_text("# Leave\n\n## Annual leave\nEveryone gets 30 days of annual leave.\n")
        (corpus / "vpn.txt").unlink()
        report = a.ingest()
        assert (report.updated, report.removed, report.unchanged, report.added) == (1, 1, 0, 0)
        texts = [h.chunk.text for h in a.search("annual leave days", k=5)]
        assert any("30 days" in t for t in texts) and not any("26 days" in t for t in texts)
        assert all(h.chunk.source != "vpn.txt" for h in a.search("Tunnelbird", k=5))


def test_missing_root_removes_nothing(tmp_path: Path, corpus: Path) -> None:
    with make(tmp_path, corpus) as a:
        a.ingest()
        moved = corpus.rename(tmp_path / "elsewhere")
        with pytest.raises(IngestError, match="does not exist"):
            a.ingest()
        assert len(a.store.documents()) == 2
        moved.rename(corpus)


def test_progress_reports_every_file_once(tmp_path: Path, corpus: Path) -> None:
    (corpus / "photo.png").write_bytes(b"\x89PNG")
    seen: list[tuple[int, int, str]] = []
    with make(tmp_path, corpus) as a:
        a.ingest(on_progress=lambda done, total, path: seen.append((done, total, path)))
    assert [d for d, _, _ in seen] == [1, 2, 3] and {t for _, t, _ in seen} == {3}
    assert sorted(p for _, _, p in seen) == ["leave.md", "photo.png", "vpn.txt"]


def test_ingest_paths_directly(tmp_path: Path, corpus: Path) -> None:
    with make(tmp_path, corpus) as a:
        report = a.ingest([corpus / "vpn.txt"])
        assert report.added == 1 and a.search("Tunnelbird", k=1)[0].chunk.source == "vpn.txt"


def _committed(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute("SELECT count(*) FROM documents").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_sigkill_during_ingestion_loses_nothing_committed(tmp_path: Path) -> None:
    """Kill `inhouse ingest` at random moments; the store opens and every committed document is searchable."""
    root = tmp_path / "many"
    root.mkdir()
    for i in range(400):
        (root / f"note{i:03d}.md").write_text(
            f"# Note {i}\n\nThe unique codeword of this note is zq{i:03d}x. " + "filler words " * 60
        )
    config = write_config(tmp_path, root, "[ingest]\nbatch_size = 16\n")
    home = tmp_path / "home"
    db = home / "index" / "store.sqlite3"
    rng = random.Random(7)
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    kills = 0
    for _ in range(3):
        before = _committed(db)
        proc = subprocess.Popen(
            [sys.executable, "-m", "inhouse", "--config", str(config), "--home", str(home), "ingest", "--json"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        deadline = time.monotonic() + 120
        while _committed(db) <= before and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.5))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 2, "ingestion finished before it could be killed; use a larger corpus"
    with Assistant.from_config(config, home) as a:
        docs = a.store.documents()
        assert docs, "nothing was committed before the kills"
        for record in docs.values():
            number = record.source[4:7]
            hits = a.search(f"zq{number}x", k=1, mode="bm25")
            assert hits and hits[0].chunk.source == record.source
        report = a.ingest()
        assert report.unchanged == len(docs) and report.added == 400 - len(docs)
