"""Conformance tests for ``inhouse.connectors`` plugins."""

from __future__ import annotations

import pytest

from inhouse.access import normalise
from inhouse.config import LABELS
from inhouse.errors import ConfigError, IngestError
from inhouse.plugins import Connector
from inhouse.testing.common import PluginContract


class ConnectorTests(PluginContract):
    """Subclass and provide a ``connector`` fixture that finds at least one item (build it with
    ``home=`` a fresh folder: the kit checks it writes nowhere else)."""

    @pytest.fixture
    def plugin(self, connector: Connector) -> Connector:
        """The connector under test, for the checks every plugin shares."""
        return connector

    def exercise(self, plugin: Connector) -> None:
        """A connector's work: fetch everything, then open each source it yielded."""
        for source in plugin.fetch():
            if not source.error:
                plugin.open(source.path)

    def test_yields_sources(self, connector: Connector) -> None:
        """``fetch()`` yields ``Source`` objects with an id, a relative path and a content hash.

        Fix: give every ``Source`` an ``id``, a ``path`` relative to the root (forward slashes,
        no leading ``/``) and a ``hash`` (a content digest, ETag or version), or set ``error``
        for an item you saw but could not read."""
        sources = list(connector.fetch())
        assert sources, "the connector found nothing"
        for s in sources:
            assert s.id and s.path and (s.hash or s.error)
            assert not s.path.startswith("/"), "paths are relative to the connector's root"

    def test_ids_are_stable_and_unique(self, connector: Connector) -> None:
        """Two fetches with nothing changed yield the same ids, paths, hashes and access, and no
        id twice: incremental ingestion matches on ids and skips unchanged hashes.

        Fix: derive ``id`` from what identifies the item at its source (root and path, a page or
        object id), never from a counter, the time or a random value; yield each item once."""
        first = [(s.id, s.path, s.hash, s.acl, s.sensitivity) for s in connector.fetch()]
        second = [(s.id, s.path, s.hash, s.acl, s.sensitivity) for s in connector.fetch()]
        assert first == second
        assert len({item[0] for item in first}) == len(first)

    def test_sources_carry_root_acl_and_label(self, connector: Connector) -> None:
        """Each source names the connector's root, says who may read it (principals) or leaves
        that to the configuration's rules (``acl=None``), and carries a known label or None.

        Fix: set ``root=str(self.root)`` on every ``Source``; map the source system's permissions
        to ``inhouse.access`` principals (``user:NAME``, ``group:NAME``, ``*``; an empty tuple
        means nobody) or set ``acl=None`` when it has none; ``sensitivity`` is one of
        ``inhouse.config.LABELS`` or None."""
        for s in connector.fetch():
            assert s.root == str(connector.root), f"{s.path}: root {s.root!r} is not str(connector.root)"
            assert s.acl is None or isinstance(s.acl, tuple), f"{s.path}: acl must be a tuple of principals or None"
            if s.acl:
                try:
                    assert normalise(s.acl) == s.acl, f"{s.path}: {s.acl} mixes plain names with principals"
                except ConfigError as exc:
                    raise AssertionError(f"{s.path}: {exc}") from None
            assert s.sensitivity is None or s.sensitivity in LABELS, f"{s.path}: unknown label {s.sensitivity!r}"

    def test_open_returns_the_bytes_of_what_fetch_yielded(self, connector: Connector) -> None:
        """``open(source.path)`` returns the original bytes of each source ``fetch`` yielded
        (ingestion reads them through it, and so does "open the original" on the page).

        Fix: make ``open`` accept exactly the ``path`` values ``fetch`` yields and return ``bytes``."""
        for source in connector.fetch():
            if not source.error:
                assert isinstance(connector.open(source.path), bytes)

    def test_open_refuses_paths_it_did_not_yield(self, connector: Connector) -> None:
        """``open`` raises ``IngestError`` for a path it never yielded, above all one that climbs
        out of its root: the path comes from storage, which an attacker may influence.

        Fix: check ``path`` against what ``fetch`` would yield (resolve it and require it to
        stay under the root) before reading, and raise ``IngestError`` otherwise."""
        for path in ("../../../../etc/passwd", "no/such/item-inhouse-conformance"):
            with pytest.raises(IngestError):
                connector.open(path)
