"""AWS clients for plugins that call AWS services (Bedrock, SageMaker, S3): credentials from a
named profile or the default chain, an optional assumed role (refreshed before it
expires), timeouts, retries done by the plugin (botocore's are set to one attempt) and
botocore errors turned into ``ProviderError``s. boto3 is imported only when used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

from pydantic import Field

from inhouse.errors import InhouseError, ProviderError
from inhouse.providerkit import Backoff, LazyClient, RetrySettings, call_with_retries, first_token_stream

T = TypeVar("T")
E = TypeVar("E")
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
        self._client: LazyClient[Any] = LazyClient(self._build)

    @property
    def client(self) -> Any:
        """The boto3 client (built on first use: about 0.1 s to load the service model)."""
        return self._client.get()

    def _session(self) -> Any:
        import boto3

        try:
            session = boto3.Session(profile_name=self.config.profile, region_name=self.config.region)
        except Exception as exc:  # botocore.exceptions.ProfileNotFound and friends
            raise InhouseError(f"AWS profile '{self.config.profile}': {exc}") from exc
        if not self.config.role_arn:
            return session
        source = session.get_credentials()
        if source is None:
            raise ProviderError(f"role_arn {self.config.role_arn}: no source credentials to assume it with", code="access-denied")
        assumed = assumed_role_session(session, self.config.role_arn)
        return boto3.Session(botocore_session=assumed, region_name=session.region_name)

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
        self._client.close()

    def call(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` (a boto3 call), retrying retryable failures up to ``max_attempts`` in all."""
        return call_with_retries(fn, self.classify, self.config.max_attempts, self.backoff)

    def stream(self, open_stream: Callable[[], Iterable[E]], has_text: Callable[[E], bool]) -> Iterator[E]:
        """The events of the stream ``open_stream`` starts, retried up to the first event with
        text (``inhouse.providerkit.first_token_stream`` with this client's error table)."""
        return first_token_stream(
            open_stream,
            has_text,
            self.classify,
            max_attempts=self.config.max_attempts,
            backoff=self.backoff,
            provider=self.provider,
        )

    def classify(self, exc: Exception) -> tuple[ProviderError, bool]:
        """``map_error`` with this client's label and error table."""
        return map_error(exc, self.label, self.errors, self.advice, self.provider)


def assumed_role_session(source: Any, role_arn: str) -> Any:
    """A botocore session whose credentials come from assuming ``role_arn`` with the credentials
    of the boto3 session ``source``, refreshed before they expire, through botocore's public
    credential classes: its ``AssumeRoleCredentialFetcher`` (STS called with ``source.client``)
    behind a ``CredentialResolver`` registered as the session's credential provider."""
    import botocore.session
    from botocore.credentials import (
        AssumeRoleCredentialFetcher,
        CredentialProvider,
        CredentialResolver,
        DeferredRefreshableCredentials,
    )

    fetcher = AssumeRoleCredentialFetcher(
        client_creator=source.client,
        source_credentials=source.get_credentials(),
        role_arn=role_arn,
        extra_args={"RoleSessionName": "inhouse"},
    )

    class AssumedRole(CredentialProvider):
        METHOD = "assume-role"
        CANONICAL_NAME = "inhouse-assume-role"

        def load(self) -> Any:
            return DeferredRefreshableCredentials(method=self.METHOD, refresh_using=fetcher.fetch_credentials)

    session = botocore.session.Session()
    session.register_component("credential_provider", CredentialResolver(providers=[AssumedRole()]))
    return session
