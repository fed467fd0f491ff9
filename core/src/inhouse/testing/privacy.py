"""What the privacy checks of the conformance kit watch: where a plugin connects and where it writes.

``connections(residency)`` records every destination a Python socket connects to while it is
active and refuses (without sending anything) those the declared residency does not allow:

| residency     | may connect to                                                  |
|---------------|-----------------------------------------------------------------|
| local         | loopback addresses (127.0.0.0/8, ::1, ``localhost``), Unix sockets |
| self-hosted   | the above and private networks (10/8, 172.16/12, 192.168/16, fc00::/7) |
| in-account    | not checked: a cloud account's endpoints are public addresses   |
| external      | anywhere                                                        |

It sees connections made through Python's ``socket`` module (urllib, http.client, requests,
httpx, botocore, asyncio); a native library that opens its own sockets is not seen.

``Writes`` snapshots folders before and after a plugin runs and names every file that
appeared or changed outside the plugin's data folder (``Plugin.home``).
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

#: Residencies whose destinations the kit checks, and the rule each follows.
CHECKED_RESIDENCIES = ("local", "self-hosted")


@dataclass
class Connections:
    """The destinations seen while :func:`connections` was active."""

    residency: str
    seen: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def allowed(host: str, residency: str) -> bool:
    """Whether a plugin of ``residency`` may connect to ``host`` (an address or a name)."""
    if residency not in CHECKED_RESIDENCIES:
        return True
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False  # a name the plugin resolved itself: not provably loopback or private
    if address.is_loopback:
        return True
    return residency == "self-hosted" and address.is_private and not address.is_link_local


def _destination(address: object) -> str | None:
    """The host of a socket address, or None for a Unix socket (a path: always local)."""
    if isinstance(address, tuple) and address:
        return str(address[0])
    return None


@contextmanager
def connections(residency: str) -> Iterator[Connections]:
    """Record (and, for ``local`` and ``self-hosted``, refuse when not allowed) every socket
    connection the process makes while active."""
    record = Connections(residency)
    original_connect, original_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guard(address: object) -> None:
        host = _destination(address)
        if host is None:
            return
        record.seen.append(f"{host}:{address[1]}" if isinstance(address, tuple) and len(address) > 1 else host)
        if not allowed(host, residency):
            record.refused.append(record.seen[-1])
            raise ConnectionRefusedError(f"inhouse conformance kit: a {residency} plugin may not connect to {record.seen[-1]}")

    def connect(sock: socket.socket, address: object) -> None:
        guard(address)
        return original_connect(sock, address)

    def connect_ex(sock: socket.socket, address: object) -> int:
        guard(address)
        return original_connect_ex(sock, address)

    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex  # type: ignore[method-assign]
    try:
        yield record
    finally:
        socket.socket.connect, socket.socket.connect_ex = original_connect, original_connect_ex  # type: ignore[method-assign]


class Writes:
    """Files under ``roots`` as they were when built; :meth:`outside` names what changed since,
    leaving out anything under ``allowed`` (the plugin's data folder)."""

    def __init__(self, roots: list[Path], allowed: Path | None):
        self.roots = roots
        self.allowed = allowed.resolve() if allowed is not None else None
        self.before = self._snapshot()

    def _snapshot(self) -> dict[Path, tuple[int, int]]:
        files: dict[Path, tuple[int, int]] = {}
        for root in self.roots:
            for folder, _dirs, names in os.walk(root):
                for name in names:
                    path = Path(folder, name).resolve()
                    if self.allowed is not None and path.is_relative_to(self.allowed):
                        continue
                    try:
                        stat = path.stat()
                    except OSError:
                        continue
                    files[path] = (stat.st_size, stat.st_mtime_ns)
        return files

    def outside(self) -> list[str]:
        """Files created or changed outside the data folder since the snapshot, sorted."""
        after = self._snapshot()
        return sorted(str(path) for path, state in after.items() if self.before.get(path) != state)
