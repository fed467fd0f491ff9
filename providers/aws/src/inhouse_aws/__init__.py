"""inhouse-aws: what every inhouse plugin that calls AWS shares (Bedrock, SageMaker, S3).

:class:`AwsClient` is a lazily built, thread-safe boto3 client for one plugin's
:class:`AwsSettings` (region, named profile, an assumed role refreshed before it expires,
endpoint URL, timeouts, retries); :func:`map_error` turns botocore's exceptions into
``ProviderError``s with the plugin's own table of error codes. boto3 is imported on first use.
"""

from inhouse_aws.client import AwsClient, AwsSettings, ErrorTable, assumed_role_session, map_error

__all__ = ["AwsClient", "AwsSettings", "ErrorTable", "assumed_role_session", "map_error"]
