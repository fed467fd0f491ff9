"""Parsing in worker processes under limits, so a hostile file (an XLSX or DOCX bomb, a PDF
that sends a parser into a loop) fails alone instead of hanging or exhausting the server.

A pool of long-lived workers (``inhouse.parsing.worker``, one file at a time each) parses with
the same parser lookup as ``inhouse.parsing.parse``. Per file: ``[ingest] parse_timeout_s`` of
wall-clock time (past it the parent kills the worker) and as many seconds of CPU time,
``parse_memory_mb`` of memory above the worker's own, ``max_text_mb`` of extracted text.
Results come back as JSON (``inhouse.parsing.wire``), never pickle. A worker that was killed
or crashed is replaced by a fresh one for the next file.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from inhouse.config import IngestSettings
from inhouse.errors import IngestError
from inhouse.parsing import UnsupportedType, wire
from inhouse.types import ParsedDocument

__all__ = ["Limits", "ParserPool", "parse_sandboxed"]

_MB = 1024 * 1024
_STARTUP_S = 60.0  # importing the parsers on a busy machine; not part of any file's time
_MAIN = "from inhouse.parsing.worker import main; main()"
_ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass(frozen=True)
class Limits:
    """What one file's parsing may use (the ``[ingest]`` settings of the same names)."""

    parse_timeout_s: float
    parse_memory_mb: int
    max_text_mb: float

    @classmethod
    def of(cls, settings: IngestSettings) -> Limits:
        """The limits an ``[ingest]`` table sets."""
        return cls(settings.parse_timeout_s, settings.parse_memory_mb, settings.max_text_mb)


class _Stopped(Exception):
    """The worker ran out of time (``code`` None; it has been killed) or ended (its exit code)
    before replying."""

    def __init__(self, code: int | None):
        super().__init__(code)
        self.code = code


class _Worker:
    """One worker process and the pipes to it."""

    def __init__(self, limits: Limits):
        self.limits = limits
        args = {
            "memory_mb": limits.parse_memory_mb,
            "cpu_s": limits.parse_timeout_s,
            "max_text_bytes": int(limits.max_text_mb * _MB),
        }
        # The parent's import path, so the worker finds the same parsers (entry points included).
        env = {**os.environ, **_ONE_THREAD, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _MAIN, json.dumps(args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            start_new_session=True,  # a Ctrl-C in the terminal is the parent's to handle
        )
        try:
            ready = self._reply(time.monotonic() + _STARTUP_S)
        except _Stopped as exc:
            self.kill()
            why = f"within {_STARTUP_S:g} s" if exc.code is None else f"({_how(exc.code)}; its error is in the log)"
            raise IngestError(f"the parser worker process did not start {why}") from None
        if ready.get("kind") != "ready":
            self.kill()
            raise IngestError("the parser worker process did not start: unexpected first message")

    def ask(self, data: bytes, path: str, media_type: str) -> dict[str, Any]:
        """Send one file and wait for the reply; raises ``_Stopped`` (the worker is then dead)."""
        deadline = time.monotonic() + self.limits.parse_timeout_s
        assert self.proc.stdin is not None
        try:
            wire.write_frame(self.proc.stdin, wire.dump({"path": path, "media_type": media_type}))
            wire.write_frame(self.proc.stdin, data)
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):  # it died while idle (the system killed it)
            raise _Stopped(self.proc.wait()) from None
        return self._reply(deadline)

    def _reply(self, deadline: float) -> dict[str, Any]:
        (size,) = wire.HEADER.unpack(self._read(wire.HEADER.size, deadline))
        if size > 6 * self.limits.max_text_mb * _MB + _MB:  # JSON escapes at most six bytes per character
            self.kill()
            raise IngestError("the parser worker sent an oversized reply")
        try:
            return wire.load(self._read(size, deadline))
        except ValueError as exc:
            self.kill()
            raise IngestError(str(exc)) from None

    def _read(self, size: int, deadline: float) -> bytes:
        assert self.proc.stdout is not None
        fd, out = self.proc.stdout.fileno(), bytearray()
        ready = select.poll()  # not select.select: a busy server's descriptors pass 1024
        ready.register(fd, select.POLLIN)
        while len(out) < size:
            left = deadline - time.monotonic()
            if left <= 0 or not ready.poll(left * 1000):
                self.kill()
                raise _Stopped(None)
            chunk = os.read(fd, min(size - len(out), _MB))
            if not chunk:
                raise _Stopped(self.proc.wait())
            out += chunk
        return bytes(out)

    def alive(self) -> bool:
        """Whether the process is still running."""
        return self.proc.poll() is None

    def close(self) -> None:
        """Let the worker finish (it exits when its stdin closes), killing it if it lingers."""
        if self.proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """End the worker now."""
        if self.alive():
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(BrokenPipeError):
                    stream.close()


def _how(code: int) -> str:
    """An exit code in words: ``SIGKILL``, ``exit status 1``."""
    if code >= 0:
        return f"exit status {code}"
    try:
        return signal.Signals(-code).name
    except ValueError:
        return f"signal {-code}"


class ParserPool:
    """At most ``size`` worker processes parsing under ``limits``; thread-safe. A caller waits
    for a free worker when all are busy (that wait is not part of a file's time)."""

    def __init__(self, limits: Limits, size: int | None = None):
        self.limits = limits
        self._slots = threading.BoundedSemaphore(size or min(4, os.cpu_count() or 1))
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()

    def parse(self, data: bytes, path: str, media_type: str = "") -> ParsedDocument:
        """What ``inhouse.parsing.parse`` returns, parsed in a worker. Raises ``UnsupportedType``
        and ``IngestError`` as it does, and ``IngestError`` naming the limit a file went over."""
        with self._slots:
            with self._lock:
                worker = self._idle.pop() if self._idle else None
            if worker is None or not worker.alive():
                worker = _Worker(self.limits)
            try:
                reply = worker.ask(data, path, media_type)
            except _Stopped as exc:
                worker.kill()
                raise IngestError(self._stopped(exc.code)) from None
            if reply.get("retire"):
                worker.close()
            else:
                with self._lock:
                    self._idle.append(worker)
        return self._result(reply)

    def _stopped(self, code: int | None) -> str:
        """Why a worker gave no reply, naming the limit it went over."""
        limits = self.limits
        if code is None:
            return f"parsing took over {limits.parse_timeout_s:g} s ([ingest] parse_timeout_s)"
        if code == -signal.SIGXCPU:
            return f"parsing used over {limits.parse_timeout_s:g} s of CPU time ([ingest] parse_timeout_s)"
        return (
            f"the parser process stopped ({_how(code)}): the file may be malformed, or need more than "
            f"{limits.parse_memory_mb} MB of memory ([ingest] parse_memory_mb)"
        )

    def _result(self, reply: dict[str, Any]) -> ParsedDocument:
        kind = reply.get("kind")
        if kind == "document":
            try:
                return wire.document_from(reply)
            except ValueError as exc:
                raise IngestError(str(exc)) from None
        if kind == "unsupported":
            raise UnsupportedType(str(reply.get("reason")))
        limits = self.limits
        if kind == "memory" and reply.get("reason"):
            raise IngestError(
                f"parsing failed after using over half of its {limits.parse_memory_mb} MB memory limit "
                f"([ingest] parse_memory_mb): {reply['reason']}"
            )
        if kind == "memory":
            raise IngestError(f"parsing needed over {limits.parse_memory_mb} MB of memory ([ingest] parse_memory_mb)")
        if kind == "text":
            size = float(reply.get("bytes", 0)) / _MB
            limit = f"the {limits.max_text_mb:g} MB limit ([ingest] max_text_mb)"
            raise IngestError(f"the file holds {size:.1f} MB of text, over {limit}")
        raise IngestError(str(reply.get("reason") or "the parser worker sent an unknown reply"))

    def close(self) -> None:
        """Stop the idle workers (busy ones are stopped by their callers' timeouts)."""
        with self._lock:
            workers, self._idle = self._idle, []
        for worker in workers:
            worker.close()


_pools: dict[tuple[Limits, tuple[str, ...]], ParserPool] = {}
_pools_lock = threading.Lock()


def parse_sandboxed(data: bytes, path: str, media_type: str, settings: IngestSettings) -> ParsedDocument:
    """Parse in the process-wide pool for these ``[ingest]`` limits (and this import path, which
    decides the parsers a worker finds); see ``ParserPool.parse``."""
    key = (Limits.of(settings), tuple(sys.path))
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            pool = _pools[key] = ParserPool(key[0])
    return pool.parse(data, path, media_type)


@atexit.register
def _close_pools() -> None:
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()
