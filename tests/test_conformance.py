"""A third-party provider, packaged on its own (tests/plugins/inhouse-quote) and found through
its entry point, passes the same public conformance kit as the built-in ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from inhouse import registry
from inhouse.testing import ProviderTests


class TestThirdPartyQuote(ProviderTests):
    @pytest.fixture
    def provider(self, tmp_path: Path):
        return registry.build("providers", {"use": "quote"}, "providers.quote", home=tmp_path, base_dir=tmp_path)
