"""Signed session cookies for password sign-in (and, ``SignedValues``, for OpenID Connect
sign-in), and the server secret that signs them.

A cookie is ``<user, base64url>.<expiry, unix seconds>.<signature, base64url>``: the signature
is HMAC-SHA256, keyed with the server secret, over the user, the expiry and a digest of the
user's current password, so a cookie cannot be forged or extended, and changing a user's
password (or removing the user) ends their sessions. Nothing is kept on the server: signing
out removes the cookie from the browser.

The secret is ``<home>/ui-secret`` (mode 0600), made on first use, so sessions survive a
restart; delete the file to end every session.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from inhouse.errors import ConfigError

COOKIE = "inhouse_session"
SECRET_FILE = "ui-secret"
_SECRET = re.compile(r"^[A-Za-z0-9_-]{43,}$")
_VALUE = re.compile(r"^([A-Za-z0-9_-]{2,1100})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$")
_DOMAIN = b"inhouse-ui-session-v1"


def load_secret(home: Path) -> bytes:
    """The secret in ``<home>/ui-secret``, created (0600) when missing; a file that is not a
    secret this module wrote is an error rather than silently replaced."""
    path = Path(home) / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        _create(path)
    text = path.read_text(encoding="ascii", errors="replace").strip()
    if not _SECRET.match(text):
        raise ConfigError(f"{path} is not a session secret: delete it and a new one is made (every session ends)")
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return text.encode("ascii")


def _create(path: Path) -> None:
    """Write a new secret to a private temporary file and link it into place: a second
    process starting at the same moment keeps whichever secret won, never half of one."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_urlsafe(48) + "\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Sessions:
    """Issues and checks session cookies for the users of ``passwords`` (name -> password)."""

    def __init__(
        self,
        secret: bytes,
        passwords: Mapping[str, str],
        lifetime_s: float,
        clock: Callable[[], float] = time.time,
    ):
        self._secret = secret
        self._passwords = dict(passwords)
        self.lifetime_s = lifetime_s
        self._clock = clock

    def _signature(self, name: str, expiry: str, password: str) -> str:
        digest = hashlib.sha256(password.encode()).digest()
        message = b"\n".join((_DOMAIN, name.encode("ascii"), expiry.encode("ascii"), digest))
        return _b64(hmac.new(self._secret, message, hashlib.sha256).digest())

    def issue(self, user: str) -> str:
        """A cookie value for ``user`` (one of the configured users), valid for ``lifetime_s``."""
        name = _b64(user.encode())
        expiry = str(int(self._clock() + self.lifetime_s))
        return f"{name}.{expiry}.{self._signature(name, expiry, self._passwords[user])}"

    def user(self, value: str | None) -> str | None:
        """The user a cookie value signs in, or None: malformed, forged, expired, issued for a
        longer lifetime than today's, or for a user whose password changed or who is gone."""
        match = _VALUE.match(value or "")
        if match is None:
            return None
        name, expiry, signature = match.groups()
        try:
            user = _unb64(name).decode("utf-8")
        except ValueError:  # binascii.Error and UnicodeDecodeError both are
            return None
        password = self._passwords.get(user)
        expected = self._signature(name, expiry, password if password is not None else "")
        if not hmac.compare_digest(expected, signature) or password is None:
            return None
        now = self._clock()
        return user if now < int(expiry) <= now + self.lifetime_s + 60 else None


VISITOR_COOKIE = "inhouse_visitor"
_VISITOR = re.compile(r"^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$")
_VISITOR_DOMAIN = b"inhouse-ui-visitor-v1"


class Visitors:
    """Signed visitor ids for the anonymous mode: each browser gets its own random id (its
    personal collection and conversation), which nobody else can name without the secret."""

    def __init__(self, secret: bytes):
        self._secret = secret

    def _signature(self, visitor: str) -> str:
        return _b64(hmac.new(self._secret, _VISITOR_DOMAIN + b"\n" + visitor.encode("ascii"), hashlib.sha256).digest())

    def issue(self) -> str:
        """A cookie value naming a new random visitor."""
        visitor = secrets.token_urlsafe(16)
        return f"{visitor}.{self._signature(visitor)}"

    def visitor(self, value: str | None) -> str | None:
        """The visitor id a cookie value names, or None when it is missing, malformed or forged."""
        match = _VISITOR.match(value or "")
        if match is None or not hmac.compare_digest(self._signature(match.group(1)), match.group(2)):
            return None
        return match.group(1)


_SIGNED = re.compile(r"^([A-Za-z0-9_-]{2,3000})\.([0-9]{1,12})\.([A-Za-z0-9_-]{43})$")


class SignedValues:
    """Signed, expiring cookie values that carry a small JSON object (an OpenID Connect
    session's user and groups, or a sign-in's ``state``, ``nonce`` and PKCE verifier):
    ``<JSON, base64url>.<expiry>.<HMAC-SHA256>``, keyed with the server secret and a ``domain``
    of their own, so a value of one kind is never accepted as another."""

    def __init__(self, secret: bytes, domain: str, lifetime_s: float, clock: Callable[[], float] = time.time):
        self._secret = secret
        self._domain = domain.encode("ascii")
        self.lifetime_s = lifetime_s
        self._clock = clock

    def _signature(self, body: str, expiry: str) -> str:
        message = b"\n".join((self._domain, body.encode("ascii"), expiry.encode("ascii")))
        return _b64(hmac.new(self._secret, message, hashlib.sha256).digest())

    def issue(self, payload: Mapping[str, object], lifetime_s: float | None = None) -> str:
        """A cookie value carrying ``payload``, valid for ``lifetime_s`` (at most the lifetime)."""
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        expiry = str(int(self._clock() + min(lifetime_s or self.lifetime_s, self.lifetime_s)))
        return f"{body}.{expiry}.{self._signature(body, expiry)}"

    def read(self, value: str | None) -> dict[str, object] | None:
        """The payload of a cookie value, or None: malformed, forged, expired or issued for
        longer than today's lifetime."""
        match = _SIGNED.match(value or "")
        if match is None:
            return None
        body, expiry, signature = match.groups()
        if not hmac.compare_digest(self._signature(body, expiry), signature):
            return None
        now = self._clock()
        if not now < int(expiry) <= now + self.lifetime_s + 60:
            return None
        try:
            payload = json.loads(_unb64(body))
        except ValueError:
            return None
        return payload if isinstance(payload, dict) else None
