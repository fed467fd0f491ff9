"""The web connector through ``Assistant.ingest`` with the real MiniLM embedder and local
store: boilerplate gone from the index, facts found, originals opened, and re-syncs that
download and embed only what changed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from web_site import BOILERPLATE, Server

from inhouse import Assistant

pytestmark = pytest.mark.model


@pytest.fixture
def assistant(site: Server, tmp_path: Path) -> Iterator[Assistant]:
    config = tmp_path / "plugins.toml"
    config.write_text(
        f"""
[embedder]
use = "minilm"

[store]
use = "local"

[connectors.intranet]
use = "web"
url = "{site.url}/"
rate = 500
timeout_s = 2
max_page_mb = 0.1
exclude = ["slow"]
""",
        encoding="utf-8",
    )
    with Assistant.from_config(config, home=tmp_path / "home") as a:
        yield a


def test_pages_are_indexed_without_boilerplate_and_open_as_the_original(site: Server, assistant: Assistant) -> None:
    report = assistant.ingest()
    assert report.added == 8 and report.unchanged == 0
    assert {f["path"] for f in report.failed} == {"elsewhere", "loop-a", "missing", "broken", "huge", "huge-stream"}
    hit = assistant.search("how many days of paid annual leave", k=1)[0]
    assert hit.chunk.source == "guide/leave" and "27 days of paid annual leave" in hit.chunk.text
    # Every sentence of the boilerplate is on every page: the words search would find it if any chunk held it.
    for phrase in BOILERPLATE:
        assert not [h for h in assistant.search(phrase, k=20, mode="bm25") if phrase in h.chunk.text], phrase
    record, original = assistant.open_document(hit.chunk.doc_id)
    assert record.source == "guide/leave" and original.startswith(b"<!doctype html>") and b"We use cookies" in original


def test_a_resync_downloads_and_embeds_only_what_changed(site: Server, assistant: Assistant) -> None:
    assistant.ingest()
    since = len(site.site.log)
    report = assistant.ingest()
    assert (report.added, report.updated, report.removed, report.chunks, report.unchanged) == (0, 0, 0, 0, 8)
    assert [entry[1] for entry in site.site.log[since:] if entry[2] == 200] == ["/huge", "/huge-stream"]  # retried, cut again

    site.site.texts["/guide/leave"] = ("Leave policy", "Employees now get 31 days of paid annual leave per year.")
    site.site.extra["/"].remove("/guide/security")
    since = len(site.site.log)
    report = assistant.ingest()
    assert (report.added, report.updated, report.removed, report.unchanged) == (0, 2, 1, 5)  # the home page lost its link
    # Downloaded once by the crawl (then a 304 through /old-leave's redirect): open() reuses the body.
    assert [status for _, path, status, _, _ in site.site.log[since:] if path == "/guide/leave"] == [200, 304]
    assert "31 days" in assistant.search("paid annual leave days", k=1)[0].chunk.text
    assert not assistant.search("full-disk encryption laptops", k=5, filters={"source": "guide/security"})
