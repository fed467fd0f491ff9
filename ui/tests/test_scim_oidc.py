"""Deprovisioning by SCIM with OpenID Connect sign-in, against a real provider on loopback
(``oidc_support``): a signed-in page session and the provider's bearer tokens of a user made
inactive are refused on their very next request, the groups their sign-ins vouched for are
dropped, and reactivating them lets the same session and tokens in again; deleting them refuses
both for good."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from inhouse.testing.emulators.openai_server import OpenAIServer
from oidc_support import identity_provider, oidc_assistant
from ui_support import doc_id, served

pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")
TOKEN = "scim-oidc-token-0123456789abcdef"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any, str]]:
    """The provider, the assistant and the app's URL (OpenID Connect sign-in, SCIM on)."""
    with OpenAIServer() as model, identity_provider() as provider:
        assistant = oidc_assistant(tmp_path_factory.mktemp("scim-oidc"), model.base_url)
        try:
            with served(assistant, {**provider.ui_settings(), "scim": {"token": TOKEN}}) as (_app, api):
                yield provider, assistant, api.removesuffix("v1")
        finally:
            assistant.close()


def signed_in(url: str, sub: str) -> httpx.Client:
    """A client of the app that signed in as ``sub`` at the provider (the page's flow, over HTTP)."""
    client = httpx.Client(base_url=url, timeout=30)
    authorize = client.get("login").headers["location"]
    callback = httpx.post(authorize, data={"sub": sub}, timeout=30).headers["location"]
    assert client.get(callback).status_code == 303
    assert client.get("", follow_redirects=False).status_code == 200
    return client


def active(value: bool) -> dict[str, Any]:
    """The PATCH Entra ID sends to (de)activate a user."""
    return {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": str(value)}]}


def test_a_deprovisioned_users_session_and_tokens_are_refused_on_the_next_request(stack: Any) -> None:
    provider, assistant, url = stack
    scim = httpx.Client(base_url=url + "scim/v2", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    finance = f"{url}v1/documents/{doc_id(assistant, 'budget-2027.md')}"
    bearer = {"Authorization": f"Bearer {provider.id_token('ana')}"}
    page = signed_in(url, "ana")
    assert httpx.get(finance, headers=bearer).status_code == 200 and "ana@example.com" in assistant.vouched
    ana = scim.post("/Users", json={"schemas": [USER], "userName": "ana@example.com"}).json()
    assert scim.patch(f"/Users/{ana['id']}", json=active(False)).json()["active"] is False
    refused = httpx.get(finance, headers=bearer)
    assert refused.status_code == 401 and "deprovisioned" in refused.json()["error"]["message"]
    assert page.get("", follow_redirects=False).status_code == 303  # sent to /login
    assert "ana@example.com" not in assistant.vouched and assistant.principals("ana@example.com") == []
    assert scim.patch(f"/Users/{ana['id']}", json=active(True)).json()["active"] is True
    assert page.get("", follow_redirects=False).status_code == 200 and httpx.get(finance, headers=bearer).status_code == 200
    assert scim.delete(f"/Users/{ana['id']}").status_code == 204
    assert httpx.get(finance, headers=bearer).status_code == 401 and page.get("", follow_redirects=False).status_code == 303
    assert signed_in(url, "bob").get("", follow_redirects=False).status_code == 200  # never provisioned: unaffected
    again = httpx.Client(base_url=url, timeout=30)  # a new sign-in at the provider gets no session (no sign-in loop)
    callback = httpx.post(again.get("login").headers["location"], data={"sub": "ana"}, timeout=30).headers["location"]
    deactivated = again.get(callback)
    assert deactivated.status_code == 403 and "deactivated" in deactivated.text
    assert again.get("", follow_redirects=False).status_code == 303
    again.close()
    page.close()
    scim.close()
