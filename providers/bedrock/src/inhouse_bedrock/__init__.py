"""Amazon Bedrock plugins for inhouse (``bedrock``, ``bedrock-image``, ``bedrock-embed``).

All three talk to Bedrock Runtime with boto3 in the customer's own AWS account
(residency ``in-account``); see ``inhouse_bedrock.aws`` for the shared settings.
"""
