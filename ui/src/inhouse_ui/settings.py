"""The ``[ui]`` table: who may sign in, and what the page offers.

```toml
[ui]
title = "inhouse"                                   # the page's title
users = [{ name = "ana", password = { env = "ANA_PASSWORD" } }]   # sign-in with a password, or
trusted_header = "X-Forwarded-User"                 # the user a reverse proxy puts in this header
session_hours = 12                                  # how long a password sign-in lasts
uploads = true                                      # offer "Add documents"
shared_uploaders = ["ana"]                          # who may add to the shared collection (omitted: everyone)
concurrency = 8                                     # questions answered at the same time
```

With neither ``users`` nor ``trusted_header`` the page has one anonymous user.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError, model_validator

from inhouse.config import describe
from inhouse.errors import ConfigError
from inhouse.plugins import PluginConfig


class UIUser(PluginConfig):
    """One sign-in (write the password as ``{ env = "NAME" }``)."""

    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    password: str = Field(min_length=1)


class UISettings(PluginConfig):
    """The validated ``[ui]`` table; unknown keys are errors that name them."""

    title: str = "inhouse"
    users: list[UIUser] = Field(default_factory=list)
    trusted_header: str | None = None
    session_hours: float = Field(12.0, gt=0, le=24 * 90)
    uploads: bool = True
    shared_uploaders: list[str] | None = None
    concurrency: int = Field(8, ge=1)

    @model_validator(mode="after")
    def _one_way_to_sign_in(self) -> UISettings:
        names = [u.name for u in self.users]
        if len(set(names)) != len(names):
            raise ValueError("users: a user is listed twice")
        if self.users and self.trusted_header:
            raise ValueError("set either users (passwords) or trusted_header (a reverse proxy signs users in), not both")
        return self

    @classmethod
    def from_mapping(cls, data: Any) -> UISettings:
        """From the configuration's ``[ui]`` table (a dict; None or ``UISettings`` pass through)."""
        if isinstance(data, UISettings):
            return data
        try:
            return cls.model_validate(data or {})
        except ValidationError as exc:
            raise ConfigError(describe(exc, "ui", "configuration", cls)) from None

    @classmethod
    def from_config(cls, settings: Any) -> UISettings:
        """The ``[ui]`` table of a loaded configuration (``inhouse.config.Settings``)."""
        return settings.table("ui", cls)

    def passwords(self) -> dict[str, str]:
        """Each user's password, by name."""
        return {u.name: u.password for u in self.users}

    def may_share(self, user: str) -> bool:
        """Whether ``user`` may add documents to the shared collection."""
        return self.shared_uploaders is None or user in self.shared_uploaders
