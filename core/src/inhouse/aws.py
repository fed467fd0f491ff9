"""AWS clients for plugins that call AWS services (Bedrock, SageMaker): credentials from a
named profile or the default chain, an optional assumed role (refreshed before it
expires), timeouts, retries done by the plugin (botocore's are set to one attempt) and
botocore errors turned into ``ProviderError``s. boto3 is imported only when used.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import Field

from inhouse.errors import InhouseError, ProviderError
from inhouse.retry import Backoff, RetrySettings, call_with_retries

T = TypeVar("T")
ErrorTable = dict[str, tuple[str, bool, bool]]
"""Lower-cased AWS error code -> (our code, retry here, router may fall back)."""


class AwsSettings(RetrySettings):
    """The AWS keys of a plugin's table (the names other AWS tools use)."""

    region: str | None = Field(None, description="AWS region; default: the profile's or AWS_REGION")
    profile: str | None = Field(None, description="named AWS profile; default: the default credential chain")
    role_arn: str | None = Field(None, description="a role to assume (refreshed before it expires)")
    endpoint_url: str | None = Field(None, description="VPC endpoint / PrivateLink URL, or a local emulator")
    read_timeout: float = Field(120.0, gt=0, description="seconds (default 120: long first calls happen)")
    connect_timeout: float = Field(10.0, gt=0)


def map_error(
    exc: Exception, label: str, errors: ErrorTable, advice: dict[str, str] | None = None, provider: str | None = None
) -> tuple[ProviderError, bool]:
    """A boto3/botocore exception as a ``ProviderError`` (message prefixed with ``label``),
    plus whether retrying here may help. ``errors`` classifies the service's error codes;
    unknown 5xx codes may fall back, other unknown codes not."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        ConnectionError,
        NoCredentialsError,
        NoRegionError,
        ReadTimeoutError,
    )

    def error(message: str, code: str, retryable: bool = False) -> ProviderError:
        return ProviderError(f"{label}: {message}", retryable=retryable, provider=provider, code=code)

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        raw_code = str(err.get("Code", "Unknown"))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code, retry_here, retryable = errors.get(raw_code.lower(), ("error", False, bool(status and status >= 500)))
        hint = (advice or {}).get(code)
        message = f"{raw_code}: {err.get('Message', '')}".rstrip(": ")
        return error(f"{message} ({hint})" if hint else message, code, retryable), retry_here
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


class AwsClient:
    """A lazily built, thread-safe boto3 client of ``service`` for one plugin's settings.

    ``label`` prefixes error messages (``Bedrock anthropic...``); ``errors`` and ``advice``
    classify the service's error codes (see ``map_error``)."""

    def __init__(
        self,
        config: AwsSettings,
        service: str,
        label: str,
        errors: ErrorTable,
        advice: dict[str, str] | None = None,
        provider: str | None = None,
    ):
        self.config = config
        self.service = service
        self.label = label
        self.errors = errors
        self.advice = advice
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
        return session.client(self.service, endpoint_url=self.config.endpoint_url, config=config)

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
        return call_with_retries(fn, self.classify, self.config.max_attempts, self.backoff)

    def classify(self, exc: Exception) -> tuple[ProviderError, bool]:
        """``map_error`` with this client's label and error table."""
        return map_error(exc, self.label, self.errors, self.advice, self.provider)
