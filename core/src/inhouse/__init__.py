"""inhouse: an assistant that answers from your own documents, with citations.

The SDK is ``Assistant``; plugin authors start from ``inhouse.plugins`` and test with
``inhouse.testing``.
"""

from inhouse.assistant import Assistant
from inhouse.errors import AccessDenied, ConfigError, IngestError, InhouseError, PluginError, ProviderError
from inhouse.types import Answer, Chunk, Citation, Hit, IngestReport, Source, Usage

__all__ = [
    "AccessDenied",
    "Answer",
    "Assistant",
    "Chunk",
    "Citation",
    "ConfigError",
    "Hit",
    "IngestError",
    "IngestReport",
    "InhouseError",
    "PluginError",
    "ProviderError",
    "Source",
    "Usage",
]
