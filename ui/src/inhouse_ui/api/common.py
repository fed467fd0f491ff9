"""What every route of the HTTP API shares: who is calling, the per-key rate limit, the body
size limit, and errors in the OpenAI shape.

- ``caller`` (a FastAPI dependency of every route) names the user a request runs as: the user
  of its API key (``Authorization: Bearer <key>``, checked against ``inhouse.keys.KeyStore``),
  the user of an OpenID Connect access token (a JWT of ``[ui.oidc]``'s provider, validated
  against its cached keys: issuer, ``audience``, expiry; its groups claim gives their groups), or,
  while no key is in force, the local user (None) for a client on this machine only (a
  request relayed by a proxy, with ``Forwarded`` or ``X-Forwarded-For``, is not one).
  A key's or token's user deprovisioned by SCIM (``inhouse.provisioning``) is refused (401).
- Each key may make ``requests_per_minute`` requests (its own figure, else ``[api]``'s), in
  bursts of up to a minute's worth: a token bucket; over it, 429 with ``Retry-After``.
- ``BodyLimit`` refuses a body over ``[api] max_body_kb`` with 413 before any route reads it
  (multipart uploads aside: their files have the ingestion's own size limit).
- Every error, ours and FastAPI's (validation, 404, 405), answers
  ``{"error": {"message", "type", "param", "code"}}``; malformed JSON is 400, wrong types 422.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from inhouse.errors import BudgetExceeded, ProviderError
from inhouse.provisioning import Provisioning
from inhouse_ui.oidc import TokenError
from inhouse_ui.upload_guard import replaying

log = logging.getLogger("inhouse_ui.api")


class ErrorDetail(BaseModel):
    """What went wrong: a sentence saying what to do, the error's kind, the field at fault."""

    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """The body of every error (the OpenAI shape)."""

    error: ErrorDetail


#: The error responses every operation may give, for the OpenAPI document.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in (
        (400, "Malformed JSON or a request that cannot be answered as it is"),
        (401, "No API key, or an unknown or revoked one"),
        (403, "Not allowed: a client not on this machine while no API key exists, or a refusal of [policy]"),
        (404, "No such route, model or object (or not the caller's)"),
        (413, "The body is larger than [api] max_body_kb"),
        (422, "A field is missing or of the wrong type"),
        (429, "The key's rate limit or a limit of [budgets] is reached: retry after Retry-After seconds"),
    )
}


class ApiError(Exception):
    """An error answered in the OpenAI shape with ``status`` (and ``headers``, such as Retry-After)."""

    def __init__(
        self,
        status: int,
        message: str,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.detail = ErrorDetail(message=message, type=type, param=param, code=code)
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """``{"error": {...}}``, as sent."""
        return {"error": self.detail.model_dump()}

    def response(self) -> JSONResponse:
        """The error as a JSON response."""
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def failure(exc: BaseException, what: str = "the answer") -> ApiError:
    """The 5xx error of an exception raised while answering: an error id for the caller, the
    details in the server log (never the question). A request over ``[budgets]`` is 429 with
    ``Retry-After`` (the seconds to the limit's reset) and the limit's own message."""
    if isinstance(exc, BudgetExceeded):
        headers = {"Retry-After": str(exc.retry_after)}
        return ApiError(429, str(exc), type="rate_limit_error", code="budget_exceeded", headers=headers)
    error_id = secrets.token_hex(4)
    log.error("API error %s: %s: %s", error_id, type(exc).__name__, exc, exc_info=exc)
    if isinstance(exc, ProviderError):
        message = f"the model failed on {what} (error {error_id}; the server log has the details)"
        return ApiError(502, message, type="api_error", code="provider_error")
    return ApiError(500, f"{what} failed (error {error_id}; the server log has the details)", type="server_error")


@dataclass(frozen=True)
class Caller:
    """Who a request runs as: the user of its API key, or the local user (``user`` None, no key)."""

    user: str | None
    key_id: str | None


LOCAL = Caller(None, None)
_JWT = re.compile(r"^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")  # a JWS in compact form (API keys are not)
PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")  # a request relayed for another client
_bearer = HTTPBearer(
    auto_error=False,
    description="An API key from `inhouse keys create --user NAME`. While no key exists, clients on the "
    "server's own machine need none (they run as the local user) and others are refused.",
)


class RateLimiter:
    """A token bucket per API key: ``limit`` requests a minute, in bursts of up to ``limit``."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # key id -> (tokens left, when counted)
        self._lock = threading.Lock()

    def wait(self, key_id: str, limit: int) -> float:
        """0 when the key may make a request now (it is counted), else the seconds until it may.
        ``limit`` 0 is unlimited."""
        if limit <= 0:
            return 0.0
        rate, now = limit / 60, time.monotonic()
        with self._lock:
            tokens, then = self._buckets.get(key_id, (float(limit), now))
            tokens = min(float(limit), tokens + (now - then) * rate)
            if tokens >= 1:
                self._buckets[key_id] = (tokens - 1, now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return (1 - tokens) / rate


def caller(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Caller:
    """FastAPI dependency: the caller of ``request`` (key or token checked, rate limit counted);
    raises ``ApiError`` 401 (no or bad key or token), 403 (no key exists and the client is not on
    this machine) or 429 (over the key's rate limit)."""
    state = request.app.state
    if credentials is not None and getattr(state, "oidc", None) is not None and _JWT.match(credentials.credentials):
        return _token_caller(request, credentials.credentials)
    if not state.keys.active():
        proxied = any(name in request.headers for name in PROXY_HEADERS)  # a proxy on this machine relays others
        if proxied or not is_loopback(request.client.host if request.client else ""):
            raise ApiError(
                403,
                "this server has no API keys, so it serves clients on its own machine only (not through a proxy): "
                "create a key with `inhouse keys create --user NAME` and send it as `Authorization: Bearer <key>`",
                type="permission_error",
                code="loopback_only",
            )
        return LOCAL
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        sent = request.headers.get("authorization")
        message = "the Authorization header must be `Bearer <key>`" if sent else "no API key: send `Authorization: Bearer <key>`"
        raise ApiError(401, message, code="invalid_api_key", headers=challenge)
    key = state.keys.check(credentials.credentials)
    if key is None:
        raise ApiError(401, "the API key is unknown or revoked", code="invalid_api_key", headers=challenge)
    if Provisioning(state.assistant.home).refused(key.user):
        raise ApiError(401, "the API key's user is deprovisioned", code="invalid_api_key", headers=challenge)
    limit = key.requests_per_minute if key.requests_per_minute is not None else state.settings.requests_per_minute
    _count(state, key.id, limit)
    return Caller(key.user, key.id)


def _token_caller(request: Request, token: str) -> Caller:
    """The caller of an OpenID Connect access token, its groups vouched for; 401 when refused."""
    state, challenge = request.app.state, {"WWW-Authenticate": "Bearer"}
    try:
        who = state.oidc.identity(state.oidc.verify(token, state.oidc.settings.api_audience()))
    except TokenError as exc:
        raise ApiError(401, f"the bearer token is refused: {exc}", code="invalid_token", headers=challenge) from None
    if Provisioning(state.assistant.home).refused(who.user):
        raise ApiError(401, "the bearer token's user is deprovisioned", code="invalid_token", headers=challenge)
    state.assistant.vouched.vouch(who.user, who.groups)
    _count(state, "oidc:" + who.user, state.settings.requests_per_minute)
    return Caller(who.user, None)


def _count(state: Any, bucket: str, limit: int) -> None:
    """Count a request against ``bucket``'s rate limit; ``ApiError`` 429 over it."""
    wait = state.limiter.wait(bucket, limit)
    if wait:
        seconds = max(1, math.ceil(wait))
        raise ApiError(
            429,
            f"this key's rate limit of {limit} requests a minute is reached: retry in {seconds} s",
            type="rate_limit_error",
            code="rate_limit_exceeded",
            headers={"Retry-After": str(seconds)},
        )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is an address of this machine's loopback (IPv4-mapped IPv6 included)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` gets 413 (OpenAI shape) before any
    route reads it; multipart uploads pass (the ingestion limits their files)."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = Headers(scope=scope)
        if scope["type"] != "http" or headers.get("content-type", "").lower().startswith("multipart/form-data"):
            await self.app(scope, receive, send)
            return
        too_large = ApiError(
            413, f"the body is larger than {self.max_bytes // 1024} KiB ([api] max_body_kb)", code="body_too_large"
        )
        declared = headers.get("content-length", "0")
        if not declared.isdigit():
            await ApiError(400, "the Content-Length header is not a number").response()(scope, receive, send)
            return
        if int(declared) > self.max_bytes:
            await too_large.response()(scope, receive, send)
            return
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await too_large.response()(scope, receive, send)
                return
        await self.app(scope, replaying(bytes(body), receive), send)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` in the OpenAI shape: ``ApiError``, FastAPI's validation
    errors (400 for malformed JSON, else 422), 404/405 and other HTTP errors, and anything
    unexpected (500 with an error id)."""

    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return exc.response()

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return validation_error(exc.errors()).response()

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404 and exc.detail == "Not Found":
            message = f"no route {request.method} {request.url.path}: the routes are in /v1/openapi.json"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        else:
            message = str(exc.detail)
        return ApiError(exc.status_code, message, headers=dict(exc.headers or {})).response()

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return failure(exc, "the request").response()

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)


def validation_error(errors: Any) -> ApiError:
    """The ``ApiError`` of pydantic/FastAPI validation ``errors``: 400 when the body is not JSON,
    else 422 naming each field at fault (the first one as ``param``)."""
    errors = list(errors)
    for error in errors:
        if error.get("type") == "json_invalid":
            reason = (error.get("ctx") or {}).get("error", "")
            return ApiError(
                400, f"the body is not valid JSON ({reason})" if reason else "the body is not valid JSON", code="invalid_json"
            )
    fields = [".".join(str(part) for part in error.get("loc", ()) if part != "body") for error in errors]
    described = [f"{field or 'the body'}: {error.get('msg', 'invalid')}" for field, error in zip(fields, errors, strict=True)]
    more = f" (and {len(described) - 5} more)" if len(described) > 5 else ""
    return ApiError(422, "; ".join(described[:5]) + more, param=(fields[0] or None) if fields else None, code="invalid_value")
