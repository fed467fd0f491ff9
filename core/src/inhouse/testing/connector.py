"""Conformance tests for ``inhouse.connectors`` plugins."""

from __future__ import annotations

import pytest

from inhouse.plugins import Connector
from inhouse.testing.common import PluginContract


class ConnectorTests(PluginContract):
    """Subclass and provide a ``connector`` fixture that finds at least one item."""

    @pytest.fixture
    def plugin(self, connector: Connector) -> Connector:
        return connector

    def test_yields_sources(self, connector: Connector) -> None:
        """``fetch()`` yields ``Source`` objects with an id, a relative path and a content hash."""
        sources = list(connector.fetch())
        assert sources, "the connector found nothing"
        for s in sources:
            assert s.id and s.path and (s.hash or s.error)
            assert not s.path.startswith("/"), "paths are relative to the connector's root"

    def test_ids_are_stable_and_unique(self, connector: Connector) -> None:
        """Ids must not change between runs (incremental ingestion matches on them) and never repeat."""
        first = [(s.id, s.hash) for s in connector.fetch()]
        second = [(s.id, s.hash) for s in connector.fetch()]
        assert first == second
        assert len({i for i, _ in first}) == len(first)

    def test_read_returns_bytes(self, connector: Connector) -> None:
        """``Source.read()`` returns the raw content."""
        source = next(s for s in connector.fetch() if not s.error)
        assert isinstance(source.read(), bytes)
