"""What the Bedrock plugins share: settings, Bedrock's error codes, the client mixin.

The client is ``inhouse.aws.AwsClient``: retries are done by the plugin, not by botocore,
so that a throttled stream is retried before its first token, each retry is counted, and
the backoff is configurable (``backoff_base``, ``backoff_max``; full jitter).
"""

from __future__ import annotations

from typing import Any

from inhouse.aws import AwsClient, AwsSettings, map_error
from inhouse.errors import ProviderError

# Error codes (ClientError and event-stream exceptions) → (our code, retry here, router may fall back).
ERRORS: dict[str, tuple[str, bool, bool]] = {
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
ADVICE = {
    "access-denied": "enable access to this model in the Bedrock console for the region, and allow "
    "bedrock:InvokeModel / bedrock:InvokeModelWithResponseStream for the caller",
    "not-found": "check the model id, and that the model (or inference profile) exists in the region",
    "validation": "the request was refused as malformed or too long for this model",
}


class AwsConfig(AwsSettings):
    """Settings every Bedrock plugin takes: the model plus the AWS keys."""

    model: str


def bedrock_error(exc: Exception, model: str, provider: str | None = None) -> tuple[ProviderError, bool]:
    """``map_error`` with Bedrock's error codes and advice."""
    return map_error(exc, f"Bedrock {model}", ERRORS, ADVICE, provider)


class BedrockPlugin:
    """Mixin for every Bedrock plugin: the ``aws`` client, ``check`` and ``close``."""

    config: Any
    name: str
    residency = "in-account"

    def __init__(self, config: AwsConfig | None = None, **kwargs: Any):
        super().__init__(config, **kwargs)  # type: ignore[call-arg]
        label = f"Bedrock {self.config.model}"
        self.aws = AwsClient(self.config, "bedrock-runtime", label, ERRORS, ADVICE, self.name or None)

    def check(self) -> str:
        """Credentials and region are resolvable (no call is made)."""
        return f"{self.config.model}: {self.aws.credentials_status()}"

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.aws.close()
