"""Conformance tests for ``inhouse.connectors`` plugins."""

from __future__ import annotations

import pytest

from inhouse.errors import IngestError
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

    def test_open_returns_the_bytes_of_what_fetch_yielded(self, connector: Connector) -> None:
        """``open(source.path)`` returns the original bytes of each source ``fetch`` yielded
        (ingestion reads them through it, and so does "open the original" on the page)."""
        for source in connector.fetch():
            if not source.error:
                assert isinstance(connector.open(source.path), bytes)

    def test_open_refuses_paths_it_did_not_yield(self, connector: Connector) -> None:
        """``open`` must raise ``IngestError`` for a path it never yielded, above all one that
        climbs out of its root: the path comes from storage, which an attacker may influence."""
        for path in ("../../../../etc/passwd", "no/such/item-inhouse-conformance"):
            with pytest.raises(IngestError):
                connector.open(path)
