"""The SCIM 2.0 discovery documents (RFC 7643 sections 5 to 7) of ``inhouse_ui.scim``: what this
server supports (PATCH and filters yes; bulk, sorting, ETags and password changes no), its two
resource types, and the schemas of their attributes."""

from __future__ import annotations

from typing import Any

from inhouse_ui.scim_resources import GROUP_SCHEMA, LIST_SCHEMA, USER_SCHEMA

CONFIG_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
TYPE_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
MAX_RESULTS = 200  # the most resources one list answers


def service_provider_config(base: str) -> dict[str, Any]:
    """What this server supports."""
    return {
        "schemas": [CONFIG_SCHEMA],
        "documentationUri": "https://github.com/inhouse/inhouse/blob/main/docs/identity.md",
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": False},
        "authenticationSchemes": [
            {"type": "oauthbearertoken", "name": "Bearer token", "description": "The token of [ui.scim] token", "primary": True}
        ],
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base}/ServiceProviderConfig"},
    }


def resource_types(base: str) -> list[dict[str, Any]]:
    """The User and Group resource types."""
    return [
        {
            "schemas": [TYPE_SCHEMA],
            "id": kind,
            "name": kind,
            "endpoint": f"/{kind}s",
            "schema": schema,
            "meta": {"resourceType": "ResourceType", "location": f"{base}/ResourceTypes/{kind}"},
        }
        for kind, schema in (("User", USER_SCHEMA), ("Group", GROUP_SCHEMA))
    ]


def _attribute(name: str, kind: str = "string", **extra: Any) -> dict[str, Any]:
    base = {"name": name, "type": kind, "multiValued": False, "required": False, "caseExact": False}
    base.update(mutability="readWrite", returned="default", uniqueness="none")
    return {**base, **extra}


def schemas(base: str) -> list[dict[str, Any]]:
    """The attributes of users and groups this server keeps and acts on."""
    reference = [_attribute("value", mutability="immutable"), _attribute("display", mutability="readOnly")]
    user = [
        _attribute("userName", required=True, uniqueness="server"),
        _attribute("active", "boolean"),
        _attribute("externalId", caseExact=True),
        _attribute("displayName"),
        _attribute("name", "complex", subAttributes=[_attribute("givenName"), _attribute("familyName")]),
        _attribute("emails", "complex", multiValued=True, subAttributes=[_attribute("value"), _attribute("type")]),
        _attribute("groups", "complex", multiValued=True, mutability="readOnly", subAttributes=reference),
    ]
    group = [
        _attribute("displayName", required=True, uniqueness="server"),
        _attribute("externalId", caseExact=True),
        _attribute("members", "complex", multiValued=True, subAttributes=reference),
    ]
    return [
        {
            "schemas": [SCHEMA_SCHEMA],
            "id": schema,
            "name": kind,
            "attributes": attributes,
            "meta": {"resourceType": "Schema", "location": f"{base}/Schemas/{schema}"},
        }
        for kind, schema, attributes in (("User", USER_SCHEMA, user), ("Group", GROUP_SCHEMA, group))
    ]


def listing(resources: list[dict[str, Any]], total: int | None = None, start: int = 1) -> dict[str, Any]:
    """A ListResponse of ``resources`` (one page of ``total``, from ``start``)."""
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": len(resources) if total is None else total,
        "startIndex": start,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
