"""Plain text (``.txt``, ``.text``, ``.rst``): one section, the first line as the title."""

from __future__ import annotations

from inhouse.parsing.base import decode_text, stem_title, tidy
from inhouse.plugins import Parser
from inhouse.types import ParsedDocument, Section

_MAX_TITLE = 100


def parse_text(data: bytes, path: str) -> ParsedDocument:
    """Parse a plain text file; the title is its first line when that is short, else the stem."""
    text = tidy(decode_text(data))
    first = text.lstrip().split("\n", 1)[0].strip()
    title = first if len(first) <= _MAX_TITLE else stem_title(path)
    return ParsedDocument(title=title, sections=[Section(text=text)])


class TextParser(Parser):
    """Plain text (``.txt``, ``.text``, ``.rst``, ``text/plain``)."""

    parse = staticmethod(parse_text)
