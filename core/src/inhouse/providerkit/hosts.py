"""Where a plugin's client connects, as a residency (what the conformance kit checks)."""

from __future__ import annotations

import ipaddress

from inhouse.plugins import Residency


def host_residency(host: str, outside: str) -> tuple[Residency, str]:
    """The residency of a server at ``host`` and why: ``local`` for this machine (loopback,
    ``localhost``), ``self-hosted`` for a private address, else ``external`` with the note
    ``outside`` (a name's address is not known until it is resolved, so it is not trusted to
    be private)."""
    try:
        address = ipaddress.ip_address(host.strip("[]")) if host != "localhost" else None
    except ValueError:
        return "external", outside
    if address is None or address.is_loopback:
        return "local", "the server is on this machine"
    if address.is_private:
        return "self-hosted", f"the server is on a private address ({host})"
    return "external", outside
