"""inhouse: an assistant that answers from your own documents, with citations.

The SDK is ``Assistant``; plugin authors start from ``inhouse.plugins`` and test with
``inhouse.testing``.
"""

from typing import TYPE_CHECKING

from inhouse.errors import AccessDenied, ConfigError, IngestError, InhouseError, PluginError, ProviderError
from inhouse.types import Answer, Chunk, Citation, Hit, IngestReport, Source, Usage

if TYPE_CHECKING:
    from inhouse.assistant import Assistant


def __getattr__(name: str) -> object:
    # Imported on first use, so a plugin importing ``inhouse.plugins`` does not load the
    # whole pipeline (parsers, ingestion, rich) with it.
    if name == "Assistant":
        from inhouse.assistant import Assistant

        return Assistant
    raise AttributeError(f"module 'inhouse' has no attribute {name!r}")


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
