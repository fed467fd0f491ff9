"""Reading only regular files: never a device, a pipe or a socket (reading ``/dev/zero`` or a
FIFO would never end), and never through a symbolic link that leaves the connector's folder."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import BinaryIO

from inhouse.errors import IngestError

OUTSIDE = "a symbolic link pointing outside the folder: refused"
NOT_REGULAR = "not a regular file (a device, pipe or socket): refused"


def inside(full: Path, root: Path) -> Path:
    """The real path behind ``full`` when it stays under ``root`` (itself resolved); raises
    ``IngestError`` for a link out of it and ``OSError`` for a dangling one."""
    real = full.resolve(strict=True)
    if not real.is_relative_to(root):
        raise IngestError(OUTSIDE)
    return real


def open_regular(path: Path) -> tuple[BinaryIO, os.stat_result]:
    """``path`` opened for reading with its status, when it is a regular file. The check is
    made on the open descriptor (opened without blocking, so a FIFO cannot stall the open),
    so nothing can swap the file for a device between the check and the read."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise IngestError(NOT_REGULAR)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), status
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: Path, limit: int | None = None) -> bytes:
    """The bytes of regular file ``path`` (``IngestError`` past ``limit`` bytes, when given)."""
    fh, _ = open_regular(path)
    with fh:
        data = fh.read() if limit is None else fh.read(limit + 1)
    if limit is not None and len(data) > limit:
        raise IngestError(f"{path.name} is over {limit} bytes")
    return data


def hash_regular(path: Path) -> tuple[str, os.stat_result]:
    """SHA-256 of regular file ``path`` (read in 1 MiB blocks) and its status."""
    fh, status = open_regular(path)
    digest = hashlib.sha256()
    with fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest(), status
