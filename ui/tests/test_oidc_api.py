"""OpenID Connect bearer tokens on the HTTP API, with real tokens from a real provider on
loopback (``oidc_support``): a token signs its user in and their group claim decides what they
may read, tokens of another audience or issuer, expired ones and ones of a disallowed email
domain are refused, a rotated signing key is picked up from the JWKS, API keys keep working,
and a bad ``[ui.oidc]`` names its key."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from inhouse.errors import ConfigError
from inhouse.keys import KeyStore
from inhouse_ui.oidc import OIDCSettings, Provider, TokenError
from inhouse_ui.settings import UISettings
from oidc_support import CLIENT_ID, IdentityProvider, identity_provider, oidc_served
from ui_support import doc_id

#: The provider (oidc-provider-mock) still calls Authlib's deprecated get_jwt_config when it signs tokens.
pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[IdentityProvider, Any, Any, str]]:
    """The provider, the assistant, the app (signing in with the provider) and the API's base URL."""
    with oidc_served(tmp_path_factory.mktemp("oidc-api")) as (provider, assistant, app, url):
        yield provider, assistant, app, url + "v1"


def get(base: str, path: str, token: str) -> httpx.Response:
    """``GET base+path`` with ``Authorization: Bearer token``."""
    return httpx.get(base + path, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def refused(response: httpx.Response, reason: str) -> None:
    """A 401 in the OpenAI error shape whose message says ``reason``."""
    assert response.status_code == 401, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_token" and reason in error["message"], error
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_token_signs_its_user_in_and_their_groups_decide_what_they_read(stack: Any) -> None:
    provider, assistant, _, base = stack
    finance = f"/documents/{doc_id(assistant, 'budget-2027.md')}"
    ana, bob = provider.id_token("ana"), provider.id_token("bob")
    assert get(base, finance, ana).status_code == 200  # Finance-Team, mapped to finance
    assert get(base, finance, bob).status_code == 404  # staff only
    assert assistant.principals("ana@example.com") == ["*", "user:ana@example.com", "group:finance", "group:staff"]
    content = get(base, finance + "/content", ana)
    assert content.status_code == 200 and b"40,000 euros" in content.content


def test_tokens_for_another_audience_or_issuer_are_refused(stack: Any) -> None:
    provider, assistant, _, base = stack
    finance = f"/documents/{doc_id(assistant, 'budget-2027.md')}"
    refused(get(base, finance, provider.id_token("ana", client_id="another-app")), "not for this audience")
    other_issuer = provider.id_token("ana", via=provider.issuer.replace("127.0.0.1", "localhost"))  # same key
    refused(get(base, finance, other_issuer), "issuer 'http://localhost:")
    good = provider.id_token("ana")
    head, body, signature = good.split(".")
    refused(get(base, finance, f"{head}.{body}.{signature[:-4]}AAAA"), "signature does not verify")
    refused(get(base, finance, f"eyJhbGciOiJub25lIn0.{body}.x"), "algorithm 'none' is not accepted")


def test_an_address_outside_the_allowed_domains_is_refused(stack: Any) -> None:
    provider, _, _, base = stack
    refused(get(base, "/models", provider.id_token("eve")), "allowed domain")


def test_a_rotated_signing_key_is_fetched_once_and_the_old_one_stops_working(stack: Any) -> None:
    provider, _, app, base = stack
    verifier = app.state.auth.provider
    old = provider.id_token("ana")
    assert get(base, "/models", old).status_code == 200
    fetches = verifier.jwks_fetches
    provider.rotate_key()
    new = provider.id_token("ana")
    for _ in range(3):
        assert get(base, "/models", new).status_code == 200
    assert verifier.jwks_fetches == fetches + 1  # refetched once, then cached
    refused(get(base, "/models", old), "signature does not verify")


def test_api_keys_keep_working_beside_tokens(stack: Any) -> None:
    provider, assistant, _, base = stack
    _, secret = KeyStore(assistant.home).create("ana", "tests")
    ana_only = f"/documents/{doc_id(assistant, 'salary-ana.md')}"
    assert get(base, ana_only, secret).status_code == 200
    assert get(base, ana_only, provider.id_token("ana")).status_code == 404  # ana@example.com is not the key's ana
    assert get(base, ana_only, "ih-nope-" + "x" * 40).status_code == 401


def test_an_expired_token_is_refused() -> None:
    with identity_provider(token_s=4) as provider:  # long enough to verify once on a busy machine
        verifier = Provider(OIDCSettings(issuer=provider.issuer, client_id=CLIENT_ID, leeway_s=0))
        token = provider.id_token("ana")
        assert verifier.verify(token, CLIENT_ID)["email"] == "ana@example.com"
        time.sleep(5.1)
        with pytest.raises(TokenError, match="expired"):
            verifier.verify(token, CLIENT_ID)


@pytest.mark.parametrize(
    ("oidc", "key"),
    [
        ({"issuer": "http://idp.example.com", "client_id": "x"}, "ui.oidc.issuer"),
        ({"issuer": "https://idp.example.com", "client_id": "x", "scopes": ["email"]}, "ui.oidc.scopes"),
        ({"issuer": "https://idp.example.com", "client_id": "x", "allowed_email_domains": ["@x.com"]}, "allowed_email_domains"),
        ({"issuer": "https://idp.example.com", "clientid": "x"}, "ui.oidc.client_id"),
    ],
)
def test_a_bad_oidc_table_names_its_key(oidc: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        UISettings.from_mapping({"oidc": oidc})
