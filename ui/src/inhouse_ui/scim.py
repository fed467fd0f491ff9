"""SCIM 2.0 provisioning at ``/scim/v2`` (RFC 7644, the subset Okta and Microsoft Entra ID use), on
when ``[ui.scim]`` names a token:

```toml
[ui.scim]
token = { env = "SCIM_TOKEN" }   # the bearer token the identity provider sends (compared in constant time)
```

``/Users`` and ``/Groups`` take POST, GET (one, or a list with ``filter=userName eq "..."`` /
``displayName eq "..."``, ``startIndex`` and ``count``), PUT, PATCH and DELETE; ``/ServiceProviderConfig``,
``/ResourceTypes`` and ``/Schemas`` describe them. Users and groups live in ``inhouse.provisioning``
(``<home>/directory.sqlite3``), which ``Assistant.directory`` reads on every query, so a membership
change applies to the next one. A user made inactive or deleted is refused at once: their page
sessions and OpenID Connect tokens by ``Auth`` and the API's ``caller`` (both ask
``Provisioning.refused`` on every request), their API keys likewise (and revoked when they are
deleted), and the groups their sign-ins vouched for are dropped. Errors answer in the SCIM shape.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from pydantic import SecretStr, field_validator
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response

from inhouse.keys import KeyStore
from inhouse.plugins import PluginConfig
from inhouse.provisioning import Conflict, Invalid, Provisioning, Unknown, User
from inhouse_ui import scim_discovery as discovery
from inhouse_ui.scim_resources import (
    GROUP_SCHEMA,
    USER_SCHEMA,
    ScimError,
    group_json,
    member_ids,
    operations,
    parse_filter,
    patch_user,
    resource,
    text,
    user_fields,
    user_json,
)

PATH = "/scim/v2"
MAX_BODY = 1024 * 1024  # bytes: a request body larger than this is refused (413)
MEDIA_TYPE = "application/scim+json"
log = logging.getLogger("inhouse_ui.scim")


class SCIMSettings(PluginConfig):
    """The ``[ui.scim]`` table: the bearer token of the identity provider's provisioning client."""

    token: SecretStr

    @field_validator("token")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < 16:
            raise ValueError("the token must be at least 16 characters (a random one: openssl rand -hex 32)")
        return value


class ScimResponse(JSONResponse):
    """JSON with SCIM's media type."""

    media_type = MEDIA_TYPE


def build(assistant: Any, settings: SCIMSettings) -> FastAPI:
    """The SCIM app of ``assistant``'s data folder, to mount at ``PATH``."""
    expected = hashlib.sha256(settings.token.get_secret_value().encode()).digest()

    def bearer(request: Request) -> None:
        """401 unless the request carries the token (compared in constant time, as digests of equal length)."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        given = hashlib.sha256(token.strip().encode("utf-8", "replace")).digest()
        if not hmac.compare_digest(given, expected) or scheme.lower() != "bearer":
            raise ScimError(401, "send the token of [ui.scim] as `Authorization: Bearer <token>`")

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, dependencies=[Depends(bearer)])
    _install_errors(app)
    store = Provisioning(Path(assistant.home))
    keys = KeyStore(Path(assistant.home))

    def base(request: Request) -> str:
        """The address of ``/scim/v2`` as the client reached it (for ``location`` and ``$ref``)."""
        return str(request.base_url).rstrip("/") + PATH

    def refuse_from_now(user: User, deleted: bool) -> None:
        """What deprovisioning ``user`` ends besides their sign-ins: vouched groups, and (deleted) API keys."""
        assistant.vouched.pop(user.user_name, None)
        if deleted:
            keys.revoke_user(user.user_name)

    @app.get("/ServiceProviderConfig")
    def service_provider_config(request: Request) -> Response:
        """What this server supports."""
        return ScimResponse(discovery.service_provider_config(base(request)))

    @app.get("/ResourceTypes")
    def resource_types(request: Request) -> Response:
        """The User and Group resource types."""
        return ScimResponse(discovery.listing(discovery.resource_types(base(request))))

    @app.get("/ResourceTypes/{name}")
    def resource_type(name: str, request: Request) -> Response:
        """One resource type, by name."""
        return ScimResponse(_one(discovery.resource_types(base(request)), name))

    @app.get("/Schemas")
    def all_schemas(request: Request) -> Response:
        """The User and Group schemas."""
        return ScimResponse(discovery.listing(discovery.schemas(base(request))))

    @app.get("/Schemas/{name}")
    def one_schema(name: str, request: Request) -> Response:
        """One schema, by URN."""
        return ScimResponse(_one(discovery.schemas(base(request)), name))

    # -------------------------------------------------------------------- users

    @app.post("/Users")
    async def create_user(request: Request) -> Response:
        """Provision a user (201, with ``Location``); 409 when the userName is taken."""
        fields = user_fields(resource(await _json(request), USER_SCHEMA))
        user = _call(store.create_user, fields.pop("user_name"), **fields)
        return ScimResponse(user_json(user, base(request)), 201, headers={"Location": f"{base(request)}/Users/{user.id}"})

    @app.get("/Users")
    def list_users(request: Request) -> Response:
        """The users, filtered and paged."""
        found = parse_filter(request.query_params.get("filter"), ("userName", "externalId", "id"))
        users = store.users(found[1] if found and found[0] == "userName" else None)
        if found and found[0] != "userName":
            users = [u for u in users if (u.external_id if found[0] == "externalId" else u.id) == found[1]]
        return _page(request, [user_json(u, base(request)) for u in users])

    @app.get("/Users/{user_id}")
    def get_user(user_id: str, request: Request) -> Response:
        """One user, with their groups."""
        return ScimResponse(user_json(_call(store.user, user_id), base(request)))

    @app.put("/Users/{user_id}")
    async def replace_user(user_id: str, request: Request) -> Response:
        """Replace a user (``active`` false deprovisions them)."""
        fields = user_fields(resource(await _json(request), USER_SCHEMA))
        return ScimResponse(user_json(update(user_id, fields), base(request)))

    @app.patch("/Users/{user_id}")
    async def patch(user_id: str, request: Request) -> Response:
        """Apply PATCH operations to a user (``active`` false deprovisions them)."""
        ops = operations(await _json(request))
        return ScimResponse(user_json(update(user_id, patch_user(_call(store.user, user_id), ops)), base(request)))

    def update(user_id: str, fields: dict[str, Any]) -> User:
        """Update a user; deactivating them ends what ``refuse_from_now`` ends."""
        before = _call(store.user, user_id)
        after = _call(store.update_user, user_id, **fields)
        if before.active and not after.active:
            refuse_from_now(after, deleted=False)
        return after

    @app.delete("/Users/{user_id}")
    def delete_user(user_id: str) -> Response:
        """Delete a user: refused from now on, their API keys revoked."""
        refuse_from_now(_call(store.delete_user, user_id), deleted=True)
        return Response(status_code=204)

    # ------------------------------------------------------------------- groups

    @app.post("/Groups")
    async def create_group(request: Request) -> Response:
        """Provision a group with its members (201, with ``Location``)."""
        body = resource(await _json(request), GROUP_SCHEMA)
        members = member_ids(body.get("members", []))
        group = _call(store.create_group, text(body, "displayName", True), members, text(body, "externalId"))
        return ScimResponse(group_json(group, base(request)), 201, headers={"Location": f"{base(request)}/Groups/{group.id}"})

    @app.get("/Groups")
    def list_groups(request: Request) -> Response:
        """The groups, filtered and paged (``excludedAttributes=members`` leaves members out)."""
        found = parse_filter(request.query_params.get("filter"), ("displayName", "externalId", "id"))
        groups = store.groups(found[1] if found and found[0] == "displayName" else None)
        if found and found[0] != "displayName":
            groups = [g for g in groups if (g.external_id if found[0] == "externalId" else g.id) == found[1]]
        members = "members" not in request.query_params.get("excludedAttributes", "").lower()
        return _page(request, [group_json(g, base(request), members) for g in groups])

    @app.get("/Groups/{group_id}")
    def get_group(group_id: str, request: Request) -> Response:
        """One group, with its members unless excluded."""
        members = "members" not in request.query_params.get("excludedAttributes", "").lower()
        return ScimResponse(group_json(_call(store.group, group_id), base(request), members))

    @app.put("/Groups/{group_id}")
    async def replace_group(group_id: str, request: Request) -> Response:
        """Replace a group's name and members."""
        body = resource(await _json(request), GROUP_SCHEMA)
        name, external = text(body, "displayName", True), text(body, "externalId")
        members = member_ids(body.get("members", []))
        group = _call(store.update_group, group_id, display_name=name, external_id=external, members=members)
        return ScimResponse(group_json(group, base(request)))

    @app.patch("/Groups/{group_id}")
    async def patch_group(group_id: str, request: Request) -> Response:
        """Apply PATCH operations to a group (members added, removed or replaced; renamed)."""
        changes = [_group_change(op, path, value) for op, path, value in operations(await _json(request))]
        _call(store.group, group_id)
        for change in changes:
            _call(store.update_group, group_id, **change)
        excluded = "members" in request.query_params.get("excludedAttributes", "").lower()
        return ScimResponse(group_json(_call(store.group, group_id), base(request), not excluded))

    @app.delete("/Groups/{group_id}")
    def delete_group(group_id: str) -> Response:
        """Delete a group: its members lose it on their next request."""
        _call(store.delete_group, group_id)
        return Response(status_code=204)

    return app


def _group_change(op: str, path: str | None, value: Any) -> dict[str, Any]:
    """The ``Provisioning.update_group`` arguments of one PATCH operation on a group."""
    if path is None:
        if not isinstance(value, dict):
            raise ScimError(400, f"{op} without a path needs an object value", "invalidValue")
        change: dict[str, Any] = {}
        for key, item in value.items():
            change.update(_group_change(op, key, item) if key.lower() != "id" else {})
        return change
    lowered = path.lower()
    if lowered == "displayname":
        if op == "remove" or not isinstance(value, str):
            raise ScimError(400, "displayName must be a string and cannot be removed", "invalidValue")
        return {"display_name": value}
    if lowered == "externalid":
        return {"external_id": "" if op == "remove" else text({"externalId": value}, "externalId")}
    if lowered == "members":
        if op == "remove":
            return {"remove": member_ids(value)} if value is not None else {"members": []}
        return {"add": member_ids(value)} if op == "add" else {"members": member_ids(value)}
    if lowered.startswith("members[value eq "):
        parsed = parse_filter(path[len("members[") :].rstrip("]"), ("value",))
        if op != "remove" or parsed is None:
            raise ScimError(400, f"{op} is not supported on {path}", "invalidPath")
        return {"remove": [parsed[1]]}
    raise ScimError(400, f"{path!r} is not an attribute of a group this server keeps", "invalidPath")


def _call(method: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a ``Provisioning`` method, its errors as SCIM's: 404, 409 ``uniqueness``, 400 ``invalidValue``."""
    try:
        return method(*args, **kwargs)
    except Unknown as exc:
        raise ScimError(404, str(exc)) from None
    except Conflict as exc:
        raise ScimError(409, str(exc), "uniqueness") from None
    except Invalid as exc:
        raise ScimError(400, str(exc), "invalidValue") from None


async def _json(request: Request) -> Any:
    """The request's JSON body; 413 over ``MAX_BODY``, 400 ``invalidSyntax`` when it is not JSON."""
    body = await request.body()
    if len(body) > MAX_BODY:
        raise ScimError(413, f"the body is larger than {MAX_BODY // 1024} KiB")
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ScimError(400, f"the body is not JSON ({exc})", "invalidSyntax") from None


def _page(request: Request, resources: list[dict[str, Any]]) -> Response:
    """One page of ``resources`` by ``startIndex`` (1-based) and ``count`` (at most ``MAX_RESULTS``)."""
    try:
        start = max(1, int(request.query_params.get("startIndex", "1")))
        count = max(0, min(discovery.MAX_RESULTS, int(request.query_params.get("count", str(discovery.MAX_RESULTS)))))
    except ValueError:
        raise ScimError(400, "startIndex and count must be integers", "invalidValue") from None
    chosen = resources[start - 1 : start - 1 + count]
    return ScimResponse(discovery.listing(chosen, total=len(resources), start=start))


def _one(documents: list[dict[str, Any]], name: str) -> dict[str, Any]:
    """The document whose ``id`` is ``name``; 404 otherwise."""
    for document in documents:
        if document["id"] == name:
            return document
    raise ScimError(404, f"no {name}")


def _install_errors(app: FastAPI) -> None:
    """Every error of ``app`` in the SCIM shape: ours, 404/405, and anything unexpected (500, no details)."""

    async def scim_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ScimError)
        headers = {"WWW-Authenticate": 'Bearer realm="scim"'} if exc.status == 401 else None
        return ScimResponse(exc.body(), exc.status, headers=headers)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return ScimResponse(ScimError(exc.status_code, str(exc.detail)).body(), exc.status_code)

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("SCIM %s %s failed: %s: %s", request.method, request.url.path, type(exc).__name__, exc, exc_info=exc)
        return ScimResponse(ScimError(500, "the request failed; the server log has the details").body(), 500)

    app.add_exception_handler(ScimError, scim_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
