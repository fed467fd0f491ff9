"""OpenID Connect sign-in on the page against a real provider on loopback (``oidc_support``):
in Chromium, a user signs in at the provider and lands on the chat page, their group claim
decides which documents they may open, and signing out ends the session; over HTTP, the
authorization request carries a PKCE S256 challenge, and a callback whose ``state`` is not
the browser's, an ID token whose ``nonce`` is not the sign-in's, and a user outside the allowed
email domains are all refused without a session."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest

from inhouse_ui.oidc_routes import FLOW_COOKIE
from inhouse_ui.sessions import COOKIE
from oidc_support import CLIENT_ID, IdentityProvider, oidc_served
from ui_support import doc_id, shot

#: The provider (oidc-provider-mock) still calls Authlib's deprecated get_jwt_config when it signs tokens.
pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[IdentityProvider, Any, Any, str]]:
    """The provider, the assistant, the app signing in with the provider, and the app's URL."""
    with oidc_served(tmp_path_factory.mktemp("oidc-page")) as served:
        yield served


def start(url: str) -> tuple[httpx.Client, str]:
    """A client of the app that began a sign-in: it, and the provider's authorization URL."""
    client = httpx.Client(base_url=url, timeout=30)
    response = client.get("login")
    assert response.status_code == 303, response.text
    return client, response.headers["location"]


def consent(authorization_url: str, sub: str) -> str:
    """``sub`` agrees at the provider; the callback URL the provider sends the browser to."""
    response = httpx.post(authorization_url, data={"sub": sub}, timeout=30)
    assert response.status_code == 302, response.text
    return response.headers["location"]


def test_the_authorization_request_carries_state_nonce_and_a_pkce_s256_challenge(stack: Any) -> None:
    provider, _, app, url = stack
    client, location = start(url)
    query = {k: v[0] for k, v in parse_qs(urlparse(location).query).items()}
    flow = app.state.auth.flows.read(client.cookies[FLOW_COOKIE])
    assert location.startswith(provider.issuer + "/oauth2/authorize?")
    assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID and query["scope"] == "openid email profile"
    assert query["state"] == flow["state"] and query["nonce"] == flow["nonce"]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(flow["verifier"].encode()).digest()).rstrip(b"=").decode()
    assert query["code_challenge_method"] == "S256" and query["code_challenge"] == challenge
    assert query["redirect_uri"] == url + "oidc/callback"
    callback = client.get(consent(location, "bob"))
    assert callback.status_code == 303 and callback.headers["location"] == "../"
    assert client.get("").status_code == 200  # the page, signed in
    session = app.state.auth.signed_in.read(client.cookies[COOKIE])
    assert session == {"user": "bob@example.com", "groups": ["staff"]}


def test_a_callback_with_another_state_is_refused(stack: Any) -> None:
    _, _, _, url = stack
    client, location = start(url)
    callback = urlparse(consent(location, "ana"))
    params = {k: v[0] for k, v in parse_qs(callback.query).items()}
    forged = client.get(callback._replace(query=urlencode({**params, "state": "an-attackers-state"})).geturl())
    assert forged.status_code == 400 and "state does not match" in forged.text
    assert COOKIE not in client.cookies and client.get("", follow_redirects=False).status_code == 303


def test_an_id_token_with_another_nonce_is_refused(stack: Any) -> None:
    _, _, app, url = stack
    client, location = start(url)
    flow = app.state.auth.flows.read(client.cookies[FLOW_COOKIE])
    # The same sign-in (state, PKCE verifier) but expecting another nonce: the provider's ID token
    # carries the nonce of the request, as a token from another sign-in (a replay) would.
    client.cookies.set(FLOW_COOKIE, app.state.auth.flows.issue({**flow, "nonce": "another-sign-ins-nonce"}))
    refused = client.get(consent(location, "ana"))
    assert refused.status_code == 401 and "nonce does not match" in refused.text
    assert COOKIE not in client.cookies


def test_a_callback_without_the_sign_in_cookie_is_refused(stack: Any) -> None:
    _, _, _, url = stack
    _, location = start(url)
    stranger = httpx.get(consent(location, "ana"), timeout=30)  # another browser: no sign-in cookie
    assert stranger.status_code == 400 and "expired or was started in another browser" in stranger.text
    assert COOKIE not in stranger.cookies


@pytest.mark.browser
def test_in_chromium_groups_decide_what_a_user_opens_and_signing_out_ends_the_session(stack: Any, browser: Any) -> None:
    _, assistant, _, url = stack
    finance = f"{url}files/{doc_id(assistant, 'budget-2027.md')}"
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)  # not signed in: the page sends the browser to /login, which sends it to the provider
    page.get_by_role("button", name="ana", exact=True).click()  # the provider's form: sign in as ana
    page.locator("#question textarea").wait_for()
    assert page.url == url
    shot(page, "oidc-signed-in")
    assert page.request.get(finance).status == 200  # Finance-Team -> finance
    page.goto(url + "logout")
    assert page.get_by_role("heading", name="Signed out").is_visible()
    assert page.request.get(finance).status == 401
    assert not [c for c in context.cookies() if c["name"] == COOKIE]
    context.close()

    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.get_by_role("button", name="bob", exact=True).click()
    page.locator("#question textarea").wait_for()
    assert page.request.get(finance).status == 404  # staff only
    context.close()


@pytest.mark.browser
def test_in_chromium_a_user_outside_the_allowed_domains_is_not_signed_in(stack: Any, browser: Any) -> None:
    _, _, _, url = stack
    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    page.get_by_role("button", name="eve", exact=True).click()
    page.get_by_role("heading", name="Not signed in").wait_for()
    assert "eve@elsewhere.test" in page.text_content("main") and "allowed domain" in page.text_content("main")
    assert page.request.get(url, max_redirects=0).status == 303
    context.close()
