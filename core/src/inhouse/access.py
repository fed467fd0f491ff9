"""Who may read what: the one access rule every store and route applies.

A document (and each of its chunks) carries an access list of principals:

- ``user:NAME`` — one person (a personal upload's owner);
- ``group:NAME`` — everyone in a group of ``[users.NAME] groups``;
- ``*`` — everyone (public).

An empty list means nobody: sources fail closed. Ingestion gives a source that names no
principals ``*`` only when the configuration has no users (the single-person local
default) or a ``.inhouse-acl`` file / ``[[access.rules]]`` entry marks it public.

A request runs as the principals of its user (``Directory.principals``); ``None`` means the
trusted local caller (the CLI or the SDK without ``user=``), who sees everything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Annotated, Any

from pydantic import AfterValidator

from inhouse.errors import ConfigError

PUBLIC = "*"
USER = "user:"
GROUP = "group:"


def user_principal(name: str) -> str:
    """The principal of one person."""
    return f"{USER}{name}"


def group_principal(name: str) -> str:
    """The principal of a group."""
    return f"{GROUP}{name}"


@dataclass(frozen=True)
class Roster:
    """What an identity provider provisioned (``inhouse.provisioning``): each active user's groups,
    and the users it deprovisioned (deactivated or deleted), who may not read anything."""

    groups: Mapping[str, Sequence[str]] = field(default_factory=dict)
    blocked: frozenset[str] = frozenset()


class Directory:
    """The users and groups of the configuration (``[users.NAME] groups = [...]``), read
    afresh on every request, so a membership removed from the configuration applies on the
    next query; ``signed_in`` adds the groups a sign-in vouches for (an identity provider's
    group claim, by user name), as of that user's latest request, and ``provisioned`` (a
    ``Roster`` of ``inhouse.provisioning``) the groups of provisioned users; a user it names as
    blocked (deprovisioned) has no groups and no principals at all."""

    def __init__(
        self, users: Mapping[str, Any], signed_in: Mapping[str, Sequence[str]] | None = None, provisioned: Roster | None = None
    ):
        self.users = {name: list(getattr(spec, "groups", None) or []) for name, spec in users.items()}
        self._configured = bool(self.users)
        roster = provisioned or Roster()
        for source in (roster.groups, dict(signed_in or {})):  # a copy: sign-ins go on while this runs
            for name, groups in source.items():
                self.users[name] = list(dict.fromkeys([*self.users[name], *groups])) if name in self.users else list(groups)
        self.blocked = roster.blocked
        for name in self.blocked:
            self.users.pop(name, None)

    @property
    def configured(self) -> bool:
        """Whether the configuration names any users (else one local person reads everything)."""
        return self._configured

    def groups(self, user: str) -> list[str]:
        """The groups ``user`` belongs to (none for a user the configuration does not name)."""
        return list(self.users.get(user, []))

    def principals(self, user: str | None) -> list[str] | None:
        """The principals a request by ``user`` runs as (None: no filtering, the local caller)."""
        if user is None:
            return None
        if user in self.blocked:
            return []
        return [PUBLIC, user_principal(user), *(group_principal(g) for g in self.groups(user))]


class Vouched(dict[str, tuple[str, ...]]):
    """The groups a sign-in vouches each user is in (an identity provider's group claim, by user
    name), as of that user's latest request; ``Directory`` adds them to the configuration's."""

    def vouch(self, user: str, groups: Sequence[str]) -> None:
        """Record ``user``'s groups, replacing what an earlier request said."""
        self[user] = tuple(groups)


def readable(acl: Sequence[str], who: Sequence[str] | None) -> bool:
    """The rule: no filtering (``who`` is None), or a principal in common (``*`` for public).
    An empty ``acl`` is readable by nobody but the local caller."""
    return who is None or not set(acl).isdisjoint(who)


def normalise(entries: Iterable[str], where: str = "acl") -> tuple[str, ...]:
    """Principals as the configuration writes them: ``*``, ``user:NAME`` and ``group:NAME`` as
    written, a plain ``NAME`` as the group ``group:NAME``. Raises ``ConfigError`` for an empty
    name or an unknown ``kind:`` prefix (``where`` names the setting in the message)."""
    out: list[str] = []
    for entry in entries:
        kind, sep, name = entry.partition(":")
        if entry == PUBLIC or (sep and kind in ("user", "group") and name.strip()):
            principal = entry
        elif not sep and entry.strip():
            principal = group_principal(entry)
        else:
            raise ConfigError(f"{where}: {entry!r} is not a principal; write a group name, 'user:NAME', 'group:NAME' or '*'")
        if principal not in out:
            out.append(principal)
    return tuple(out)


def _principals(value: list[str]) -> list[str]:
    try:
        return list(normalise(value))
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


Principals = Annotated[list[str], AfterValidator(_principals)]
"""A plugin ``Config``'s access list (``acl = [...]``), checked and normalised by :func:`normalise`."""


class Rules:
    """What a source gets when neither its connector nor a ``.inhouse-acl`` file says: the
    first ``[[access.rules]]`` entry whose glob matches its path (relative to the connector's
    root) that names groups or ``public`` gives the ACL, the first with a ``label`` the label;
    else ``*`` when the configuration has no users and nobody (``()``) when it has, and
    ``[access] default_label``."""

    def __init__(self, settings: Any, users_configured: bool):
        self.rules = list(settings.rules)
        self.default_label: str = settings.default_label
        self.default_acl: tuple[str, ...] = () if users_configured else (PUBLIC,)

    def resolve(self, path: str, acl: tuple[str, ...] | None, label: str | None) -> tuple[tuple[str, ...], str]:
        """The ACL and label of the source at ``path``, keeping what the source already says."""
        for rule in self.rules:
            if (acl is not None and label is not None) or not matches(path, [rule.glob]):
                continue
            if acl is None and (rule.public or rule.groups):
                acl = (PUBLIC,) if rule.public else normalise(rule.groups, f"access.rules {rule.glob!r} groups")
            if label is None and rule.label is not None:
                label = rule.label
        return (self.default_acl if acl is None else acl), (self.default_label if label is None else label)


@lru_cache(maxsize=256)
def compile_glob(pattern: str) -> re.Pattern[str]:
    """Compile a path glob. ``**/`` spans folders, ``*`` and ``?`` stay inside one name; a
    pattern without ``/`` matches a name at any depth (``*.md``), as in ``.gitignore``."""
    if "/" not in pattern:
        pattern = "**/" + pattern
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def matches(path: str, patterns: Sequence[str]) -> bool:
    """True when the relative POSIX path matches any of the globs (access rules, and the
    filesystem connector's include/exclude)."""
    return any(compile_glob(p).match(path) for p in patterns)
