"""What the Bedrock plugins share: settings, Bedrock's error codes, the client mixin.

The client is ``inhouse_aws.AwsClient``: retries are done by the plugin, not by botocore,
so that a throttled stream is retried before its first token, each retry is counted, and
the backoff is configurable (``backoff_base``, ``backoff_max``; full jitter).
"""

from __future__ import annotations

import re
import tomllib
from functools import cache
from importlib import resources
from typing import Any

from inhouse.plugins import Price
from inhouse_aws import AwsClient, AwsSettings, ErrorTable

# Error codes (ClientError and event-stream exceptions) → (our code, retry here, router may fall back).
ERRORS: ErrorTable = {
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


_REGION_PREFIX = re.compile(r"^(us|eu|apac|us-gov|global)\.")


@cache
def list_prices() -> dict[str, Price]:
    """Bedrock's on-demand list prices by model id (``inhouse_bedrock/prices.toml``)."""
    text = resources.files("inhouse_bedrock").joinpath("prices.toml").read_text(encoding="utf-8")
    return {model: Price.model_validate(price) for model, price in tomllib.loads(text).items()}


def model_price(model: str) -> Price | None:
    """The list price of ``model``: a cross-region inference profile (``us.anthropic...``) or an
    ARN takes the price of the model it names."""
    name = model.rsplit("/", 1)[-1]
    prices = list_prices()
    return prices.get(name) or prices.get(_REGION_PREFIX.sub("", name))


class BedrockPlugin:
    """Mixin for every Bedrock plugin: the ``aws`` client, ``price``, ``check`` and ``close``."""

    config: Any
    name: str
    residency = "in-account"

    def __init__(self, config: AwsConfig | None = None, **kwargs: Any):
        super().__init__(config, **kwargs)  # type: ignore[call-arg]
        label = f"Bedrock {self.config.model}"
        self.aws = AwsClient(self.config, "bedrock-runtime", label, ERRORS, ADVICE, self.name or None)

    def price(self) -> Price | None:
        """Bedrock's list price for the configured model (``[prices]`` in the configuration wins)."""
        return model_price(self.config.model)

    def check(self) -> str:
        """Credentials and region are resolvable (no call is made)."""
        return f"{self.config.model}: {self.aws.credentials_status()}"

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.aws.close()
