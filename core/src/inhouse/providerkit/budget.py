"""The keys with which a provider profile sizes the context its model receives."""

from __future__ import annotations

from pydantic import Field

from inhouse.plugins import PluginConfig


class BudgetSettings(PluginConfig):
    """``context_window``: tokens the model takes, prompt and reply together; ``context_tokens``:
    tokens of passages to give it (more context: more facts within reach, slower and dearer
    answers). Unset, the plugin's own defaults apply (``Provider.context_window`` and
    ``Provider.preferred_context``)."""

    context_window: int | None = Field(None, ge=256, description="tokens the model takes, prompt and reply")
    context_tokens: int | None = Field(None, ge=64, description="tokens of passages the model receives")
