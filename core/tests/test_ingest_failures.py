"""Kept failures: an unchanged item that failed after it was read is not opened again, yet
still reported failed; a changed one, a retryable failure and ``rebuild`` try it again."""

from __future__ import annotations

from pathlib import Path

import pytest

from inhouse import Assistant, registry
from inhouse.errors import IngestError
from inhouse.failures import FailureLog
from inhouse.plugins import Connector
from support import write_config

pytestmark = pytest.mark.model

NOTE = " (unchanged since it failed)"


def counting(root: Path, flaky: str = "") -> Connector:
    """The filesystem connector (through its entry point), recording each ``open``; ``flaky``
    fails with a retryable error."""
    base = registry.load_class("connectors", "filesystem")

    class Counting(base):  # type: ignore[misc, valid-type]
        opened: list[str]

        def open(self, path: str) -> bytes:
            self.opened.append(path)
            if path == flaky:
                raise IngestError("HTTP 503", retryable=True)
            return super().open(path)

    connector = Counting(Counting.Config(path=root), name="docs")
    connector.use, connector.opened = "filesystem", []
    return connector


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "leave.md").write_text("# Leave\n\n## Annual leave\nEveryone gets 26 days of annual leave.\n")
    (root / "vpn.txt").write_text("VPN\nConnect with the Tunnelbird client before opening internal tools.\n")
    (root / "front.md").write_text("---\ntitle: Only front matter\nlayout: page\n---\n")
    (root / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage without xref")
    (root / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    return root


def make(tmp_path: Path, corpus: Path) -> Assistant:
    return Assistant.from_config(write_config(tmp_path, corpus, "[ingest]\nopen_attempts = 1\n"), tmp_path / "home")


def reasons(items: list[dict[str, str]]) -> dict[str, str]:
    return {f["path"]: f["reason"] for f in items}


def test_unchanged_failures_are_not_opened_again(tmp_path: Path, corpus: Path) -> None:
    with make(tmp_path, corpus) as a:
        first = a.ingest(c := counting(corpus))
        assert sorted(c.opened) == ["broken.pdf", "front.md", "leave.md", "photo.png", "vpn.txt"]
        failed, skipped = reasons(first.failed), reasons(first.skipped)
        assert set(failed) == {"broken.pdf", "front.md"} and failed["front.md"] == "no text found"
        assert set(skipped) == {"photo.png"} and (first.added, first.failed_unchanged) == (2, 0)

        again = a.ingest(c := counting(corpus))
        assert c.opened == []  # nothing changed: nothing read
        assert reasons(again.failed) == {p: r + NOTE for p, r in failed.items()}
        assert reasons(again.skipped) == {p: r + NOTE for p, r in skipped.items()}
        assert (again.unchanged, again.failed_unchanged, again.added) == (2, 3, 0)

        (corpus / "front.md").write_text("---\ntitle: Now\n---\n# Parking\nThe garage opens at 07:00.\n")
        (corpus / "broken.pdf").write_bytes(b"%PDF-1.4\nstill not a PDF")
        changed = a.ingest(c := counting(corpus))
        assert sorted(c.opened) == ["broken.pdf", "front.md"]  # changed: tried again
        assert changed.added == 1 and list(reasons(changed.failed)) == ["broken.pdf"]
        assert not reasons(changed.failed)["broken.pdf"].endswith(NOTE)
        assert a.search("when does the garage open", k=1)[0].chunk.source == "front.md"

        (corpus / "broken.pdf").unlink()
        a.ingest(counting(corpus))
        kept = FailureLog(tmp_path / "home").load(str(corpus.resolve()))
        assert {f.path for f in kept.values()} == {"photo.png"}  # a file that is gone is forgotten

        rebuilt = a.ingest(c := counting(corpus), rebuild=True)
        assert sorted(c.opened) == ["front.md", "leave.md", "photo.png", "vpn.txt"]
        assert rebuilt.failed_unchanged == 0 and not reasons(rebuilt.skipped)["photo.png"].endswith(NOTE)


def test_failures_of_reading_are_always_tried_again(tmp_path: Path, corpus: Path) -> None:
    with make(tmp_path, corpus) as a:
        first = a.ingest(c := counting(corpus, flaky="leave.md"))
        assert reasons(first.failed)["leave.md"] == "HTTP 503"
        again = a.ingest(c := counting(corpus, flaky="leave.md"))
        assert c.opened == ["leave.md"] and reasons(again.failed)["leave.md"] == "HTTP 503"
        healed = a.ingest(c := counting(corpus))
        assert c.opened == ["leave.md"] and healed.added == 1 and healed.failed_unchanged == 3


def test_other_ingest_settings_try_kept_failures_again(tmp_path: Path, corpus: Path) -> None:
    with make(tmp_path, corpus) as a:
        a.ingest(counting(corpus))
    config = write_config(tmp_path, corpus, "[ingest]\nopen_attempts = 1\nparse_timeout_s = 30\n")
    with Assistant.from_config(config, tmp_path / "home") as a:
        report = a.ingest(c := counting(corpus))
        assert sorted(c.opened) == ["broken.pdf", "front.md", "photo.png"] and report.failed_unchanged == 0
