"""inhouse: an assistant that answers from your own documents, with citations.

The SDK is ``Assistant`` (in process) and ``Client`` (a running server, over its HTTP API),
with the same methods and result types (docs/sdk.md); plugin authors start from ``inhouse.plugins`` and test with
``inhouse.testing``.
"""

from typing import TYPE_CHECKING

from inhouse.errors import AccessDenied, ConfigError, IngestError, InhouseError, PluginError, ProviderError
from inhouse.types import Answer, Chunk, Citation, Hit, IngestReport, Source, Usage

if TYPE_CHECKING:
    from inhouse.assistant import Assistant
    from inhouse.client import Client, UploadReport
    from inhouse.scheduler import SyncScheduler
    from inhouse.sdk import Conversation
    from inhouse.sync import SyncLog, SyncRecord

_LAZY = {
    "Assistant": "inhouse.assistant",
    "Client": "inhouse.client",
    "Conversation": "inhouse.sdk",
    "SyncLog": "inhouse.sync",
    "SyncRecord": "inhouse.sync",
    "SyncScheduler": "inhouse.scheduler",
    "UploadReport": "inhouse.client",
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
    "Client",
    "ConfigError",
    "Conversation",
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
    "UploadReport",
    "Usage",
]
