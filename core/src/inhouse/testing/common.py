"""Checks every kind of plugin shares: the declared properties, the configuration, and the
privacy duties (connect only where the declared residency allows, write only inside the
plugin's data folder)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from pydantic import ValidationError

from inhouse.plugins import Plugin
from inhouse.testing.privacy import CHECKED_RESIDENCIES, Writes, connections

KNOWN_CAPABILITIES = {"text", "stream", "image", "embed", "parse"}
KNOWN_RESIDENCY = {"local", "in-account", "self-hosted", "external"}


class PluginContract:
    """Mixin: subclasses provide the ``plugin`` fixture and :meth:`exercise`, the plugin's
    ordinary work (generate, embed, fetch and open, upsert and search, parse)."""

    def exercise(self, plugin: Plugin) -> None:
        """Do the plugin's ordinary work once (each kind's kit class says what that is)."""
        raise NotImplementedError

    def test_declares_capabilities_and_residency(self, plugin: Plugin) -> None:
        """The router decides with ``capabilities`` and ``residency``.

        Fix: set the class attributes ``capabilities`` (a subset of text, stream, image, embed,
        parse) and ``residency`` (local, in-account, self-hosted or external); a plugin whose
        residency depends on its configuration sets ``self.residency`` in ``__init__``."""
        assert set(plugin.capabilities) <= KNOWN_CAPABILITIES
        assert plugin.residency in KNOWN_RESIDENCY

    def test_config_rejects_unknown_keys(self, plugin: Plugin) -> None:
        """A typo in plugins.toml must be an error that names the key.

        Fix: derive the nested ``Config`` from ``inhouse.plugins.PluginConfig`` (``extra="forbid"``)."""
        with pytest.raises(ValidationError):
            type(plugin).Config.model_validate({"surely_not_an_option": 1})

    def test_check_returns_status(self, plugin: Plugin) -> None:
        """``inhouse doctor`` shows what ``check()`` returns.

        Fix: return a short string from ``check()`` (or raise an ``InhouseError`` saying what to fix)."""
        assert isinstance(plugin.check(), str)

    def test_connects_only_where_its_residency_allows(self, plugin: Plugin) -> None:
        """A plugin declaring ``local`` opens no socket to anything but loopback while it works;
        one declaring ``self-hosted`` connects only to loopback or private addresses (the kit
        refuses other destinations, so nothing leaves the machine during the test).

        Fix: declare the residency that matches where the client really connects (a server on
        a public address is ``external``, a cloud endpoint ``in-account``), or set
        ``self.residency`` in ``__init__`` from the configured address and explain it in
        ``residency_note``; in tests, point the client at a loopback server (the wire
        emulators of ``inhouse.testing.emulators``)."""
        residency = plugin.residency
        if residency not in CHECKED_RESIDENCIES:
            pytest.skip(f"{residency} plugins may reach public addresses: nothing to check")
        with connections(residency) as seen:
            try:
                self.exercise(plugin)
            except Exception:
                if not seen.refused:
                    raise
        assert not seen.refused, f"a {residency} plugin tried to connect to {seen.refused} (all destinations: {seen.seen})"

    def test_writes_only_inside_its_data_folder(
        self, plugin: Plugin, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """While it works, the plugin creates or changes no file outside its data folder
        (``self.home``): not in the working directory, not in the temporary folder, not next
        to the test's files. The kit runs it with an empty working directory and temporary
        folder and compares them, and the test's ``tmp_path``, before and after.

        Fix: put caches, indexes and checkpoints under ``self.home`` (build the plugin with
        ``home=`` in your fixture); delete temporary files you create; never write next to
        the documents a connector reads."""
        cwd, temp = tmp_path_factory.mktemp("kit-cwd"), tmp_path_factory.mktemp("kit-tmp")
        monkeypatch.chdir(cwd)
        monkeypatch.setattr(tempfile, "tempdir", str(temp))
        monkeypatch.setenv("TMPDIR", str(temp))
        writes = Writes([tmp_path, cwd, temp], plugin.home)
        self.exercise(plugin)
        assert not writes.outside(), f"files written outside the data folder {plugin.home}: {writes.outside()}"
