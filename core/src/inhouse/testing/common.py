"""Checks every kind of plugin shares."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from inhouse.plugins import Plugin

KNOWN_CAPABILITIES = {"text", "stream", "image", "embed", "parse"}
KNOWN_RESIDENCY = {"local", "in-account", "self-hosted", "external"}


class PluginContract:
    """Mixin: subclasses provide the ``plugin`` fixture."""

    def test_declares_capabilities_and_residency(self, plugin: Plugin) -> None:
        """Set the class attributes ``capabilities`` (a subset of text, stream, image, embed, parse)
        and ``residency`` (local, in-account, self-hosted or external): the router uses both."""
        assert set(plugin.capabilities) <= KNOWN_CAPABILITIES
        assert plugin.residency in KNOWN_RESIDENCY

    def test_config_rejects_unknown_keys(self, plugin: Plugin) -> None:
        """Derive the nested ``Config`` from ``inhouse.plugins.PluginConfig`` (``extra="forbid"``)
        so a typo in plugins.toml is an error that names the key."""
        with pytest.raises(ValidationError):
            type(plugin).Config.model_validate({"surely_not_an_option": 1})

    def test_check_returns_status(self, plugin: Plugin) -> None:
        """``check()`` must return a short string (or raise an InhouseError saying what to fix)."""
        assert isinstance(plugin.check(), str)
