"""What the Bedrock plugins share: AWS settings, the boto3 client, error mapping and retries.

Retries are done here, not by botocore (its retries are set to one attempt), so that a
throttled stream is retried before its first token, each retry is counted, and the
backoff is configurable (``backoff_base``, ``backoff_max``; full jitter).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import Field

from inhouse.errors import InhouseError, ProviderError
from inhouse.plugins import PluginConfig

T = TypeVar("T")

# Error codes (ClientError and event-stream exceptions) → (our code, retry here, router may fall back).
_ERRORS: dict[str, tuple[str, bool, bool]] = {
    "throttlingexception": ("throttled", True, True),
    "toomanyrequestsexception": ("throttled", True, True),
    "serviceunavailableexception": ("unavailable", True, True),
    "internalserverexception": ("unavailable", True, True),
    "modelnotreadyexception": ("not-ready", True, True),
    "modeltimeoutexception": ("timeout", True, True),
    "modelstreamerrorexception": ("stream", True, True),
    "modelerrorexception": ("model-error", False, True),
    "servicequotaexceededexception": ("quota", False, True),
    "validationexception": ("validation", False, False),
    "accessdeniedexception": ("access-denied", False, False),
    "resourcenotfoundexception": ("not-found", False, False),
    "unrecognizedclientexception": ("access-denied", False, False),
    "expiredtokenexception": ("access-denied", False, False),
}
_ADVICE = {
    "access-denied": "enable access to this model in the Bedrock console for the region, and allow "
    "bedrock:InvokeModel / bedrock:InvokeModelWithResponseStream for the caller",
    "not-found": "check the model id, and that the model (or inference profile) exists in the region",
    "validation": "the request was refused as malformed or too long for this model",
}


class AwsConfig(PluginConfig):
    """Settings every Bedrock plugin takes (the key names other AWS tools use)."""

    model: str
    region: str | None = Field(None, description="AWS region; default: the profile's or AWS_REGION")
    profile: str | None = Field(None, description="named AWS profile; default: the default credential chain")
    role_arn: str | None = Field(None, description="a role to assume (refreshed before it expires)")
    endpoint_url: str | None = Field(None, description="VPC endpoint / PrivateLink URL, or a local emulator")
    read_timeout: float = Field(120.0, gt=0, description="seconds (default 120: long first calls happen)")
    connect_timeout: float = Field(10.0, gt=0)
    max_attempts: int = Field(3, ge=1, le=10, description="attempts per request, the first included")
    backoff_base: float = Field(0.5, ge=0, description="seconds; retry n waits up to base * 2**(n-1), jittered")
    backoff_max: float = Field(10.0, ge=0)


def map_error(exc: Exception, model: str, provider: str | None = None) -> tuple[ProviderError, bool]:
    """A boto3/botocore exception as a ``ProviderError``, plus whether retrying here may help."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectionError,
        NoCredentialsError,
        NoRegionError,
        ReadTimeoutError,
    )

    def error(message: str, code: str, retryable: bool = False) -> ProviderError:
        return ProviderError(f"Bedrock {model}: {message}", retryable=retryable, provider=provider, code=code)

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        raw_code = str(err.get("Code", "Unknown"))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code, retry_here, retryable = _ERRORS.get(raw_code.lower(), ("error", False, bool(status and status >= 500)))
        advice = _ADVICE.get(code)
        message = f"{raw_code}: {err.get('Message', '')}".rstrip(": ")
        return error(f"{message} ({advice})" if advice else message, code, retryable), retry_here
    if isinstance(exc, NoCredentialsError):
        return error(
            "no AWS credentials found: set profile (or role_arn) in the provider's table, "
            "or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
            "access-denied",
        ), False
    if isinstance(exc, NoRegionError):
        return error("no AWS region: set region = ... or AWS_REGION", "validation"), False
    if isinstance(exc, ReadTimeoutError):
        return error(f"read timed out ({exc})", "timeout", True), True
    if isinstance(exc, ConnectionError | BotoCoreError | OSError):
        return error(str(exc), "unavailable", True), True
    raise exc


class Backoff:
    """Full-jitter exponential backoff: retry n waits uniform(0, min(cap, base * 2**(n-1)))."""

    def __init__(self, base: float, cap: float, rng: random.Random | None = None, sleep: Callable[[float], None] = time.sleep):
        self.base, self.cap = base, cap
        self.rng = rng or random.Random()
        self.sleep = sleep

    def wait(self, retry: int) -> None:
        """Sleep before retry number ``retry`` (1 for the first retry)."""
        self.sleep(self.rng.uniform(0, min(self.cap, self.base * 2 ** (retry - 1))))


class BedrockClient:
    """A lazily built, thread-safe boto3 ``bedrock-runtime`` client for one plugin's settings."""

    def __init__(self, config: AwsConfig, provider: str | None = None):
        self.config = config
        self.provider = provider
        self.backoff = Backoff(config.backoff_base, config.backoff_max)
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The boto3 client (built on first use: about 0.1 s to load the service model)."""
        with self._lock:
            if self._client is None:
                self._client = self._build()
            return self._client

    def _session(self) -> Any:
        import boto3

        try:
            session = boto3.Session(profile_name=self.config.profile, region_name=self.config.region)
        except Exception as exc:  # botocore.exceptions.ProfileNotFound and friends
            raise InhouseError(f"AWS profile '{self.config.profile}': {exc}") from exc
        if not self.config.role_arn:
            return session
        import botocore.session
        from botocore.credentials import AssumeRoleCredentialFetcher, DeferredRefreshableCredentials

        source = session.get_credentials()
        if source is None:
            raise ProviderError(f"role_arn {self.config.role_arn}: no source credentials to assume it with", code="access-denied")
        fetcher = AssumeRoleCredentialFetcher(
            client_creator=session._session.create_client,
            source_credentials=source,
            role_arn=self.config.role_arn,
            extra_args={"RoleSessionName": "inhouse"},
        )
        core = botocore.session.Session()
        core._credentials = DeferredRefreshableCredentials(method="assume-role", refresh_using=fetcher.fetch_credentials)
        return boto3.Session(botocore_session=core, region_name=session.region_name)

    def _build(self) -> Any:
        from botocore.config import Config

        session = self._session()
        config = Config(
            read_timeout=self.config.read_timeout,
            connect_timeout=self.config.connect_timeout,
            retries={"total_max_attempts": 1, "mode": "standard"},
            max_pool_connections=32,
            tcp_keepalive=True,
            user_agent_extra="inhouse",
        )
        return session.client("bedrock-runtime", endpoint_url=self.config.endpoint_url, config=config)

    def credentials_status(self) -> str:
        """Where credentials come from, for ``inhouse doctor``; raises when there are none."""
        session = self._session()
        creds = session.get_credentials()
        if creds is None:
            raise InhouseError(
                "no AWS credentials: set profile = ... (or role_arn) in the provider's table, "
                "or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run with an instance role"
            )
        region = session.region_name or "no region (set region = ...)"
        return f"credentials from {getattr(creds, 'method', 'unknown')}, {region}, {self.config.endpoint_url or 'AWS endpoint'}"

    def close(self) -> None:
        """Close the HTTP connection pool. Safe to call twice."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (a boto3 call), retrying retryable failures up to ``max_attempts`` in all."""
        attempt = 1
        while True:
            try:
                return fn()
            except ProviderError:
                raise
            except Exception as exc:
                error, retry_here = map_error(exc, self.config.model, self.provider)
                if not (retry_here and attempt < self.config.max_attempts):
                    raise error from exc
            self.backoff.wait(attempt)
            attempt += 1


class BedrockPlugin:
    """Mixin for every Bedrock plugin: the ``aws`` client, ``check`` and ``close``."""

    config: Any
    name: str
    residency = "in-account"

    def __init__(self, config: AwsConfig | None = None, **kwargs: Any):
        super().__init__(config, **kwargs)  # type: ignore[call-arg]
        self.aws = BedrockClient(self.config, self.name or None)

    def check(self) -> str:
        """Credentials and region are resolvable (no call is made)."""
        return f"{self.config.model}: {self.aws.credentials_status()}"

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.aws.close()
