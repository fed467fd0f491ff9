"""The OpenID Connect sign-in pages (``[ui.oidc]``): the authorization code flow with PKCE.

- ``GET /login`` makes a ``state``, a ``nonce`` and a PKCE verifier, keeps them in a signed
  cookie that lasts ten minutes (``Auth.flows``), and sends the browser to the provider with
  the verifier's S256 challenge.
- ``GET /oidc/callback`` (the redirect URI to register at the provider) refuses a ``state``
  that is not this browser's, trades the code (with the verifier) for tokens at the token
  endpoint, validates the ID token (``Provider.verify``: signature, issuer, audience, expiry
  and the ``nonce``), maps its claims to a user and groups (``Provider.identity``: allowed
  email domains, group mapping), and sets the session cookie (``[ui] session_hours``).
- ``GET``/``POST /logout`` removes the session cookie and shows a signed-out page (not the
  sign-in, which the provider's own session would complete at once).
"""

from __future__ import annotations

import hmac
from html import escape
from typing import Any

from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2 import OAuth2Error
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from httpx import HTTPError

from inhouse_ui.auth import Auth
from inhouse_ui.oidc import Provider, TokenError
from inhouse_ui.sessions import COOKIE
from inhouse_ui.signin import PAGE_HEADERS, STYLE

FLOW_COOKIE = "inhouse_oidc"


def notice(
    title: str, heading: str, text: str, status_code: int, link: str = "login", link_text: str = "Sign in"
) -> HTMLResponse:
    """A small page saying what happened (escaped), with one link."""
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(heading)} · {escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>'
        f'<body><main><h1>{escape(heading)}</h1><p role="status">{escape(text)}</p>'
        f'<p><a href="{escape(link, quote=True)}">{escape(link_text)}</a></p></main></body></html>'
    )
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)


def _client(provider: Provider, redirect_uri: str) -> OAuth2Client:
    cfg = provider.settings
    secret = cfg.client_secret.get_secret_value() if cfg.client_secret else None
    return OAuth2Client(
        client_id=cfg.client_id,
        client_secret=secret,
        scope=" ".join(cfg.scopes),
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic" if secret else "none",
        timeout=cfg.timeout_s,
    )


def _cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", httponly=True, samesite="lax", secure=request.url.scheme == "https"
    )


def _forget(response: Response, request: Request, name: str) -> None:
    response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=request.url.scheme == "https")


def router(auth: Auth, title: str) -> APIRouter:
    """The routes of OpenID Connect sign-in (include them only in that mode)."""
    assert auth.provider is not None
    provider = auth.provider
    routes = APIRouter()

    def refused(text: str, status_code: int = 401) -> HTMLResponse:
        """The page of a refused sign-in; the sign-in's cookie is removed (it cannot be used twice)."""
        response = notice(title, "Not signed in", text, status_code, link="login", link_text="Try again")
        response.delete_cookie(FLOW_COOKIE, path="/", httponly=True, samesite="lax")
        return response

    @routes.get("/login", include_in_schema=False)
    def sign_in(request: Request) -> Response:
        """Start a sign-in at the provider (or, signed in already, go to the page)."""
        if auth.user_of_http(request) is not None:
            return RedirectResponse("./", status_code=303)
        redirect_uri = provider.settings.redirect_uri or str(request.url_for("oidc_callback"))
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        try:
            endpoint = provider.metadata()["authorization_endpoint"]
        except TokenError as exc:
            return notice(title, "Sign-in is unavailable", str(exc), 503, link="login", link_text="Try again")
        url, _ = _client(provider, redirect_uri).create_authorization_url(
            endpoint, state=state, nonce=nonce, code_verifier=verifier
        )
        response = RedirectResponse(url, status_code=303)
        flow = {"state": state, "nonce": nonce, "verifier": verifier, "redirect_uri": redirect_uri}
        _cookie(response, request, FLOW_COOKIE, auth.flows.issue(flow), int(auth.flows.lifetime_s))
        response.headers["Cache-Control"] = "no-store"
        return response

    @routes.get("/oidc/callback", name="oidc_callback", include_in_schema=False)
    def callback(request: Request) -> Response:
        """Finish a sign-in: check ``state``, trade the code, validate the ID token, set the session."""
        flow = auth.flows.read(request.cookies.get(FLOW_COOKIE))
        params = request.query_params
        if flow is None:
            return refused("This sign-in expired or was started in another browser: sign in again.", 400)
        if params.get("error"):
            return refused(f"The identity provider refused the sign-in ({params.get('error')}).")
        if not hmac.compare_digest(str(flow["state"]), params.get("state", "")):
            return refused("The sign-in's state does not match this browser's: sign in again.", 400)
        try:
            token = _token(provider, flow, params.get("code", ""))
            claims = provider.verify(str(token.get("id_token", "")), provider.settings.client_id, nonce=str(flow["nonce"]))
            who = provider.identity(claims)
        except TokenError as exc:
            return refused(str(exc))
        if auth.provisioned.refused(who.user):  # no session that the next request would refuse (a sign-in loop)
            return refused("Your account is deactivated: ask your administrator.", 403)
        response = RedirectResponse("../", status_code=303)
        _forget(response, request, FLOW_COOKIE)
        _cookie(
            response,
            request,
            COOKIE,
            auth.signed_in.issue({"user": who.user, "groups": list(who.groups)}),
            int(auth.signed_in.lifetime_s),
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    @routes.api_route("/logout", methods=["GET", "POST"], include_in_schema=False)
    def sign_out(request: Request) -> Response:
        """Remove the session cookie; say so, with a link to sign in again."""
        if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
            return JSONResponse({"detail": "sign out from this site's own page"}, status_code=403)
        response = notice(title, "Signed out", f"You have signed out of {title}.", 200)
        _forget(response, request, COOKIE)
        return response

    return routes


def _token(provider: Provider, flow: dict[str, Any], code: str) -> dict[str, Any]:
    """The provider's token response for ``code`` (sent with the flow's PKCE verifier)."""
    if not code:
        raise TokenError("the identity provider sent no code")
    endpoint = provider.metadata()["token_endpoint"]
    client = _client(provider, str(flow["redirect_uri"]))
    try:
        with client:
            return dict(
                client.fetch_token(endpoint, grant_type="authorization_code", code=code, code_verifier=str(flow["verifier"]))
            )
    except (OAuth2Error, HTTPError, ValueError) as exc:
        raise TokenError(f"the identity provider did not give tokens for this sign-in ({exc})") from None
