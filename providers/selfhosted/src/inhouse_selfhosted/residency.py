"""Where a self-hosted provider's text goes, judged from its server's address.

A server on loopback or a private network (RFC 1918, unique-local IPv6, link-local, a
single-label host name or one under an internal-only suffix such as ``.internal``) is
taken to be the company's own: residency ``self-hosted``, which ``routing.private`` may
use. Any other address (``api.openai.com``, a public IP) is ``external``, unless the
profile declares its residency, for a public name that does resolve to the company's own
servers. No name is looked up: the judgement uses the configuration alone.
"""

from __future__ import annotations

import ipaddress
from typing import Literal
from urllib.parse import urlsplit

Declared = Literal["self-hosted", "in-account", "external"]
INTERNAL_SUFFIXES = (".internal", ".local", ".lan", ".localdomain", ".home.arpa", ".corp", ".intranet", ".private")


def judge(url: str, declared: Declared | None) -> tuple[Declared, str]:
    """``(residency, why)`` for a server at ``url``; ``declared`` (the profile's ``residency``
    key) wins and is said to be declared."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if declared is not None:
        return declared, f"declared in the configuration (residency = {declared!r})"
    if _private(host):
        return "self-hosted", f"{host} is on loopback or a private network"
    return "external", f'{host} is not on a private network or loopback: set residency = "self-hosted" if it is yours'


def _private(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host == "localhost" or "." not in host or host.endswith(INTERNAL_SUFFIXES)
    return address.is_private or address.is_loopback or address.is_link_local
