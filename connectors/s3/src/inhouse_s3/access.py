"""Who may read an object and its label: from the object's tags or from a map of key prefixes.

Object tags (``tags`` in the connector's table; read with one GetObjectTagging per object)::

    inhouse-groups = "hr legal"     # group names (or user:NAME), separated by spaces or commas
    inhouse-users  = "ana bob"      # people (user:NAME)
    inhouse-public = "true"         # everyone (*)
    inhouse-label  = "confidential" # public, internal, confidential, restricted

A prefix map (``prefix_access``) gives the objects under a key prefix (relative to the
connector's ``prefix``) groups, users, public and a label; for each setting the longest prefix
that sets it wins. A malformed tag fails its object (never silently public).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from pydantic import Field, field_validator

from inhouse.access import PUBLIC, normalise, user_principal
from inhouse.config import LABELS, Label
from inhouse.errors import ConfigError, IngestError
from inhouse.plugins import PluginConfig

# An object's ACL (None: not said) and label (None: not said).
Access = tuple[tuple[str, ...] | None, str | None]


class TagNames(PluginConfig):
    """``tags = { ... }``: the names of the object tags that carry access (an empty table takes the defaults)."""

    groups: str = Field("inhouse-groups", description="tag listing group names (or user:NAME), space or comma separated")
    users: str = Field("inhouse-users", description="tag listing user names")
    public: str = Field("inhouse-public", description='tag "true" makes the object public, "false" does not')
    label: str = Field("inhouse-label", description="tag holding the sensitivity label")


class PrefixAccess(PluginConfig):
    """One ``[[connectors.NAME.prefix_access]]`` entry: access for the objects under ``prefix``."""

    prefix: str = Field(description="a key prefix relative to the connector's prefix ('hr/'; '' is every object)")
    groups: list[str] = Field(default_factory=list)
    users: list[str] = Field(default_factory=list)
    public: bool = False
    label: Label | None = None

    @field_validator("groups")
    @classmethod
    def _principals(cls, value: list[str]) -> list[str]:
        try:
            return list(normalise(value, "prefix_access groups"))
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    def acl(self) -> tuple[str, ...] | None:
        """The ACL this entry gives (None when it names nobody)."""
        if self.public:
            return (PUBLIC,)
        if self.groups or self.users:
            return tuple(self.groups) + tuple(map(user_principal, self.users))
        return None


def from_prefixes(path: str, entries: Sequence[PrefixAccess]) -> Access:
    """The ACL and label the longest matching prefixes give the object at ``path``, each on its own."""
    acl, label, acl_len, label_len = None, None, -1, -1
    for entry in entries:
        if not path.startswith(entry.prefix):
            continue
        given = entry.acl()
        if given is not None and len(entry.prefix) > acl_len:
            acl, acl_len = given, len(entry.prefix)
        if entry.label is not None and len(entry.prefix) > label_len:
            label, label_len = entry.label, len(entry.prefix)
    return acl, label


def from_tags(tags: Mapping[str, str], names: TagNames, key: str) -> Access:
    """The ACL and label object ``key``'s tags give (None where no tag says); raises
    ``IngestError`` naming the tag for a malformed value."""
    groups, users = _words(tags.get(names.groups)), _words(tags.get(names.users))
    public = tags.get(names.public)
    if public is not None and public.strip().lower() not in ("true", "false"):
        raise IngestError(f"object {key}: tag {names.public} must be 'true' or 'false', not {public!r}")
    acl = None
    if public is not None and public.strip().lower() == "true":
        acl = (PUBLIC,)
    elif groups is not None or users is not None or public is not None:
        try:
            acl = normalise(groups or [], f"object {key}: tag {names.groups}") + tuple(map(user_principal, users or []))
        except ConfigError as exc:
            raise IngestError(str(exc)) from None
    label = tags.get(names.label)
    if label is not None and label.strip().lower() not in LABELS:
        raise IngestError(f"object {key}: tag {names.label} must be one of {', '.join(LABELS)}, not {label!r}")
    return acl, (label.strip().lower() if label is not None else None)


def _words(value: str | None) -> list[str] | None:
    return None if value is None else [w for w in re.split(r"[\s,]+", value) if w]
