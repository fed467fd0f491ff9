"""A drive item's Graph permissions → an inhouse access list.

Graph lists an item's permissions (``GET /drives/{d}/items/{i}/permissions``); each grants
someone access through one of these facets, read here as *grants* (kept raw in the state
file, so a changed ``user_map`` or ``group_map`` applies at the next sync without asking
Graph again):

- ``grantedToV2`` (and, for links, ``grantedToIdentitiesV2``; the deprecated ``grantedTo`` /
  ``grantedToIdentities`` when the V2 ones are missing), a *sharePointIdentitySet*:
  ``user`` (keys: its ``id``, ``email``, ``userPrincipalName``), ``siteUser`` (its
  ``loginName``, the part of a claims login after the last ``|``, ``email``), ``group`` (its
  ``id``, ``email``), ``siteGroup`` (a SharePoint group of the site: its ``loginName`` and
  ``displayName``, e.g. "Contoso Members"). Applications and devices grant nobody.
- ``link`` with ``scope`` ``anonymous`` or ``organization``: the keys ``link:anonymous`` /
  ``link:organization`` (map them in ``group_map`` to say who that is, else they grant
  nobody); ``existingAccess`` links grant nothing; ``users`` links grant the identities above.

A user grant maps through ``user_map`` (to ``user:NAME``), a group or link grant through
``group_map`` (a name → ``group:NAME``; ``*`` or ``user:NAME`` as written). Keys match
without regard to case; the first of a grant's keys that a map names wins. A grant whose
permission carries ``inheritedFrom`` (inherited from a parent folder, the library or the
site) also grants the table's ``acl``. Anything else is dropped: an item whose permissions
map to nobody gets an empty ACL, readable by nobody (fail closed).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from inhouse.access import normalise, user_principal

# (kind "user" | "group", inherited, keys)
Grant = tuple[str, bool, tuple[str, ...]]

_IDENTITIES = {
    "user": ("user", ("id", "email", "userPrincipalName")),
    "siteUser": ("user", ("loginName", "email")),
    "group": ("group", ("id", "email")),
    "siteGroup": ("group", ("loginName", "displayName")),
}


def grants(permissions: Iterable[Mapping[str, Any]]) -> list[Grant]:
    """The grants of an item's permissions (the ``value`` of Graph's answer, every page)."""
    out: list[Grant] = []
    for permission in permissions:
        inherited = permission.get("inheritedFrom") is not None
        link = permission.get("link") or {}
        scope = link.get("scope") if isinstance(link, Mapping) else None
        if scope in ("anonymous", "organization"):
            out.append(("group", inherited, (f"link:{scope}",)))
            continue
        if scope == "existingAccess":
            continue
        for identity_set in _identity_sets(permission):
            out.extend(_from_identity_set(identity_set, inherited))
    return out


def principals(
    item_grants: Iterable[Grant], user_map: Mapping[str, str], group_map: Mapping[str, str], inherited_acl: Iterable[str]
) -> tuple[str, ...]:
    """The access list the grants give: mapped principals, plus ``inherited_acl`` when any grant
    is inherited; sorted, each once. ``user_map``/``group_map`` keys must be lower case."""
    found: set[str] = set()
    for kind, inherited, keys in item_grants:
        table = user_map if kind == "user" else group_map
        name = next((table[k.lower()] for k in keys if k.lower() in table), None)
        if name is not None:
            found.update((user_principal(name),) if kind == "user" else normalise([name], "group_map"))
        if inherited:
            found.update(inherited_acl)
    return tuple(sorted(found))


def _identity_sets(permission: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    single = permission.get("grantedToV2") or permission.get("grantedTo")
    many = permission.get("grantedToIdentitiesV2") or permission.get("grantedToIdentities") or []
    return [s for s in ([single] if single else []) + list(many) if isinstance(s, Mapping)]


def _from_identity_set(identity_set: Mapping[str, Any], inherited: bool) -> list[Grant]:
    out: list[Grant] = []
    for facet, (kind, fields) in _IDENTITIES.items():
        identity = identity_set.get(facet)
        if not isinstance(identity, Mapping):
            continue
        keys = [str(identity[f]) for f in fields if identity.get(f)]
        if facet == "siteUser" and identity.get("loginName"):
            keys.append(str(identity["loginName"]).rsplit("|", 1)[-1])  # i:0#.f|membership|ana@contoso.com
        if keys:
            out.append((kind, inherited, tuple(dict.fromkeys(keys))))
    return out
