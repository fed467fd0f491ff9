"""A real OpenID provider for the sign-in tests and the benchmark: ``oidc-provider-mock`` (a
Flask app built on Authlib's authorization server) served on a loopback port in a thread, and
a client of it that goes through the authorization code flow as a browser would (the
provider's consent form, the code, the token endpoint) to get real signed ID tokens.

The provider's issuer is the address a client reaches it by (``http://127.0.0.1:PORT``);
asking it by ``localhost`` gives tokens of another issuer, signed with the same key.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import flask
import httpx
import oidc_provider_mock
import werkzeug.serving
from authlib.jose import RSAKey

from ui_support import api_assistant

FINANCE_ONLY = {"budget-2027.md": "# Budget 2027\n\nThe finance plan for 2027 caps travel at 40,000 euros.\n"}
#: The people of the provider: ana is in finance (its group as the provider names it), bob in
#: staff only, eve has an address outside the allowed domain.
PEOPLE = (
    oidc_provider_mock.User(sub="ana", claims={"email": "ana@example.com", "groups": ["Finance-Team", "staff"]}),
    oidc_provider_mock.User(sub="bob", claims={"email": "bob@example.com", "groups": ["staff"]}),
    oidc_provider_mock.User(sub="eve", claims={"email": "eve@elsewhere.test", "groups": ["Finance-Team"]}),
)
CLIENT_ID = "inhouse-tests"
CLIENT_SECRET = "s3cret-of-the-tests"


@dataclass
class IdentityProvider:
    """A running provider: its issuer and the Flask app behind it."""

    issuer: str
    app: flask.Flask

    def rotate_key(self) -> None:
        """Give the provider a new signing key: its JWKS serves only that key from now on, and new
        tokens are signed with it (the provider keeps its key in its storage, per app)."""
        with self.app.test_request_context("/"):
            self.app.preprocess_request()  # sets the provider's storage on flask.g
            flask.g.oidc_provider_mock_storage.jwk = RSAKey.generate_key(is_private=True)

    def ui_settings(self, **oidc: Any) -> dict[str, Any]:
        """A ``[ui]`` table signing in with this provider (``oidc`` overrides ``[ui.oidc]`` keys)."""
        table = {
            "issuer": self.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "group_map": {"Finance-Team": "finance"},
            "allowed_email_domains": ["example.com"],
            "jwks_refetch_s": 0,
            **oidc,
        }
        return {"oidc": table}

    def id_token(self, sub: str, client_id: str = CLIENT_ID, nonce: str | None = None, via: str | None = None) -> str:
        """A real ID token for ``sub``: the code flow with this provider, as ``client_id``
        (``via``: the provider's address to use, another issuer when it is not ``issuer``)."""
        base = via or self.issuer
        redirect = "http://127.0.0.1:9/callback"
        query = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect,
            "scope": "openid email profile",
            "state": secrets.token_urlsafe(8),
            "nonce": nonce or secrets.token_urlsafe(8),
        }
        with httpx.Client(base_url=base, timeout=10) as client:
            consent = client.post("/oauth2/authorize?" + urlencode(query), data={"sub": sub})
            assert consent.status_code == 302, consent.text
            [code] = parse_qs(urlparse(consent.headers["location"]).query)["code"]
            tokens = client.post(
                "/oauth2/token",
                data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect},
                auth=(client_id, CLIENT_SECRET),
            )
            assert tokens.status_code == 200, tokens.text
            return str(tokens.json()["id_token"])


@contextmanager
def identity_provider(people: Sequence[Any] = PEOPLE, token_s: float = 3600) -> Iterator[IdentityProvider]:
    """An OpenID provider on a free loopback port (tokens valid ``token_s`` seconds; nonces required)."""
    app = oidc_provider_mock.app(require_nonce=True, user_claims=people, access_token_max_age=timedelta(seconds=token_s))
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield IdentityProvider(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        thread.join(5)
        server.server_close()


def oidc_assistant(folder: Any, model_url: str) -> Any:
    """``ui_support.api_assistant`` plus ``FINANCE_ONLY``, which only the group ``finance`` may read."""
    assistant = api_assistant(folder, model_url)
    finance = folder / "finance"
    finance.mkdir()
    for name, text in FINANCE_ONLY.items():
        (finance / name).write_text(text, encoding="utf-8")
    report = assistant.ingest(finance, acl=["group:finance"])
    assert not report.failed and not report.skipped, report
    return assistant


@contextmanager
def oidc_served(folder: Any, **oidc: Any) -> Iterator[tuple[IdentityProvider, Any, Any, str]]:
    """A provider, an assistant (``oidc_assistant``) and its app signing in with the provider
    (``oidc`` overrides ``[ui.oidc]`` keys), served; yields them and the app's URL (``/`` ended)."""
    from inhouse.testing.emulators.openai_server import OpenAIServer
    from ui_support import served

    with OpenAIServer() as model, identity_provider() as provider:
        assistant = oidc_assistant(folder, model.base_url)
        try:
            with served(assistant, provider.ui_settings(**oidc)) as (app, api):
                yield provider, assistant, app, api.removesuffix("v1")
        finally:
            assistant.close()
