"""A small SQLite file of the data folder, opened per call: safe from any thread and process."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path


@contextmanager
def transaction(path: Path, schema: str) -> Iterator[sqlite3.Connection]:
    """A connection to ``path`` (created with ``schema``, one or more statements, if new) inside one transaction:
    committed when the block ends, rolled back when it raises, closed either way."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(path, timeout=30)) as conn, conn:
        conn.executescript(schema)
        yield conn
