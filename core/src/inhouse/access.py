"""Who may read what: the one access rule every store and route applies.

A document (and each of its chunks) carries an access list of principals; an empty list
means everyone. A request runs as a set of principals (today: the user's name); ``None``
means the trusted local caller (the CLI or the SDK without ``user=``), who sees everything.
"""

from __future__ import annotations

from collections.abc import Sequence


def principals(user: str | None) -> list[str] | None:
    """The principals a request by ``user`` runs as (None: no filtering, the local caller)."""
    return [user] if user else None


def readable(acl: Sequence[str], who: Sequence[str] | None) -> bool:
    """The rule: no filtering (``who`` is None), a public item (empty ``acl``), or a shared principal."""
    return who is None or not acl or not set(acl).isdisjoint(who)
