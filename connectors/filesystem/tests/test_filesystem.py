"""The filesystem connector, through the conformance kit and on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from inhouse.access import matches
from inhouse.errors import IngestError
from inhouse.testing import ConnectorTests
from inhouse_filesystem.connector import FilesystemConnector


def make(tmp_path: Path, **options) -> FilesystemConnector:
    return FilesystemConnector(FilesystemConnector.Config.model_validate({"path": str(tmp_path), **options}))


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "hr").mkdir()
    (tmp_path / "hr" / "leave.md").write_text("# Leave\nTwenty days.")
    (tmp_path / "it").mkdir()
    (tmp_path / "it" / "vpn.txt").write_text("Use the VPN.")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref")
    (tmp_path / "notes.md").write_text("notes")
    return tmp_path


class TestFilesystemConformance(ConnectorTests):
    @pytest.fixture
    def connector(self, tree: Path) -> FilesystemConnector:
        return make(tree)


def test_walks_tree_sorted_and_skips_hidden(tree: Path) -> None:
    assert [s.path for s in make(tree).fetch()] == ["hr/leave.md", "it/vpn.txt", "notes.md"]


def test_include_and_exclude_globs(tree: Path) -> None:
    assert [s.path for s in make(tree, include=["*.md"]).fetch()] == ["hr/leave.md", "notes.md"]
    assert [s.path for s in make(tree, exclude=["hr/**"]).fetch()] == ["it/vpn.txt", "notes.md"]


def test_hash_follows_content(tree: Path) -> None:
    before = {s.path: s.hash for s in make(tree).fetch()}
    (tree / "notes.md").write_text("changed")
    after = {s.path: s.hash for s in make(tree).fetch()}
    assert before["notes.md"] != after["notes.md"] and before["hr/leave.md"] == after["hr/leave.md"]


def test_acl_is_attached(tree: Path) -> None:
    """A plain name in ``acl`` is a group; ``user:NAME`` and ``*`` stay as written; no ``acl``
    leaves the decision to ``.inhouse-acl`` files and the ingester's rules (None)."""
    assert {s.acl for s in make(tree, acl=["hr"]).fetch()} == {("group:hr",)}
    assert {s.acl for s in make(tree, acl=["user:ana", "*", "group:it"]).fetch()} == {("user:ana", "*", "group:it")}
    assert {(s.acl, s.sensitivity) for s in make(tree).fetch()} == {(None, None)}
    assert {s.sensitivity for s in make(tree, label="restricted").fetch()} == {"restricted"}


@pytest.mark.parametrize("bad", [["user:"], ["role:x"], [""]])
def test_a_malformed_acl_entry_is_a_configuration_error(tree: Path, bad: list[str]) -> None:
    with pytest.raises(ValueError, match="not a principal"):
        make(tree, acl=bad)


def test_unreadable_file_is_reported_not_raised(tree: Path) -> None:
    (tree / "dangling.md").symlink_to(tree / "missing-target.md")
    by_path = {s.path: s for s in make(tree).fetch()}
    assert by_path["dangling.md"].error.startswith("unreadable")


def test_single_file_root(tree: Path) -> None:
    connector = make(tree / "notes.md")
    sources = list(connector.fetch())
    assert [s.path for s in sources] == ["notes.md"] and connector.open("notes.md") == b"notes"
    with pytest.raises(IngestError):
        connector.open("hr/leave.md")


@pytest.mark.parametrize(
    "path",
    ["../outside.txt", "/etc/hostname", "hr/../../outside.txt", ".git/HEAD", "escape.md", "hr", "zero.md", ""],
)
def test_open_refuses_what_it_would_not_yield(tree: Path, path: str) -> None:
    """``open`` reads only files ``fetch`` would yield: nothing outside the root (``..``, an absolute
    path, a link pointing out), nothing the globs exclude, no folder, no device."""
    (tree.parent / "outside.txt").write_text("secret")
    (tree / "escape.md").symlink_to(tree.parent / "outside.txt")
    (tree / "zero.md").symlink_to("/dev/zero")
    with pytest.raises(IngestError):
        make(tree).open(path)
    assert make(tree).open("hr/leave.md") == b"# Leave\nTwenty days."


def test_open_honours_excluded_folders(tree: Path) -> None:
    (tree / "drafts").mkdir()
    (tree / "drafts" / "plan.md").write_text("draft")
    connector = make(tree, exclude=["drafts"])
    assert "drafts/plan.md" not in [s.path for s in connector.fetch()]
    with pytest.raises(IngestError):
        connector.open("drafts/plan.md")


def test_reopen_rebuilds_a_connector_from_an_absolute_root_only(tree: Path) -> None:
    reopened = FilesystemConnector.reopen(str(tree))
    assert reopened is not None and reopened.open("notes.md") == b"notes"
    assert FilesystemConnector.reopen("relative/folder") is None


@pytest.mark.parametrize(
    ("path", "patterns", "expected"),
    [
        ("a/b/c.md", ["*.md"], True),
        ("a/b/c.mdx", ["*.md"], False),
        ("hr/x/y.pdf", ["hr/**"], True),
        ("it/y.pdf", ["hr/**"], False),
        ("c.md", ["**/*.md"], True),
        ("a/b.md", ["a/?.md"], True),
    ],
)
def test_globs(path: str, patterns: list[str], expected: bool) -> None:
    assert matches(path, patterns) is expected
