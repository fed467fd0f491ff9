"""The parser worker: a child process that parses one file at a time under resource limits.

``inhouse.parsing.sandbox`` starts it as ``python -c "...worker import main; main()" LIMITS``
(LIMITS: JSON with ``memory_mb``, ``cpu_s``, ``max_text_bytes``) and talks to it over stdin and
stdout in the frames of ``inhouse.parsing.wire``. It imports the installed parsers once, then
caps its address space at what that took plus ``memory_mb``; before each file it allows
``cpu_s`` more seconds of CPU time (past them the kernel ends it with SIGXCPU). The parser is
looked up exactly as in-process parsing does it: ``inhouse.parsing.parse``.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import sys
from typing import Any

from inhouse import registry
from inhouse.errors import IngestError, PluginError
from inhouse.parsing import UnsupportedType, parse, wire

_MB = 1024 * 1024


def main() -> None:
    """Serve parse requests until stdin closes (the parent is done, or gone)."""
    limits = json.loads(sys.argv[1])
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(2, 1)  # what a parser prints goes to stderr, never into the replies
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGXCPU and crashes leave no core files
    for name in registry.installed("parsers"):
        with contextlib.suppress(PluginError):  # a broken parser fails when a file needs it
            registry.load_class("parsers", name)
    baseline = _address_space()
    memory = limits["memory_mb"] * _MB
    _set_limit(resource.RLIMIT_AS, baseline + memory)
    _send(replies, {"kind": "ready"})
    while (header := wire.read_frame(requests)) is not None and (data := wire.read_frame(requests)) is not None:
        request = wire.load(header)
        used = resource.getrusage(resource.RUSAGE_SELF)
        _set_limit(resource.RLIMIT_CPU, math.ceil(used.ru_utime + used.ru_stime + limits["cpu_s"]) + 1)
        reply = _parse(data, request["path"], request["media_type"], limits["max_text_bytes"])
        if baseline and _peak_address_space() > baseline + memory // 2:
            # Memory the allocator kept would shrink the next file's share; a fresh worker also
            # keeps the peak meaningful: past half the limit it was this file's doing.
            reply["retire"] = True
            if reply["kind"] == "failed":  # libraries report a failed allocation in their own words
                reply["kind"] = "memory"
        _send(replies, reply)
        if reply.get("retire"):
            return


def _parse(data: bytes, path: str, media_type: str, max_text_bytes: int) -> dict[str, Any]:
    """The reply for one file (see ``inhouse.parsing.wire``)."""
    try:
        document = parse(data, path, media_type)
        size = wire.text_bytes(document)
        if size > max_text_bytes:
            return {"kind": "text", "bytes": size}
        return wire.document_message(document)
    except UnsupportedType as exc:
        return {"kind": "unsupported", "reason": str(exc)}
    except Exception as exc:  # MemoryError included; parser bugs must not end the worker
        if _out_of_memory(exc):
            return {"kind": "memory", "reason": "", "retire": True}
        reason = str(exc) if isinstance(exc, IngestError) else f"{type(exc).__name__}: {exc}"
        return {"kind": "failed", "reason": reason}


def _out_of_memory(exc: BaseException | None) -> bool:
    """Whether ``exc``, or an exception it was raised from or while handling, is a ``MemoryError``
    (parsers wrap what their libraries raise, so the limit often surfaces as "corrupt file")."""
    seen = 0
    while exc is not None and seen < 20:
        if isinstance(exc, MemoryError):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _send(stream: Any, message: dict[str, Any]) -> None:
    try:
        payload = wire.dump(message)
    except MemoryError:
        payload = wire.dump({"kind": "memory", "reason": "", "retire": True})
    wire.write_frame(stream, payload)
    stream.flush()


def _address_space() -> int:
    """This process's virtual memory size in bytes (0 where ``/proc`` does not say)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _peak_address_space() -> int:
    """The largest virtual memory size this process has had, in bytes (0 where unknown)."""
    try:
        with open("/proc/self/status") as fh:
            line = next(line for line in fh if line.startswith("VmPeak:"))
        return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError, StopIteration):
        return 0


def _set_limit(which: int, soft: int) -> None:
    """Set the soft limit ``which`` to ``soft`` (never above the hard limit; where the system
    refuses, the parent's wall-clock timeout still bounds the file)."""
    _, hard = resource.getrlimit(which)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(which, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))
