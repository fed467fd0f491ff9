"""Parsers: turn the bytes of a file into a ``ParsedDocument`` (title and sections).

``parse(data, path)`` picks the parser by the file's suffix (case-insensitive). Every failure
is an ``IngestError`` whose message is the reason shown in the ingestion report; a type with
no parser raises ``UnsupportedType``, which the report lists as skipped rather than failed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath

from inhouse.errors import IngestError
from inhouse.parsing.html import parse_html
from inhouse.parsing.markdown import parse_markdown
from inhouse.parsing.office import parse_docx, parse_xlsx
from inhouse.parsing.pdf import parse_pdf
from inhouse.parsing.text import parse_text
from inhouse.types import ParsedDocument

__all__ = ["SUPPORTED_SUFFIXES", "UnsupportedType", "parse"]


class UnsupportedType(IngestError):
    """No parser handles this file type; the message names the suffix."""


_PARSERS: dict[str, Callable[[bytes, str], ParsedDocument]] = {
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".txt": parse_text,
    ".text": parse_text,
    ".rst": parse_text,
    ".html": parse_html,
    ".htm": parse_html,
    ".pdf": parse_pdf,
    ".docx": parse_docx,
    ".xlsx": parse_xlsx,
}

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_PARSERS)
"""The file suffixes (lower case, with the dot) that ``parse`` accepts."""


def parse(data: bytes, path: str) -> ParsedDocument:
    """Parse the raw bytes of the file at ``path`` (used for the suffix and a fallback title).

    Raises ``UnsupportedType`` for a suffix not in ``SUPPORTED_SUFFIXES`` and ``IngestError``
    for a file that is empty, corrupt, encrypted or has no text.
    """
    suffix = PurePosixPath(path).suffix.lower()
    parser = _PARSERS.get(suffix)
    if parser is None:
        kind = f"'{suffix}'" if suffix else "(no file extension)"
        raise UnsupportedType(f"unsupported file type {kind}")
    if not data or data.isspace():
        raise IngestError("empty document")
    document = parser(data, path)
    if not document.sections:
        raise IngestError("no text found")
    return document
