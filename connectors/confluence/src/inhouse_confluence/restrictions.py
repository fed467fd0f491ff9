"""Page read restrictions as access lists.

Confluence lets a page be viewed only by some users (by Atlassian ``accountId``) and groups
(by name), and a view restriction on a page also applies to every page below it. The access
list of a page is therefore what every restricted page on its way up to the space allows:
the principals common to all of them. That is conservative: a page restricted to a group
below one restricted to a person is readable by nobody here (Confluence would let the person
in if they are in the group; the connector cannot know). A person missing from ``user_map``
is dropped, a group is ``group:NAME`` (renamed by ``group_map``), and a restricted page
whose restrictions name nobody we know gets the empty list: nobody (fail closed). A page
with no restriction on its way up gets the table's ``acl``, or None (left to the rules).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from inhouse.access import group_principal, user_principal
from inhouse_confluence.client import Client

READ = "/wiki/rest/api/content/{id}/restriction/byOperation/read"
PAGE_SIZE = 100


@dataclass(frozen=True)
class Restriction:
    """Who a page's own read restriction names (empty sets and ``restricted`` False: none)."""

    users: frozenset[str] = frozenset()  # accountIds
    groups: frozenset[str] = frozenset()  # group names
    restricted: bool = False  # it names anyone, even someone without an id or name we can use


def read_restriction(client: Client, page_id: str) -> Restriction:
    """The read restriction of one page (``GET .../restriction/byOperation/read``, every page
    of its users and groups)."""
    users: set[str] = set()
    groups: set[str] = set()
    restricted, start = False, 0
    while True:
        params = {"expand": "restrictions.user,restrictions.group", "start": start, "limit": PAGE_SIZE}
        body = client.json(READ.format(id=page_id), params)
        said = body.get("restrictions") or {}
        found_users = (said.get("user") or {}).get("results") or []
        found_groups = (said.get("group") or {}).get("results") or []
        restricted = restricted or bool(found_users or found_groups)
        users.update(str(u["accountId"]) for u in found_users if isinstance(u, dict) and u.get("accountId"))
        groups.update(str(g["name"]) for g in found_groups if isinstance(g, dict) and g.get("name"))
        if len(found_users) < PAGE_SIZE and len(found_groups) < PAGE_SIZE:
            return Restriction(frozenset(users), frozenset(groups), restricted)
        start += PAGE_SIZE


class AccessMap:
    """Turns restrictions into principals with the table's ``user_map``, ``group_map`` and ``acl``."""

    def __init__(self, user_map: Mapping[str, str], group_map: Mapping[str, str], default: tuple[str, ...] | None):
        self.user_map = dict(user_map)
        self.group_map = dict(group_map)
        self.default = default

    def principals(self, restriction: Restriction) -> list[str]:
        """The principals one restriction names that we can map, people first."""
        people = [user_principal(self.user_map[a]) for a in sorted(restriction.users) if a in self.user_map]
        return people + [group_principal(self.group_map.get(g, g)) for g in sorted(restriction.groups)]

    def acl(self, chain: Sequence[Restriction]) -> tuple[str, ...] | None:
        """The access list of a page whose own restriction comes first in ``chain``, then its
        parent's, up to the space: the principals every restricted level allows."""
        levels = [self.principals(r) for r in chain if r.restricted]
        if not levels:
            return self.default
        common = set(levels[0]).intersection(*map(set, levels[1:]))
        return tuple(p for p in levels[0] if p in common)
