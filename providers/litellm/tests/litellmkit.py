"""Helpers the litellm provider tests share (test_litellm_*.py)."""

from __future__ import annotations

from pathlib import Path

from inhouse import registry


def build(model: str, home: Path, **options):
    """A ``litellm`` provider profile for ``model`` built from ``options`` as its table in plugins.toml,
    with a fast backoff, through the entry point (as the configuration builds it)."""
    spec = {"use": "litellm", "model": model, "backoff_base": 0.001, **options}
    return registry.build("providers", spec, "providers.litellm", home=home, base_dir=home)
