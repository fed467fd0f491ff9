"""Helpers the ``tgi`` and ``openai-compatible`` provider tests share (test_selfhosted_*.py)."""

from __future__ import annotations

from pathlib import Path

from inhouse import registry
from inhouse.types import Usage


def build(use: str, **options):
    """The provider plugin ``use`` built from ``options`` as its table in plugins.toml, with a fast backoff."""
    home = Path("/tmp")
    spec = {"use": use, "backoff_base": 0.001, **options}
    return registry.build("providers", spec, f"providers.{use}", home=home, base_dir=home)


def usage_of(items) -> Usage:
    """The one ``Usage`` of a generation, checked to come last."""
    usages = [i for i in items if isinstance(i, Usage)]
    assert len(usages) == 1 and isinstance(items[-1], Usage)
    return usages[0]
