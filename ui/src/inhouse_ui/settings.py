"""The ``[ui]`` table: who may sign in, and what the page offers.

```toml
[ui]
title = "inhouse"                                   # the page's title
users = [{ name = "ana", password = { env = "ANA_PASSWORD" } }]   # sign-in with a password, or
trusted_header = "X-Forwarded-User"                 # the user a reverse proxy puts in this header
trusted_proxies = ["10.0.0.5", "10.1.0.0/16"]       # ... sent from these addresses only (default: loopback)
oidc = { issuer = "https://...", client_id = "inhouse" }   # or OpenID Connect sign-in ([ui.oidc], see inhouse_ui.oidc)
scim = { token = { env = "SCIM_TOKEN" } }             # SCIM 2.0 provisioning at /scim/v2 ([ui.scim], see inhouse_ui.scim)
session_hours = 12                                  # how long a password (or OpenID Connect) sign-in lasts
uploads = true                                      # offer "Add documents"
shared_writers = ["hr", "it"]                       # groups ([users.NAME] groups) that may add to the shared collection
allowed_link_origins = ["https://intranet.example.com"]  # answers may link there (and to this site)
concurrency = 8                                     # questions answered at the same time
upload_workers = 4                                  # collections ingesting at the same time
```

With none of ``users``, ``trusted_header`` and ``oidc`` each browser is its own anonymous visitor.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator

from inhouse.config import describe
from inhouse.errors import ConfigError
from inhouse.plugins import PluginConfig
from inhouse_ui.oidc import OIDCSettings
from inhouse_ui.scim import SCIMSettings

LOOPBACK = ("127.0.0.0/8", "::1")


class UIUser(PluginConfig):
    """One sign-in (write the password as ``{ env = "NAME" }``)."""

    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    password: SecretStr = Field(min_length=1)


class UISettings(PluginConfig):
    """The validated ``[ui]`` table; unknown keys are errors that name them."""

    title: str = "inhouse"
    users: list[UIUser] = Field(default_factory=list)
    trusted_header: str | None = None
    trusted_proxies: list[str] = Field(default_factory=lambda: list(LOOPBACK))
    oidc: OIDCSettings | None = None
    scim: SCIMSettings | None = None
    session_hours: float = Field(12.0, gt=0, le=24 * 90)
    uploads: bool = True
    shared_writers: list[str] = Field(default_factory=list)
    admins: list[str] = Field(default_factory=list)  # groups that may use the admin console (/admin) and read the audit log
    allowed_link_origins: list[str] = Field(default_factory=list)
    concurrency: int = Field(8, ge=1)
    upload_workers: int = Field(4, ge=1, le=64)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network (CIDR such as 10.0.0.0/8)") from None
        return value

    @field_validator("allowed_link_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for item in value:
            if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", item):
                raise ValueError(f"{item!r} is not an origin: write scheme and host, such as https://intranet.example.com")
        return [item.lower() for item in value]

    @model_validator(mode="after")
    def _one_way_to_sign_in(self) -> UISettings:
        names = [u.name for u in self.users]
        if len(set(names)) != len(names):
            raise ValueError("users: a user is listed twice")
        if self.users and self.trusted_header:
            raise ValueError("set either users (passwords) or trusted_header (a reverse proxy signs users in), not both")
        if self.oidc and (self.users or self.trusted_header):
            raise ValueError("set oidc (OpenID Connect sign-in) alone, without users or trusted_header")
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
        return {u.name: u.password.get_secret_value() for u in self.users}

    def proxies(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """The networks a trusted header is accepted from."""
        return [ipaddress.ip_network(item, strict=False) for item in self.trusted_proxies]
