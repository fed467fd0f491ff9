"""``.inhouse-acl`` files, and what the connector refuses to read: links out of its folder,
devices, pipes and sockets (finding 8: they were followed, and hashing a FIFO hung)."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from inhouse.errors import IngestError
from inhouse_filesystem.connector import FilesystemConnector


def make(root: Path, **options) -> FilesystemConnector:
    return FilesystemConnector(FilesystemConnector.Config.model_validate({"path": str(root), **options}))


def by_path(connector: FilesystemConnector) -> dict:
    return {s.path: s for s in connector.fetch()}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    for folder in ("hr/pay", "hr/open", "it"):
        (root / folder).mkdir(parents=True)
    for rel in ("top.md", "hr/leave.md", "hr/pay/bands.md", "hr/open/holidays.md", "it/vpn.md"):
        (root / rel).write_text(f"# {rel}\ntext of {rel}\n")
    (root / "hr" / ".inhouse-acl").write_text('groups = ["hr"]\nlabel = "confidential"\n')
    (root / "hr" / "pay" / ".inhouse-acl").write_text('groups = ["payroll"]\nusers = ["cfo"]\nlabel = "restricted"\n')
    (root / "hr" / "open" / ".inhouse-acl").write_text("public = true\n")
    return root


def test_the_deepest_access_file_wins_each_setting(tree: Path) -> None:
    sources = by_path(make(tree))
    assert (sources["top.md"].acl, sources["top.md"].sensitivity) == (None, None)  # left to the rules
    assert (sources["hr/leave.md"].acl, sources["hr/leave.md"].sensitivity) == (("group:hr",), "confidential")
    assert (sources["hr/pay/bands.md"].acl, sources["hr/pay/bands.md"].sensitivity) == (
        ("group:payroll", "user:cfo"),
        "restricted",
    )
    # public = true overrides the parent's groups; the parent's label still applies
    assert (sources["hr/open/holidays.md"].acl, sources["hr/open/holidays.md"].sensitivity) == (("*",), "confidential")


def test_the_connectors_own_acl_and_label_win(tree: Path) -> None:
    sources = by_path(make(tree, acl=["staff"], label="internal"))
    assert {(s.acl, s.sensitivity) for s in sources.values()} == {(("group:staff",), "internal")}


def test_access_files_are_never_documents(tree: Path) -> None:
    connector = make(tree, include=["**/*", "**/.inhouse-acl"])
    assert not any(path.endswith(".inhouse-acl") for path in by_path(connector))
    with pytest.raises(IngestError):
        connector.open("hr/.inhouse-acl")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("groups = [hr", "invalid TOML"),
        ('group = ["hr"]', "unknown key group"),
        ('groups = "hr"', "groups must be a list of names"),
        ('users = ["user:bob"]', "users must be a list of names"),
        ('label = "secret"', "label must be one of"),
        ('public = "yes"', "public must be true or false"),
    ],
)
def test_a_malformed_access_file_fails_every_file_it_covers(tree: Path, text: str, reason: str) -> None:
    """Never silently public: each file below the broken one fails with a reason naming it;
    files elsewhere are unaffected."""
    (tree / "hr" / ".inhouse-acl").write_text(text)
    sources = by_path(make(tree))
    for rel in ("hr/leave.md", "hr/pay/bands.md", "hr/open/holidays.md"):
        assert "access file hr/.inhouse-acl" in sources[rel].error and reason in sources[rel].error, sources[rel].error
        assert sources[rel].hash == ""
    assert not sources["it/vpn.md"].error and not sources["top.md"].error


def test_an_access_file_that_is_a_link_out_or_a_fifo_is_an_error(tree: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere.toml").write_text("public = true\n")
    (tree / "it" / ".inhouse-acl").symlink_to(tmp_path / "elsewhere.toml")
    os.mkfifo(tree / "hr" / "pay" / ".inhouse-acl.fifo")
    (tree / "hr" / "pay" / ".inhouse-acl").unlink()
    (tree / "hr" / "pay" / ".inhouse-acl.fifo").rename(tree / "hr" / "pay" / ".inhouse-acl")
    sources = by_path(make(tree))
    assert "outside the folder" in sources["it/vpn.md"].error
    assert "not a regular file" in sources["hr/pay/bands.md"].error


def test_links_out_of_the_folder_are_refused_and_never_read(tree: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("outside secret")
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "keys.md").write_text("outside keys")
    (tree / "leak.md").symlink_to(tmp_path / "secret.txt")
    (tree / "leakdir").symlink_to(tmp_path / "private")
    (tree / "inside.md").symlink_to(tree / "it" / "vpn.md")  # a link within the folder is fine
    connector = make(tree)
    sources = by_path(connector)
    assert sources["leak.md"].error == sources["leakdir"].error == "a symbolic link pointing outside the folder: refused"
    assert sources["leak.md"].hash == "" and "leakdir/keys.md" not in sources
    assert sources["inside.md"].hash == sources["it/vpn.md"].hash and not sources["inside.md"].error
    for path in ("leak.md", "leakdir/keys.md"):
        with pytest.raises(IngestError):
            connector.open(path)


def _fetch_with_deadline(connector: FilesystemConnector, seconds: float = 10.0) -> dict:
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(by_path(connector)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "fetch hung on a device or a pipe"
    return result


def test_devices_pipes_and_sockets_are_never_opened(tree: Path, tmp_path: Path) -> None:
    """A FIFO (with no writer: opening or reading it would block forever), a link to
    /dev/zero (endless) and a socket: each is reported, and fetch and open return at once."""
    os.mkfifo(tree / "pipe.md")
    (tree / "zero.md").symlink_to("/dev/zero")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tree / "sock.md"))
    try:
        sources = _fetch_with_deadline(make(tree))
    finally:
        server.close()
    assert "not a regular file" in sources["pipe.md"].error
    assert sources["zero.md"].error  # /dev/zero is outside the folder, and a device
    assert sources["sock.md"].error
    assert not sources["it/vpn.md"].error
    connector = make(tree)
    for path in ("pipe.md", "zero.md"):
        with pytest.raises(IngestError):
            connector.open(path)


def test_a_single_file_root_takes_its_folders_access_file(tree: Path) -> None:
    source = next(make(tree / "hr" / "leave.md").fetch())
    assert (source.acl, source.sensitivity) == (("group:hr",), "confidential")
