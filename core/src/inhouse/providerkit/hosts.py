"""Where a plugin's client connects, as a residency (what the conformance kit checks)."""

from __future__ import annotations

import ipaddress

from inhouse.plugins import Residency


def host_residency(host: str) -> Residency:
    """``local`` for this machine (loopback, ``localhost``), ``self-hosted`` for a private
    address, ``external`` for anything else (a public address, or a name: a name's address is
    not known until it is resolved, so it is not trusted to be private)."""
    if host == "localhost":
        return "local"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return "external"
    if address.is_loopback:
        return "local"
    return "self-hosted" if address.is_private else "external"
