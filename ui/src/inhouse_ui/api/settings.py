"""The ``[api]`` table: the HTTP API that ``inhouse serve`` offers at ``/v1`` beside the page.

```toml
[api]
enabled = true              # serve /v1 (false: the page alone)
requests_per_minute = 600   # per API key (0: unlimited); a key's own figure (inhouse keys create --rate) wins
max_body_kb = 1024          # the largest JSON body a request may send
```

Who may call it comes from the API keys (``inhouse keys create --user NAME``): with none in force,
only clients on this machine are served, as the local user.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from inhouse.plugins import PluginConfig


class APISettings(PluginConfig):
    """The validated ``[api]`` table; unknown keys are errors that name them."""

    enabled: bool = True
    requests_per_minute: int = Field(600, ge=0, description="per API key; 0: unlimited")
    max_body_kb: int = Field(1024, ge=1, le=1024 * 1024, description="the largest JSON body, in KiB")

    @classmethod
    def from_config(cls, settings: Any) -> APISettings:
        """The ``[api]`` table of a loaded configuration (``inhouse.config.Settings``)."""
        return settings.table("api", cls)
