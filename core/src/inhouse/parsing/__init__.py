"""Parsing: the bytes of a file into a ``ParsedDocument`` (title and sections), by a parser
plugin (``inhouse.parsers``) chosen by the file's suffix, else by the source's media type.

The built-in parsers (Markdown, text, HTML, PDF, DOCX, XLSX) are registered through that
same entry-point group by the ``inhouse`` distribution, so a third party adds a format, or
replaces one of ours, by installing a package. A parser's module is imported the first time
a file of its type is met. Every failure is an ``IngestError`` whose message is the reason
shown in the ingestion report; a type with no parser raises ``UnsupportedType``, which the
report lists as skipped rather than failed. Ingestion calls this through
``inhouse.parsing.sandbox``, in worker processes under the ``[ingest]`` parse limits.
"""

from __future__ import annotations

import functools
import threading
from importlib.metadata import EntryPoint
from pathlib import PurePosixPath

from inhouse import registry
from inhouse.errors import IngestError
from inhouse.plugins import Parser
from inhouse.types import ParsedDocument

__all__ = ["UnsupportedType", "parse", "parser_for", "supported"]


class UnsupportedType(IngestError):
    """No parser handles this file type; the message names the suffix."""


_parsers: dict[str, Parser] = {}
_lock = threading.Lock()


@functools.cache
def _installed() -> dict[str, EntryPoint]:
    """The parser entry points, read once per process (reading them costs milliseconds)."""
    return registry.installed("parsers")


def supported() -> frozenset[str]:
    """The suffixes (lower case, with the dot) and media types an installed parser takes."""
    return frozenset(_installed())


def parser_for(path: str, media_type: str = "") -> Parser:
    """The parser of ``path``'s suffix, else of ``media_type`` (parameters such as
    ``; charset=utf-8`` ignored); raises ``UnsupportedType`` when neither has one."""
    suffix = PurePosixPath(path).suffix.lower()
    kind = media_type.split(";", 1)[0].strip().lower()
    names = _installed()
    name = suffix if suffix in names else kind if kind in names else None
    if name is None:
        what = f"'{suffix}'" if suffix else "(no file extension)"
        raise UnsupportedType(f"unsupported file type {what}")
    with _lock:
        if name not in _parsers:
            _parsers[name] = registry.load_class("parsers", name)()  # type: ignore[assignment]
        return _parsers[name]


def parse(data: bytes, path: str, media_type: str = "") -> ParsedDocument:
    """Parse the raw bytes of the file at ``path`` (used for the suffix and a fallback title).

    Raises ``UnsupportedType`` for a type no parser takes and ``IngestError`` for a file that
    is empty, corrupt, encrypted or has no text.
    """
    parser = parser_for(path, media_type)
    if not data or data.isspace():
        raise IngestError("empty document")
    document = parser.parse(data, path)
    if not document.sections:
        raise IngestError("no text found")
    return document
