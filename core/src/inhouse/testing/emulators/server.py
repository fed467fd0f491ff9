"""The HTTP plumbing the emulators share: a threaded loopback server run in a daemon thread, keep-alive
HTTP/1.1 connections that read any request body (``Content-Length`` or chunked) and write whole or chunked
answers, recorded requests, and queues of scripted outcomes and fixed replies.

An emulator subclasses :class:`Emulator` and names its connection class, a :class:`Handler` whose
:meth:`Handler.respond` answers one request::

    class EchoHandler(Handler):
        def respond(self, path, query, body):
            self.send(200, {"Content-Type": "application/octet-stream"}, body)

    class Echo(Emulator):
        handler_class = EchoHandler

    with Echo() as emu:
        emu.endpoint_url            # http://127.0.0.1:PORT

:class:`AwsHandler` adds what the AWS service emulators share: SigV4 and botocore checks of every request
(see :mod:`inhouse.testing.emulators.wire`), error answers with a request id, and event-stream answers.
"""

from __future__ import annotations

import json
import ssl
import sys
import threading
import uuid
from collections import deque
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self

from inhouse.testing.emulators.wire import WireRequest, WireResponse, check_sigv4, error_response

# --------------------------------------------------------------------------------------------------- HTTP


class Handler(BaseHTTPRequestHandler):
    """One keep-alive connection of an emulator; a subclass answers each request in :meth:`respond`."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: EmulatorServer

    @property
    def emulator(self) -> Any:
        """The emulator this connection serves."""
        return self.server.emulator

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read ``requests`` instead of an access log."""

    def _dispatch(self) -> None:
        path, _, query = self.path.partition("?")
        self.respond(path, query, self.read_body())

    do_GET = do_POST = do_PUT = do_DELETE = _dispatch

    def respond(self, path: str, query: str, body: bytes) -> None:
        """Answer ``self.command`` on ``path`` (still percent-encoded) with the raw ``query`` string and ``body``."""
        raise NotImplementedError

    def read_body(self) -> bytes:
        """The request body, sent with a ``Content-Length`` or chunked (trailers are skipped)."""
        if "chunked" not in self.headers.get("Transfer-Encoding", "").lower():
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = []
        while size := int(self.rfile.readline().split(b";")[0].strip(), 16):
            parts.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline().strip():
            pass
        return b"".join(parts)

    def send(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        """A whole answer, its ``Content-Length`` added."""
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def begin_chunks(self, status: int, headers: Mapping[str, str]) -> None:
        """Send the status and headers of an answer whose body follows in :meth:`chunk` calls."""
        self.send_response(status)
        for name, value in {**headers, "Transfer-Encoding": "chunked"}.items():
            self.send_header(name, value)
        self.end_headers()

    def chunk(self, data: bytes) -> None:
        """One HTTP/1.1 chunk, flushed at once (an empty one ends the body)."""
        self.wfile.write(f"{len(data):X}\r\n".encode("ascii") + data + b"\r\n")
        self.wfile.flush()

    def end_chunks(self) -> None:
        """The last (empty) chunk."""
        self.chunk(b"")


class EmulatorServer(ThreadingHTTPServer):
    """A threaded server whose connections reach ``emulator``."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler_class: type[Handler], emulator: Emulator) -> None:
        super().__init__(address, handler_class)
        self.emulator = emulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (read timeouts, abandoned streams) are routine; anything else is reported."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


# --------------------------------------------------------------------------------------------------- emulator


class Scripted:
    """Outcomes forced on the next requests and fixed replies, each kept for a key (a model id, an endpoint
    name) or for every request (the key None). Thread-safe."""

    def __init__(self, known: Iterable[str]) -> None:
        self.known = tuple(known)
        self._lock = threading.Lock()
        self._queues: dict[str | None, deque[str]] = {}
        self._replies: dict[str | None, str] = {}

    def script(self, outcomes: Iterable[str], key: str | None = None) -> None:
        """Queue ``outcomes`` for the next requests of ``key``; a ValueError names any that is not ``known``."""
        outcomes = list(outcomes)
        unknown = [outcome for outcome in outcomes if outcome not in self.known]
        if unknown:
            raise ValueError(f"unknown outcomes {unknown}; known: {', '.join(self.known)}")
        with self._lock:
            self._queues.setdefault(key, deque()).extend(outcomes)

    def next(self, *keys: str) -> str | None:
        """Take the next queued outcome of the first of ``keys``, then of every request, that has one; None if none."""
        with self._lock:
            for key in (*keys, None):
                queue = self._queues.get(key)
                if queue:
                    return queue.popleft()
        return None

    def reply(self, text: str | None, key: str | None = None) -> None:
        """Fix the reply of ``key`` to ``text``; None forgets it."""
        with self._lock:
            if text is None:
                self._replies.pop(key, None)
            else:
                self._replies[key] = text

    def reply_for(self, *keys: str) -> str | None:
        """The fixed reply of the first of ``keys``, then of every request, that has one; None if none."""
        with self._lock:
            for key in (*keys, None):
                if key in self._replies:
                    return self._replies[key]
        return None

    def clear(self) -> None:
        """Forget every queued outcome and fixed reply."""
        with self._lock:
            self._queues.clear()
            self._replies.clear()


class Emulator:
    """A server on loopback HTTP (HTTPS with ``tls``, an ``ssl.SSLContext`` with a certificate loaded), served
    by ``handler_class`` connections in a daemon thread. Arriving requests are kept in ``requests``, those that
    failed a check also in ``invalid``; ``outcomes`` are those its scripts may force (see :class:`Scripted`).

    A subclass sets its own attributes before calling ``__init__``, which ends with :meth:`reset`.
    """

    handler_class: ClassVar[type[Handler]] = Handler

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, outcomes: Iterable[str] = ("ok",), tls: ssl.SSLContext | None = None
    ) -> None:
        self.host, self.port, self.tls = host, port, tls
        self.requests: list[Any] = []
        self.invalid: list[Any] = []
        self._scripted = Scripted(outcomes)
        self._lock = threading.Lock()
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None
        self.reset()

    @property
    def endpoint_url(self) -> str:
        """``http(s)://HOST:PORT`` of the running server."""
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        return f"{'https' if self.tls else 'http'}://{self.host}:{self._server.server_address[1]}"

    def start(self) -> Self:
        """Bind and serve in a daemon thread."""
        self._server = EmulatorServer((self.host, self.port), self.handler_class, self)
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket (open keep-alive connections die with their daemon threads)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget requests, scripted outcomes and fixed replies."""
        with self._lock:
            self.requests.clear()
            self.invalid.clear()
        self._scripted.clear()

    def record(self, record: Any) -> None:
        """Append an arriving request to ``requests``."""
        with self._lock:
            self.requests.append(record)

    def mark_invalid(self, record: Any) -> None:
        """Append a request that failed validation or authentication to ``invalid``."""
        with self._lock:
            self.invalid.append(record)


# --------------------------------------------------------------------------------------------------- AWS services


@dataclass(kw_only=True)
class AwsRecord:
    """A request to an AWS service emulator as it was seen and answered: the operation and input params
    botocore's model found in it (none when no operation matched), its headers, the answer's status, the
    outcome and, for a refused request, why."""

    operation: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 0
    outcome: str = ""
    validation_errors: str = ""


class AwsHandler(Handler):
    """A connection to an AWS service emulator (``rest-json``): requests are checked as the service checks them,
    errors answered in its form, each answer carrying an ``x-amzn-RequestId``."""

    service: ClassVar[str]  # botocore's name of the service, e.g. "bedrock-runtime"
    validation_code: ClassVar[str]  # the service's error code for a request botocore's checks refuse

    def refused(self, record: AwsRecord, wire: WireRequest, implemented: Collection[str]) -> bool:
        """Answer the request if its SigV4 header or botocore's checks (``wire``) fail or the emulator does not
        implement its operation; True when it was answered so."""
        denied = check_sigv4(self.service, record.headers)
        if denied:
            self.reject(record, denied, json.loads(denied.body)["message"])
        elif wire.operation is None:
            self.reject(record, error_response(self.service, "UnknownOperationException", wire.errors, status=404), wire.errors)
        elif wire.errors:
            self.reject(record, error_response(self.service, self.validation_code, wire.errors), wire.errors)
        elif wire.operation not in implemented:
            record.outcome = "not-implemented"
            message = f"The emulator does not implement {wire.operation}."
            self.answer(record, error_response(self.service, "NotImplementedException", message, status=501))
        else:
            return False
        return True

    def reject(self, record: AwsRecord, response: WireResponse, message: str) -> None:
        """Answer an invalid request with ``response`` and keep it in the emulator's ``invalid``."""
        record.outcome, record.validation_errors = "invalid", message
        self.emulator.mark_invalid(record)
        self.answer(record, response)

    def answer(self, record: AwsRecord, response: WireResponse) -> None:
        """A whole answer."""
        record.status = response.status
        self.send(response.status, {**response.headers, "x-amzn-RequestId": str(uuid.uuid4())}, response.body)

    def begin_event_stream(self, record: AwsRecord, headers: Mapping[str, str]) -> None:
        """Start a 200 ``application/vnd.amazon.eventstream`` answer (``headers`` added); :meth:`chunk` sends its messages."""
        record.status = 200
        content_type = {"Content-Type": "application/vnd.amazon.eventstream"}
        self.begin_chunks(200, {**content_type, **headers, "x-amzn-RequestId": str(uuid.uuid4())})
