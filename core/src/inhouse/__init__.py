"""inhouse: an assistant that answers from your own documents, with citations.

The SDK is ``Assistant``; plugin authors start from ``inhouse.plugins`` and test with
``inhouse.testing``.
"""

from typing import TYPE_CHECKING

from inhouse.errors import AccessDenied, ConfigError, IngestError, InhouseError, PluginError, ProviderError
from inhouse.types import Answer, Chunk, Citation, Hit, IngestReport, Source, Usage

if TYPE_CHECKING:
    from inhouse.assistant import Assistant
    from inhouse.scheduler import SyncScheduler
    from inhouse.sync import SyncLog, SyncRecord

_LAZY = {
    "Assistant": "inhouse.assistant",
    "SyncLog": "inhouse.sync",
    "SyncRecord": "inhouse.sync",
    "SyncScheduler": "inhouse.scheduler",
}


def __getattr__(name: str) -> object:
    # Imported on first use, so a plugin importing ``inhouse.plugins`` does not load the
    # whole pipeline (parsers, ingestion, rich) with it.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
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
    "SyncLog",
    "SyncRecord",
    "SyncScheduler",
    "Usage",
]
