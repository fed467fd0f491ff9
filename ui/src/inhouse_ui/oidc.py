"""OpenID Connect: the ``[ui.oidc]`` settings, and ``Provider``, which reads the identity
provider's discovery document, keeps its signing keys (JWKS) and validates its tokens.

```toml
[ui.oidc]
issuer = "https://login.example.com/realms/staff"   # discovery: <issuer>/.well-known/openid-configuration
client_id = "inhouse"
client_secret = { env = "INHOUSE_OIDC_SECRET" }
scopes = ["openid", "email", "profile"]
user_claim = "email"                                 # the claim that names the user
groups_claim = "groups"                              # the claim that lists their groups
group_map = { "Finance-Team" = "finance" }           # provider group -> inhouse group (others kept as named)
allowed_email_domains = ["example.com"]              # only these may sign in (empty: anyone the provider signs in)
audience = "api://inhouse"                           # the API's bearer tokens' ``aud`` (default: client_id)
```

Tokens are checked for signature (the provider's JWKS, fetched once and cached; a token the
cached keys do not verify, such as one naming an unknown ``kid``, refetches the JWKS once, at
most every ``jwks_refetch_s``: key rotation),
issuer, audience, expiry (``leeway_s`` of clock skew) and, for ID tokens, the sign-in's
``nonce``. Only asymmetric algorithms are accepted (never ``none`` or ``HS*``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from pydantic import Field, SecretStr, field_validator

from inhouse.plugins import PluginConfig

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
_LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")


class TokenError(Exception):
    """A token that does not sign anyone in; the message says why (safe to show)."""


class OIDCSettings(PluginConfig):
    """The validated ``[ui.oidc]`` table (see the module's docstring); unknown keys are errors."""

    issuer: str
    client_id: str = Field(min_length=1)
    client_secret: SecretStr | None = None
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"])
    user_claim: str = "email"
    groups_claim: str = "groups"
    group_map: dict[str, str] = Field(default_factory=dict)
    allowed_email_domains: list[str] = Field(default_factory=list)
    audience: str | None = None
    redirect_uri: str | None = None  # default: <this site>/oidc/callback, as the browser reached it
    leeway_s: int = Field(60, ge=0, le=600)
    jwks_refetch_s: float = Field(60.0, ge=0)
    timeout_s: float = Field(10.0, gt=0, le=120)

    @field_validator("issuer")
    @classmethod
    def _issuer(cls, value: str) -> str:
        url = urlparse(value)
        if url.scheme != "https" and not (url.scheme == "http" and url.hostname in _LOOPBACK_HOSTS):
            raise ValueError(f"{value!r} is not an https URL (plain http only for a provider on this machine)")
        if not url.hostname:
            raise ValueError(f"{value!r} names no host")
        return value.rstrip("/")

    @field_validator("scopes")
    @classmethod
    def _openid(cls, value: list[str]) -> list[str]:
        if "openid" not in value:
            raise ValueError("must include 'openid'")
        return value

    @field_validator("allowed_email_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        for item in value:
            if "@" in item or not item.strip() or " " in item:
                raise ValueError(f"{item!r} is not a domain: write it as example.com")
        return [item.lower().lstrip(".") for item in value]

    def api_audience(self) -> str:
        """The ``aud`` an API bearer token must carry."""
        return self.audience or self.client_id


@dataclass(frozen=True)
class Identity:
    """Who a token signs in: the user name (``user_claim``) and their inhouse groups."""

    user: str
    groups: tuple[str, ...]


class Provider:
    """One identity provider: its endpoints (from discovery, fetched on first use) and its
    keys, cached; ``verify`` checks a token and ``identity`` maps its claims to a user."""

    def __init__(self, settings: OIDCSettings, clock: Any = time.time):
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self.jwks_fetches = 0

    def _get(self, url: str) -> dict[str, Any]:
        try:
            response = httpx.get(url, timeout=self.settings.timeout_s, follow_redirects=False)
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise TokenError(f"the identity provider did not answer {url} ({type(exc).__name__}: {exc})") from None
        if not isinstance(data, dict):
            raise TokenError(f"the identity provider's {url} is not a JSON object")
        return data

    def metadata(self) -> dict[str, Any]:
        """The discovery document (``<issuer>/.well-known/openid-configuration``), fetched once;
        its ``issuer`` must be the configured one."""
        with self._lock:
            if self._metadata is None:
                data = self._get(self.settings.issuer + "/.well-known/openid-configuration")
                if str(data.get("issuer", "")).rstrip("/") != self.settings.issuer:
                    raise TokenError(f"the discovery document names issuer {data.get('issuer')!r}, not {self.settings.issuer!r}")
                for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                    if not isinstance(data.get(name), str):
                        raise TokenError(f"the discovery document has no {name}")
                self._metadata = data
            return self._metadata

    def _key_set(self, refetch: bool) -> tuple[KeySet, bool]:
        """The provider's keys and whether they were fetched just now: on first use, and with
        ``refetch`` when the last fetch is ``jwks_refetch_s`` old (key rotation)."""
        uri = self.metadata()["jwks_uri"]
        with self._lock:
            due = refetch and self._clock() - self._fetched_at >= self.settings.jwks_refetch_s
            if self._keys is not None and not due:
                return self._keys, False
            data = self._get(uri)
            try:
                self._keys = KeySet.import_key_set(data)  # type: ignore[arg-type]
            except (JoseError, ValueError, TypeError, KeyError) as exc:
                raise TokenError(f"the identity provider's JWKS cannot be read ({exc})") from None
            self._fetched_at = self._clock()
            self.jwks_fetches += 1
            return self._keys, True

    @staticmethod
    def _signed(token: str, kid: str | None, keys: KeySet) -> dict[str, Any] | None:
        """The claims of ``token`` when one of ``keys`` (the one its ``kid`` names) verifies it."""
        for key in keys.keys:
            if kid is None or key.kid == kid:
                try:
                    return dict(jwt.decode(token, key, algorithms=ALGORITHMS).claims)
                except (JoseError, ValueError):
                    continue
        return None

    def verify(self, token: str, audience: str, nonce: str | None = None) -> dict[str, Any]:
        """The claims of ``token`` once its signature, issuer, ``audience``, expiry and (given)
        ``nonce`` are checked; raises ``TokenError`` saying which check failed. A signature the
        cached keys do not verify (an unknown ``kid``: the provider rotated its keys) is tried
        once more with the JWKS fetched again."""
        try:
            header = jws.extract_compact(token.encode("ascii")).protected
        except (JoseError, ValueError, UnicodeError) as exc:
            raise TokenError(f"the token is not a JWT ({type(exc).__name__})") from None
        if header.get("alg") not in ALGORITHMS:
            raise TokenError(f"the token's algorithm {header.get('alg')!r} is not accepted")
        kid = header.get("kid")
        keys, fetched = self._key_set(refetch=False)
        claims = self._signed(token, kid, keys)
        if claims is None and not fetched:
            keys, fetched = self._key_set(refetch=True)
            claims = self._signed(token, kid, keys) if fetched else None
        if claims is None:
            raise TokenError("the token's signature does not verify with the identity provider's keys")
        now, leeway = self._clock(), self.settings.leeway_s
        if claims.get("iss") != self.settings.issuer:
            raise TokenError(f"the token's issuer {claims.get('iss')!r} is not {self.settings.issuer!r}")
        aud = claims.get("aud")
        if audience not in (aud if isinstance(aud, list) else [aud]):
            raise TokenError(f"the token is not for this audience ({aud!r})")
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or exp <= now - leeway:
            raise TokenError("the token has expired")
        nbf = claims.get("nbf")
        if isinstance(nbf, int | float) and nbf > now + leeway:
            raise TokenError("the token is not valid yet")
        if isinstance(aud, list) and len(aud) > 1 and claims.get("azp") != audience:
            raise TokenError("the token names several audiences but was not issued to this one (azp)")
        if nonce is not None and claims.get("nonce") != nonce:
            raise TokenError("the sign-in's nonce does not match (a replayed or foreign ID token)")
        return claims

    def identity(self, claims: dict[str, Any]) -> Identity:
        """The user and groups of verified ``claims``: ``user_claim`` names the user, the email's
        domain must be allowed, ``groups_claim`` lists groups (mapped by ``group_map``)."""
        cfg = self.settings
        user = claims.get(cfg.user_claim)
        if not isinstance(user, str) or not user.strip() or len(user) > 200 or not user.isprintable():
            raise TokenError(f"the token has no usable {cfg.user_claim!r} claim ([ui.oidc] user_claim)")
        if cfg.allowed_email_domains:
            email = claims.get("email")
            domain = email.rpartition("@")[2].lower() if isinstance(email, str) and "@" in email else None
            if domain not in cfg.allowed_email_domains or claims.get("email_verified") is False:
                raise TokenError(f"{email!r} is not an address of an allowed domain ([ui.oidc] allowed_email_domains)")
        raw = claims.get(cfg.groups_claim) or []
        raw = [raw] if isinstance(raw, str) else raw
        if not isinstance(raw, list):
            raise TokenError(f"the token's {cfg.groups_claim!r} claim is not a list ([ui.oidc] groups_claim)")
        groups = [cfg.group_map.get(g, g) for g in raw if isinstance(g, str) and g.strip()]
        return Identity(user.strip(), tuple(dict.fromkeys(groups)))
