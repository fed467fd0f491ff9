"""The ``pgvector`` store, built through its entry point like any configured store, passes the
public store kit (``inhouse.testing.StoreTests``): search modes, ACLs inside the search (the
privacy properties included), filters, set_access, export, and the privacy duties every plugin
shares (connects only where its residency allows, writes no file outside its data folder)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from inhouse import registry
from inhouse.testing import StoreTests


class TestPgvectorStore(StoreTests):
    @pytest.fixture
    def store(self, pg_config: dict[str, Any], tmp_path: Path):
        store = registry.build("stores", pg_config, "store", home=tmp_path / "home", base_dir=tmp_path)
        assert store.residency == "local"  # the session's server is on 127.0.0.1: the kit checks the sockets
        yield store
        store.close()
