"""The filesystem connector, through the conformance kit and on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from inhouse.connectors.filesystem import FilesystemConnector
from inhouse.globs import matches
from inhouse.testing import ConnectorTests


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
    assert {s.acl for s in make(tree, acl=["hr"]).fetch()} == {("hr",)}


def test_unreadable_file_is_reported_not_raised(tree: Path) -> None:
    (tree / "dangling.md").symlink_to(tree / "missing-target.md")
    by_path = {s.path: s for s in make(tree).fetch()}
    assert by_path["dangling.md"].error.startswith("unreadable")


def test_single_file_root(tree: Path) -> None:
    sources = list(make(tree / "notes.md").fetch())
    assert [s.path for s in sources] == ["notes.md"] and sources[0].read() == b"notes"


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
