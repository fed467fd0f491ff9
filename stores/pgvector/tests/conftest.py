"""A real PostgreSQL with pgvector for the whole session (``inhouse_pgvector.testing``), and a
fresh schema for each test, so tests never see each other's tables."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from inhouse_pgvector.store import PgvectorStore
from inhouse_pgvector.testing import postgres_server


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """The DSN of the session's PostgreSQL superuser (127.0.0.1, a free port)."""
    with postgres_server() as dsn:
        yield dsn


@pytest.fixture
def pg_config(postgres: str) -> dict[str, Any]:
    """A ``[store]`` table for a new, empty index: the session's server, a schema of its own."""
    return {"use": "pgvector", "dsn": postgres, "db_schema": f"test_{uuid.uuid4().hex[:12]}"}


@pytest.fixture
def open_store(pg_config: dict[str, Any], tmp_path: Path) -> Iterator[Any]:
    """Build stores on this test's schema (``open_store(**overrides)``); all closed at the end."""
    built: list[PgvectorStore] = []

    def build(**overrides: Any) -> PgvectorStore:
        settings = {k: v for k, v in {**pg_config, **overrides}.items() if k != "use"}
        store = PgvectorStore(PgvectorStore.Config.model_validate(settings), name="store", home=tmp_path / "home")
        built.append(store)
        return store

    yield build
    for store in built:
        store.close()
