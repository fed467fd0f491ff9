"""SCIM 2.0 provisioning against the running server (``/scim/v2``, httpx): the sequence Okta sends
(create, add to a group, search by userName, deactivate, reactivate, delete), the PATCH bodies
Microsoft Entra ID sends, a group membership change applying to the very next query, a
deprovisioned user's API key and page session refused on their very next request, and bad tokens
and malformed bodies answered in the SCIM error shape, never with a server error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from inhouse.keys import KeyStore
from inhouse.testing.emulators.openai_server import OpenAIServer
from ui_support import USERS, api_assistant, doc_id, password_users, served

TOKEN = "scim-test-token-0123456789abcdef"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
BUDGET = "What is the finance travel budget?"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The server (password sign-in, SCIM on) of an assistant with a document only group finance may read."""
    folder = tmp_path_factory.mktemp("scim")
    with OpenAIServer() as model:
        assistant = api_assistant(folder, model.base_url)
        finance = folder / "finance"
        finance.mkdir()
        (finance / "budget.md").write_text("# Finance travel budget\n\nThe finance travel budget is 4000 euros.\n")
        report = assistant.ingest(finance, acl=["group:finance"])
        assert not report.failed and not report.skipped, report
        with served(assistant, {**password_users(), "scim": {"token": TOKEN}}) as (_app, base):
            root = base.removesuffix("/v1")
            with httpx.Client(base_url=root + "/scim/v2", headers={"Authorization": f"Bearer {TOKEN}"}) as scim:
                yield {"assistant": assistant, "root": root, "api": base, "scim": scim, "keys": KeyStore(assistant.home)}
        assistant.close()


def scim_error(response: httpx.Response, status: int, scim_type: str | None = None) -> dict[str, Any]:
    """The SCIM error of ``response``, checked: its status, shape and (when given) scimType."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == [ERROR] and body["status"] == str(status) and body["detail"], body
    assert body.get("scimType") == scim_type, body
    return body


def found(site: dict[str, Any], key: str, query: str = BUDGET) -> bool:
    """Whether a search with API key ``key`` finds the finance document."""
    response = httpx.post(f"{site['api']}/search", json={"query": query, "k": 5}, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    return any("budget.md" in hit["source"] for hit in response.json()["hits"])


def test_an_okta_like_sequence(site: dict[str, Any]) -> None:
    scim = site["scim"]
    assert scim.get("/ServiceProviderConfig").json()["patch"]["supported"] is True
    assert {r["id"] for r in scim.get("/ResourceTypes").json()["Resources"]} == {"User", "Group"}
    assert scim.get(f"/Schemas/{USER}").json()["name"] == "User"
    assert scim.get('/Users?filter=userName eq "dana@example.com"').json()["totalResults"] == 0
    body = {"schemas": [USER], "userName": "dana@example.com", "name": {"givenName": "Dana"}, "active": True, "password": "x"}
    created = scim.post("/Users", json=body)
    assert created.status_code == 201 and created.headers["content-type"].startswith("application/scim+json")
    dana = created.json()
    assert dana["userName"] == "dana@example.com" and dana["active"] and "password" not in dana
    assert created.headers["location"] == f"{site['root']}/scim/v2/Users/{dana['id']}" and dana["meta"]["resourceType"] == "User"
    group = scim.post("/Groups", json={"schemas": [GROUP], "displayName": "Travel", "members": []}).json()
    add = {"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": dana["id"]}]}]}
    assert scim.patch(f"/Groups/{group['id']}", json=add).status_code == 200
    listed = scim.get("/Users", params={"filter": 'userName eq "DANA@example.com"', "startIndex": 1, "count": 10}).json()
    assert listed["totalResults"] == 1 and listed["Resources"][0]["groups"][0]["display"] == "Travel"
    assert "group:Travel" in site["assistant"].principals("dana@example.com")
    off = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}
    assert scim.patch(f"/Users/{dana['id']}", json=off).json()["active"] is False
    assert site["assistant"].principals("dana@example.com") == []
    again = scim.put(f"/Users/{dana['id']}", json={**body, "active": True}).json()
    assert again["active"] is True and again["name"] == {"givenName": "Dana"}
    assert "group:Travel" in site["assistant"].principals("dana@example.com")
    assert scim.delete(f"/Users/{dana['id']}").status_code == 204
    scim_error(scim.get(f"/Users/{dana['id']}"), 404)
    assert scim.get(f"/Groups/{group['id']}").json()["members"] == []
    assert scim.get("/Users", params={"filter": 'userName eq "dana@example.com"'}).json()["totalResults"] == 0
    rename = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"id": group["id"], "displayName": "Trips"}}]}
    assert scim.patch(f"/Groups/{group['id']}", json=rename).json()["displayName"] == "Trips"
    assert scim.delete(f"/Groups/{group['id']}").status_code == 204


def test_an_entra_like_patch_sequence_and_paging(site: dict[str, Any]) -> None:
    scim = site["scim"]
    body = {
        "schemas": [USER, ENTERPRISE],
        "externalId": "e-77",
        "userName": "eli@contoso.com",
        "active": True,
        "displayName": "Eli",
        "emails": [{"primary": True, "type": "work", "value": "eli@contoso.com"}],
        ENTERPRISE: {"department": "Sales"},
    }
    eli = scim.post("/Users", json=body).json()
    ops = [
        {"op": "Replace", "path": "displayName", "value": "Eli Smith"},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "eli.smith@contoso.com"},
        {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Finance"},
        {"op": "Replace", "value": {"name.givenName": "Eli"}},
        {"op": "Replace", "path": "active", "value": "False"},
    ]
    patched = scim.patch(f"/Users/{eli['id']}", json={"schemas": [PATCH], "Operations": ops}).json()
    assert patched["displayName"] == "Eli Smith" and patched["emails"][0]["value"] == "eli.smith@contoso.com"
    assert patched[ENTERPRISE] == {"department": "Finance"} and patched["name"] == {"givenName": "Eli"}
    assert patched["active"] is False and patched["externalId"] == "e-77" and patched["meta"]["version"] == 'W/"2"'
    assert scim.get("/Users", params={"filter": 'externalId eq "e-77"'}).json()["Resources"][0]["id"] == eli["id"]
    fin = scim.post("/Users", json={"schemas": [USER], "userName": "fin@contoso.com"}).json()
    group = scim.post("/Groups", json={"schemas": [GROUP], "displayName": "Sales", "externalId": "g-9"}).json()
    ops = [
        {"op": "Add", "path": "members", "value": [{"value": eli["id"]}, {"value": fin["id"]}]},
        {"op": "Remove", "path": f'members[value eq "{eli["id"]}"]'},
        {"op": "Replace", "path": "displayName", "value": "Sales EMEA"},
    ]
    response = scim.patch(f"/Groups/{group['id']}", json={"schemas": [PATCH], "Operations": ops})
    assert response.status_code == 200 and [m["value"] for m in response.json()["members"]] == [fin["id"]]
    assert response.json()["displayName"] == "Sales EMEA"
    remove = {"op": "Remove", "path": "members", "value": [{"value": fin["id"]}]}
    assert scim.patch(f"/Groups/{group['id']}", json={"schemas": [PATCH], "Operations": [remove]}).json()["members"] == []
    assert "members" not in scim.get(f"/Groups/{group['id']}", params={"excludedAttributes": "members"}).json()
    assert scim.get("/Groups", params={"filter": 'displayName eq "sales emea"'}).json()["totalResults"] == 1
    page = scim.get("/Users", params={"startIndex": 2, "count": 1}).json()
    assert page["startIndex"] == 2 and page["itemsPerPage"] == 1 and page["totalResults"] >= 2
    for resource in (f"/Users/{eli['id']}", f"/Users/{fin['id']}", f"/Groups/{group['id']}"):
        assert scim.delete(resource).status_code == 204


def test_a_user_removed_from_a_group_stops_reading_its_document_on_the_next_query(site: dict[str, Any]) -> None:
    scim, key = site["scim"], site["keys"].create("bob", "scim-groups")[1]
    assert not found(site, key)  # bob is in no group finance yet
    bob = scim.post("/Users", json={"schemas": [USER], "userName": "bob"}).json()
    group = scim.post("/Groups", json={"schemas": [GROUP], "displayName": "finance", "members": [{"value": bob["id"]}]}).json()
    assert found(site, key)
    remove = {"op": "remove", "path": f'members[value eq "{bob["id"]}"]'}
    assert scim.patch(f"/Groups/{group['id']}", json={"schemas": [PATCH], "Operations": [remove]}).status_code == 200
    assert not found(site, key)
    add = {"op": "add", "path": "members", "value": [{"value": bob["id"]}]}
    scim.patch(f"/Groups/{group['id']}", json={"schemas": [PATCH], "Operations": [add]})
    assert found(site, key)
    assert scim.delete(f"/Groups/{group['id']}").status_code == 204
    assert not found(site, key)
    scim.delete(f"/Users/{bob['id']}")


def test_a_deprovisioned_users_key_and_session_are_refused_on_the_next_request(site: dict[str, Any]) -> None:
    scim, assistant, keys = site["scim"], site["assistant"], site["keys"]
    keys.create("keeper", "keeps keys in force")  # with no key in force, loopback clients need none (test_api_auth)
    key = keys.create("ana", "scim-deprovision")[1]
    headers = {"Authorization": f"Bearer {key}"}
    salary = f"{site['root']}/files/{doc_id(assistant, 'salary-ana.md')}"
    with httpx.Client(base_url=site["root"]) as browser:
        assert browser.post("/login", data={"name": "ana", "password": USERS["ana"]}).status_code in (200, 303)
        assert browser.get(salary).status_code == 200
        assert httpx.get(f"{site['api']}/models", headers=headers).status_code == 200
        ana = scim.post("/Users", json={"schemas": [USER], "userName": "ana"}).json()
        assert browser.get(salary).status_code == 200 and httpx.get(f"{site['api']}/models", headers=headers).status_code == 200
        off = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}
        assert scim.patch(f"/Users/{ana['id']}", json=off).status_code == 200
        refused = httpx.get(f"{site['api']}/models", headers=headers)
        assert refused.status_code == 401 and "deprovisioned" in refused.json()["error"]["message"]
        assert browser.get(salary).status_code == 401
        assert browser.get("/", follow_redirects=False).status_code == 303  # to /login
        on = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": True}]}
        scim.patch(f"/Users/{ana['id']}", json=on)
        assert browser.get(salary).status_code == 200 and httpx.get(f"{site['api']}/models", headers=headers).status_code == 200
        assert scim.delete(f"/Users/{ana['id']}").status_code == 204
        assert httpx.get(f"{site['api']}/models", headers=headers).status_code == 401 and browser.get(salary).status_code == 401
    assert not [k for k in keys.list() if k.user == "ana" and not k.revoked]  # deleting revoked her keys


def test_bad_tokens_are_401_and_malformed_requests_400_in_the_scim_shape(site: dict[str, Any]) -> None:
    url = site["root"] + "/scim/v2/Users"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": TOKEN}):
        response = httpx.get(url, headers=headers)
        scim_error(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")
    scim = site["scim"]
    scim_error(scim.post("/Users", content=b"{not json"), 400, "invalidSyntax")
    scim_error(scim.post("/Users", json=[1, 2]), 400, "invalidSyntax")
    scim_error(scim.post("/Users", json={"schemas": [GROUP], "userName": "x"}), 400, "invalidSyntax")
    scim_error(scim.post("/Users", json={"schemas": [USER]}), 400, "invalidValue")
    scim_error(scim.post("/Users", json={"schemas": [USER], "userName": 7}), 400, "invalidValue")
    scim_error(scim.post("/Users", json={"schemas": [USER], "userName": "gus", "active": "maybe"}), 400, "invalidValue")
    gus = scim.post("/Users", json={"schemas": [USER], "userName": "gus"}).json()
    scim_error(scim.post("/Users", json={"schemas": [USER], "userName": "GUS"}), 409, "uniqueness")
    for ops in (
        [],
        [{"op": "move", "path": "active"}],
        [{"op": "replace"}],
        [{"op": "remove"}],
        ["x"],
        [{"op": "add", "path": 3}],
    ):
        response = scim.patch(f"/Users/{gus['id']}", json={"schemas": [PATCH], "Operations": ops})
        assert response.status_code == 400, (ops, response.text)
    bad_path = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "a[[b", "value": 1}]}
    scim_error(scim.patch(f"/Users/{gus['id']}", json=bad_path), 400, "invalidPath")
    scim_error(scim.patch("/Users/nobody", json={"schemas": [PATCH], "Operations": [{"op": "remove", "path": "x"}]}), 404)
    scim_error(scim.get("/Users", params={"filter": 'userName co "g"'}), 400, "invalidFilter")
    scim_error(scim.get("/Users", params={"startIndex": "one"}), 400, "invalidValue")
    for members in ([{"value": "nobody"}], "all", [{"value": 3}]):
        body = {"schemas": [GROUP], "displayName": "g", "members": members}
        scim_error(scim.post("/Groups", json=body), 400, "invalidValue")
    scim_error(scim.get("/Groups/nope"), 404)
    scim_error(scim.get("/Nothing"), 404)
    scim_error(scim.put("/ServiceProviderConfig", json={}), 405)
    scim_error(scim.post("/Users", content=b"x" * (1024 * 1024 + 1)), 413)
    assert scim.delete(f"/Users/{gus['id']}").status_code == 204
    scim_error(scim.delete(f"/Users/{gus['id']}"), 404)


def test_the_token_must_be_long_enough(tmp_path: Path) -> None:
    from inhouse.errors import ConfigError
    from inhouse_ui.settings import UISettings

    with pytest.raises(ConfigError, match="scim"):
        UISettings.from_mapping({"scim": {"token": "short"}})
    with pytest.raises(ConfigError, match="scim"):
        UISettings.from_mapping({"scim": {"token": TOKEN, "tokn": 1}})
