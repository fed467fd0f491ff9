"""The built-in ``local`` store, built through its entry point, passes the public store kit."""

from __future__ import annotations

from pathlib import Path

import pytest

from inhouse import registry
from inhouse.testing import StoreTests


class TestLocalStore(StoreTests):
    @pytest.fixture
    def store(self, tmp_path: Path):
        store = registry.build("stores", {"use": "local"}, "store", home=tmp_path, base_dir=tmp_path)
        yield store
        store.close()
