"""The built-in parsers, loaded through their entry points as the ingester does, pass the
public parser kit."""

from __future__ import annotations

import pytest

from inhouse import registry
from inhouse.testing import ParserTests

SAMPLES = {
    ".md": b"# Leave\n\n## Annual leave\n\nStaff get 25 days of annual leave.\n",
    ".txt": b"Office guide\nThe guest network is Lattice-Guest.\n",
    ".html": b"<html><head><title>Guide</title></head><body><h1>Wi-Fi</h1><p>Lattice-Guest.</p></body></html>",
}


@pytest.mark.parametrize("suffix", sorted(SAMPLES))
class TestBuiltinParsers(ParserTests):
    @pytest.fixture
    def parser(self, suffix: str):
        return registry.load_class("parsers", suffix)()

    @pytest.fixture
    def sample(self, suffix: str) -> tuple[bytes, str]:
        return SAMPLES[suffix], f"guides/office{suffix}"
