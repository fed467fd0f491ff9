"""SCIM 2.0 resources (RFC 7643) and what the requests of RFC 7644 say, for ``inhouse_ui.scim``:
users and groups of ``inhouse.provisioning`` as SCIM JSON, the bodies of POST and PUT read back,
``filter`` (``attribute eq "value"``), and PATCH operations applied the way Okta and Microsoft
Entra ID send them (``op`` in any case, a ``path`` or a value object, ``"False"`` for false,
``members[value eq "id"]``). A request that cannot be read is a ``ScimError`` with the status
and ``scimType`` of RFC 7644 section 3.12, never a server error.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from inhouse.provisioning import Group, User

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
_SERVER_OWNED = {"schemas", "id", "meta", "groups", "password"}  # never stored from a request
_FILTER = re.compile(r'^\s*([A-Za-z][\w.:]*)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)
_PATH = re.compile(r'^([A-Za-z][\w$-]*)(?:\[\s*(\w+)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*\])?(?:\.([A-Za-z][\w$-]*))?$', re.IGNORECASE)


class ScimError(Exception):
    """An error answered in the SCIM shape: ``status``, ``detail`` and (for 400s) a ``scimType``."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None):
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type

    def body(self) -> dict[str, Any]:
        """The error resource of RFC 7644 section 3.12."""
        body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(self.status), "detail": self.detail}
        if self.scim_type:
            body["scimType"] = self.scim_type
        return body


def _time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def user_json(user: User, base: str) -> dict[str, Any]:
    """A user as a SCIM User resource (``base``: the ``.../scim/v2`` address)."""
    body: dict[str, Any] = {**user.attributes, "schemas": [USER_SCHEMA, *_extensions(user.attributes)], "id": user.id}
    body.update(userName=user.user_name, active=user.active)
    if user.external_id is not None:
        body["externalId"] = user.external_id
    body["groups"] = [{"value": gid, "display": name, "$ref": f"{base}/Groups/{gid}"} for gid, name in user.groups]
    body["meta"] = _meta("User", f"{base}/Users/{user.id}", user.created, user.modified, user.version)
    return body


def group_json(group: Group, base: str, members: bool = True) -> dict[str, Any]:
    """A group as a SCIM Group resource (without ``members`` when the client excluded them)."""
    body: dict[str, Any] = {"schemas": [GROUP_SCHEMA], "id": group.id, "displayName": group.display_name}
    if group.external_id is not None:
        body["externalId"] = group.external_id
    if members:
        body["members"] = [{"value": uid, "display": name, "$ref": f"{base}/Users/{uid}"} for uid, name in group.members]
    body["meta"] = _meta("Group", f"{base}/Groups/{group.id}", group.created, group.modified, group.version)
    return body


def _meta(kind: str, location: str, created: float, modified: float, version: int) -> dict[str, str]:
    return {
        "resourceType": kind,
        "created": _time(created),
        "lastModified": _time(modified),
        "location": location,
        "version": f'W/"{version}"',
    }


def _extensions(attributes: dict[str, Any]) -> list[str]:
    return [key for key in attributes if key.startswith("urn:")]


def resource(body: Any, schema: str) -> dict[str, Any]:
    """The JSON object of a POST or PUT: 400 ``invalidSyntax`` when it is not an object of ``schema``."""
    if not isinstance(body, dict):
        raise ScimError(400, "the body must be a JSON object", "invalidSyntax")
    schemas = body.get("schemas", [schema])
    if not isinstance(schemas, list) or schema not in schemas:
        raise ScimError(400, f"the body's schemas must include {schema}", "invalidSyntax")
    return body


def text(body: dict[str, Any], key: str, required: bool = False) -> str | None:
    """The string ``body[key]`` (``key`` without case, as SCIM attribute names are); 400 ``invalidValue``."""
    value = next((v for k, v in body.items() if k.lower() == key.lower()), None)
    if value is None and required:
        raise ScimError(400, f"{key} is required", "invalidValue")
    if value is not None and not isinstance(value, str):
        raise ScimError(400, f"{key} must be a string", "invalidValue")
    return value


def boolean(value: Any, key: str = "active") -> bool:
    """A SCIM boolean: true/false, or (as Entra ID sends) the strings "True"/"False"; 400 otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ScimError(400, f"{key} must be true or false", "invalidValue")


def user_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``Provisioning.create_user``/``update_user`` in a User body (a full replacement)."""
    attributes = {
        k: v for k, v in body.items() if k not in _SERVER_OWNED and k.lower() not in ("username", "active", "externalid")
    }
    active = next((v for k, v in body.items() if k.lower() == "active"), True)
    return {
        "user_name": text(body, "userName", required=True),
        "active": boolean(active),
        "external_id": text(body, "externalId"),
        "attributes": attributes,
    }


def member_ids(value: Any) -> list[str]:
    """The user ids of a ``members`` value (``[{"value": id}, ...]``); 400 otherwise."""
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(m, dict) and isinstance(m.get("value"), str) for m in value):
        raise ScimError(400, 'members must be a list of {"value": "<user id>"}', "invalidValue")
    return [m["value"] for m in value]


def parse_filter(expression: str | None, allowed: tuple[str, ...]) -> tuple[str, str] | None:
    """``(attribute, value)`` of ``attribute eq "value"`` with an attribute of ``allowed`` (any case), or None
    for no filter; 400 ``invalidFilter`` for anything else."""
    if expression is None or not expression.strip():
        return None
    match = _FILTER.match(expression)
    names = {name.lower(): name for name in allowed}
    if match is None or match.group(1).lower() not in names:
        raise ScimError(400, f'filter must be `{" or ".join(allowed)} eq "value"`', "invalidFilter")
    return names[match.group(1).lower()], re.sub(r"\\(.)", r"\1", match.group(2))


def operations(body: Any) -> list[tuple[str, str | None, Any]]:
    """The ``(op, path, value)`` of a PatchOp body, ``op`` lower-cased; 400 when malformed."""
    body = resource(body, PATCH_SCHEMA)
    ops = body.get("Operations", body.get("operations"))
    if not isinstance(ops, list) or not ops:
        raise ScimError(400, "Operations must be a non-empty list", "invalidSyntax")
    out = []
    for op in ops:
        kind = op.get("op") if isinstance(op, dict) else None
        if not isinstance(kind, str) or kind.lower() not in ("add", "replace", "remove"):
            raise ScimError(400, "each operation needs op: add, replace or remove", "invalidSyntax")
        path = op.get("path")
        if path is not None and not isinstance(path, str):
            raise ScimError(400, "path must be a string", "invalidPath")
        if kind.lower() != "remove" and "value" not in op:
            raise ScimError(400, f"{kind} needs a value", "invalidValue")
        if kind.lower() == "remove" and not path and "value" not in op:
            raise ScimError(400, "remove needs a path", "noTarget")
        out.append((kind.lower(), path or None, op.get("value")))
    return out


def patch_user(user: User, ops: list[tuple[str, str | None, Any]]) -> dict[str, Any]:
    """The fields of ``Provisioning.update_user`` after applying ``ops`` to ``user``."""
    state: dict[str, Any] = {**user.attributes, "userName": user.user_name, "active": user.active}
    if user.external_id is not None:
        state["externalId"] = user.external_id
    for op, path, value in ops:
        if path is None:
            if not isinstance(value, dict):
                raise ScimError(400, f"{op} without a path needs an object value", "invalidValue")
            for key, item in value.items():
                _apply(state, op, key, item)
        else:
            _apply(state, op, path, value)
    return user_fields(state)


def _apply(state: dict[str, Any], op: str, path: str, value: Any) -> None:
    """Apply one operation at ``path`` (``attr``, ``attr.sub``, ``attr[key eq "v"].sub``, or an extension
    ``urn:...:attr``) to ``state``, a User as JSON."""
    if path.lower().startswith("urn:"):
        urn, _, attribute = path.rpartition(":")
        if urn.lower() in (USER_SCHEMA.lower(), GROUP_SCHEMA.lower()):
            return _apply(state, op, attribute, value)
        target = state.setdefault(urn, {})
        if not isinstance(target, dict) or not attribute:
            raise ScimError(400, f"{path} is not an attribute", "invalidPath")
        return _set(target, op, attribute, value)
    match = _PATH.match(path)
    if match is None:
        raise ScimError(400, f"{path!r} is not a path this server understands", "invalidPath")
    name, key, wanted, sub = match.groups()
    name = next((k for k in state if k.lower() == name.lower()), name)
    if key is None:
        if sub is None:
            return _set(state, op, name, value)
        parent = state.setdefault(name, {})
        if not isinstance(parent, dict):
            raise ScimError(400, f"{name} is not a complex attribute", "invalidPath")
        return _set(parent, op, sub, value)
    items = state.setdefault(name, [])
    if not isinstance(items, list):
        raise ScimError(400, f"{name} is not a multi-valued attribute", "invalidPath")
    chosen = [i for i in items if isinstance(i, dict) and str(i.get(key)) == wanted]
    if op == "remove":
        state[name] = [i for i in items if i not in chosen] if sub is None else items
        for item in chosen if sub is not None else ():
            item.pop(sub, None)
        return None
    if not chosen:
        chosen = [{key: wanted}]
        items.append(chosen[0])
    for item in chosen:
        if sub is None:
            if not isinstance(value, dict):
                raise ScimError(400, f"{path} needs an object value", "invalidValue")
            item.update(value)
        else:
            item[sub] = value
    return None


def _set(target: dict[str, Any], op: str, key: str, value: Any) -> None:
    key = next((k for k in target if k.lower() == key.lower()), key)
    if "." in key:  # Entra ID sends {"name.givenName": "Ana"} in a value object
        head, _, rest = key.partition(".")
        return _apply(target, op, f"{head}.{rest}", value)
    if op == "remove":
        target.pop(key, None)
    elif op == "add" and isinstance(target.get(key), list) and isinstance(value, list):
        target[key] = [*target[key], *(v for v in value if v not in target[key])]
    else:
        target[key] = value
    return None
