"""Confluence through a real ``Assistant`` (MiniLM, the local store, ``[users]`` configured):
view restrictions decide who finds and opens a page, a re-sync with nothing changed only
lists, a new version re-reads one page, a tightened restriction applies without a download,
and what Confluence no longer has is removed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from confluence_server import EMAIL, TOKEN, Wiki, build_wiki, serve

from inhouse import Assistant
from inhouse.errors import AccessDenied

pytestmark = pytest.mark.model

TOKEN_VARIABLE = "INHOUSE_TEST_CONFLUENCE_TOKEN"
USERS = """
[users.ana]
groups = ["staff"]
[users.bob]
groups = ["staff", "hr"]
[users.cy]
groups = ["staff"]
"""


def write_config(folder: Path, base: str) -> Path:
    path = folder / "plugins.toml"
    path.write_text(
        f"""
[embedder]
use = "minilm"

[store]
use = "local"

[providers.extractive]
use = "extractive"

[routing]
default = ["extractive"]

[connectors.wiki]
use = "confluence"
base_url = "{base}"
email = "{EMAIL}"
token = {{ env = "{TOKEN_VARIABLE}" }}
spaces = ["ENG", "HR"]
page_size = 3
backoff_base = 0.05
acl = ["staff"]
user_map = {{ "acc-ana" = "ana" }}
group_map = {{ "payroll-team" = "payroll" }}
{USERS}
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Assistant, Wiki]]:
    wiki = build_wiki()
    folder = tmp_path_factory.mktemp("confluence")
    with pytest.MonkeyPatch.context() as patch, serve(wiki) as base:
        patch.setenv(TOKEN_VARIABLE, TOKEN)
        assistant = Assistant.from_config(write_config(folder, base), home=folder / "home")
        report = assistant.ingest()
        assert (report.added, report.failed) == (10, []), report
        yield assistant, wiki
        assistant.close()


def found(assistant: Assistant, query: str, user: str | None) -> list[str]:
    return [h.chunk.source.split("-", 1)[-1] for h in assistant.search(query, k=3, user=user, mode="bm25")]


def page(wiki: Wiki, title: str):
    return next(p for p in wiki.pages.values() if p.title == title)


def test_view_restrictions_decide_who_finds_and_opens_a_page(setup) -> None:
    assistant, _ = setup
    assert found(assistant, "Heliotrope", "bob") == ["salary-bands"]  # group hr
    assert found(assistant, "Heliotrope", "ana") == []
    assert found(assistant, "Marigold", "bob") == ["bands-2025"]  # inherited from its parent
    assert found(assistant, "Marigold", "cy") == []
    assert found(assistant, "Quillfeather", "ana") == ["ana-notes"]  # user restriction through user_map
    assert found(assistant, "Quillfeather", "bob") == []
    for user in ("ana", "bob", "cy"):
        assert found(assistant, "Obsidian", user) == []  # restricted to a stranger: nobody
        assert found(assistant, "Saffron", user) == []  # group payroll: none of them
    assert found(assistant, "Obsidian", None) == ["vault"]  # the trusted local caller
    assert found(assistant, "twenty-five days leave", "cy") == ["leave-policy"]  # unrestricted: the table's acl
    assert found(assistant, "Tamsin", "ana") == ["runbook-q1.txt"]  # an attachment
    hit = assistant.search("Heliotrope", k=1, user="bob", mode="bm25")[0]
    record, data = assistant.open_document(hit.chunk.doc_id, user="bob")
    assert record.source.endswith("-salary-bands") and b"Heliotrope" in data
    with pytest.raises(AccessDenied):
        assistant.open_document(hit.chunk.doc_id, user="ana")


def test_a_resync_with_nothing_changed_only_lists(setup) -> None:
    assistant, wiki = setup
    assistant.ingest()
    before, bodies = len(wiki.requests), wiki.bodies()
    report = assistant.ingest()
    assert (report.unchanged, report.added, report.updated, report.removed, report.chunks) == (10, 0, 0, 0, 0)
    assert wiki.bodies() == bodies  # not one page body or file downloaded
    # 1 space listing + 3 + 1 page listings + 9 restrictions + 9 attachment listings
    assert len(wiki.requests) - before == 23


def test_a_new_version_re_reads_that_page_only(setup) -> None:
    assistant, wiki = setup
    assistant.ingest()
    lunch = page(wiki, "Team lunch")
    lunch.body, lunch.version = "<p>The team lunch moved to Thursdays.</p>", lunch.version + 1
    bodies = wiki.bodies()
    report = assistant.ingest()
    assert (report.updated, report.unchanged) == (1, 9)
    assert wiki.bodies() == bodies + 1
    assert found(assistant, "Thursdays", "cy") == ["team-lunch"]


def test_a_tightened_restriction_applies_without_a_download(setup) -> None:
    assistant, wiki = setup
    assistant.ingest()
    page(wiki, "Leave policy").groups = ["hr"]  # Confluence: restrictions change, the version does not
    bodies = wiki.bodies()
    report = assistant.ingest()
    assert (report.updated, report.chunks) == (1, 0) and wiki.bodies() == bodies
    assert found(assistant, "twenty-five days leave", "cy") == []
    assert found(assistant, "twenty-five days leave", "bob") == ["leave-policy"]


def test_what_confluence_no_longer_has_is_removed(setup) -> None:
    assistant, wiki = setup
    assistant.ingest()
    page(wiki, "Ana notes").status = "trashed"
    page(wiki, "Deploy guide").attachments[0].status = "trashed"
    report = assistant.ingest()
    assert report.removed == 2
    assert found(assistant, "Quillfeather", None) == [] and found(assistant, "Tamsin", None) == []
