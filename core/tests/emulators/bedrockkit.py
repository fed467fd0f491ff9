"""What the Bedrock emulator tests share: model ids, a context, and boto3 clients that never retry."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
PROFILE_ARN = f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.{CLAUDE}"
TITAN = "amazon.titan-embed-text-v2:0"
CONTEXT = "Use these.\n[1] (handbook/leave.md)\nStaff get 25 vacation days a year.\nUnused days expire.\n[2] (x.md)\nOther."
STATUSES = {"throttle": 429, "unavailable": 503, "internal": 500, "model-not-ready": 429}
STATUSES |= {"timeout": 408, "validation": 400, "access-denied": 403, "not-found": 404}


def make_client(url: str, **config: Any) -> Any:
    """A plain boto3 bedrock-runtime client on ``url`` that never retries."""
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, **config),
    )


def user(text: str) -> list[dict[str, Any]]:
    """A one-turn Converse conversation."""
    return [{"role": "user", "content": [{"text": text}]}]
