"""S3's error codes, and the advice that names the configuration key to fix."""

from __future__ import annotations

from inhouse_aws import ErrorTable

ERRORS: ErrorTable = {
    "nosuchbucket": ("no-bucket", False, False),
    "accessdenied": ("access-denied", False, False),
    "allaccessdisabled": ("access-denied", False, False),
    "invalidaccesskeyid": ("credentials", False, False),
    "signaturedoesnotmatch": ("credentials", False, False),
    "expiredtoken": ("credentials", False, False),
    "invalidtoken": ("credentials", False, False),
    "permanentredirect": ("region", False, False),
    "authorizationheadermalformed": ("region", False, False),
    "illegallocationconstraintexception": ("region", False, False),
    "301": ("region", False, False),
    "nosuchkey": ("not-found", False, False),
    "kms.disabledexception": ("kms", False, False),
    "kms.notfoundexception": ("kms", False, False),
    "kms.kmsinvalidstateexception": ("kms", False, False),
    "slowdown": ("throttled", True, True),
    "requesttimeout": ("timeout", True, True),
    "internalerror": ("unavailable", True, True),
    "serviceunavailable": ("unavailable", True, True),
}


def advice(table: str, bucket: str) -> dict[str, str]:
    """What to do for each error code, naming the keys of ``table`` (``connectors.NAME``)."""
    return {
        "no-bucket": f"there is no bucket {bucket!r}: check `bucket` in [{table}]",
        "credentials": (
            f"the AWS credentials were refused: check `profile` / `role_arn` in [{table}], "
            "or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
        ),
        "region": f"bucket {bucket!r} is in another region: set `region` in [{table}] to the bucket's region",
        "access-denied": (
            f"these credentials may not read it: allow s3:ListBucket and s3:GetObject on {bucket!r} "
            f"(s3:GetObjectTagging when `tags` is set, kms:Decrypt for SSE-KMS objects), or set `role_arn` in [{table}]"
        ),
        "kms": "the object's KMS key cannot be used: it is disabled or gone, or these credentials may not decrypt with it",
        "not-found": "the object is gone (the next ingestion removes it)",
    }
