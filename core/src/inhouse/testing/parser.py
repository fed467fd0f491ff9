"""Conformance tests for ``inhouse.parsers`` plugins."""

from __future__ import annotations

import pytest

from inhouse.errors import IngestError
from inhouse.plugins import Parser
from inhouse.testing.common import PluginContract
from inhouse.types import ParsedDocument, Section

#: Bytes no document format accepts: invalid UTF-8, NULs, a truncated header.
GARBAGE = b"\xff\xfe\x00\x00PK\x03\x04\x00\x9c\x80\xc3(\x00" * 7


class ParserTests(PluginContract):
    """Subclass and provide a ``parser`` fixture (built as the ingester does: ``MyParser()``)
    and a ``sample`` fixture: ``(data, path)`` of a small valid document whose ``path`` has
    the suffix your parser is registered for."""

    @pytest.fixture
    def plugin(self, parser: Parser) -> Parser:
        """The parser under test, for the checks every plugin shares."""
        return parser

    @pytest.fixture(autouse=True)
    def _keep_sample(self, sample: tuple[bytes, str]) -> None:
        self.sample = sample

    def exercise(self, plugin: Parser) -> None:
        """A parser's work: parse the sample."""
        plugin.parse(*self.sample)

    def test_parses_the_sample(self, parser: Parser, sample: tuple[bytes, str]) -> None:
        """``parse(data, path)`` returns a ``ParsedDocument``: a title and sections with text.

        Fix: return ``ParsedDocument(title=..., sections=[Section(text=..., heading=..., page=...)])``;
        take the title from the document, else from the file name."""
        doc = parser.parse(*sample)
        assert isinstance(doc, ParsedDocument) and isinstance(doc.title, str)
        assert doc.sections and all(isinstance(s, Section) for s in doc.sections)
        assert any(s.text.strip() for s in doc.sections), "no section has text"

    def test_deterministic(self, parser: Parser, sample: tuple[bytes, str]) -> None:
        """The same bytes parse to the same document (re-ingestion compares chunk texts).

        Fix: do not put the time, a random value or the parse order of a set into the text."""
        assert parser.parse(*sample) == parser.parse(*sample)

    def test_does_not_read_the_path(self, parser: Parser, sample: tuple[bytes, str]) -> None:
        """``path`` only names the file: the parser reads ``data``, never the file system.

        Fix: parse ``data``; use ``path`` only for its suffix and a fallback title."""
        data, path = sample
        nowhere = "no/such/folder-inhouse-kit/" + path.rsplit("/", 1)[-1]
        assert parser.parse(data, nowhere).sections

    @pytest.mark.parametrize("data", [b"", GARBAGE], ids=["empty", "garbage"])
    def test_bad_input_raises_ingest_error(self, parser: Parser, sample: tuple[bytes, str], data: bytes) -> None:
        """An empty or corrupt file gives a ``ParsedDocument`` or an ``IngestError`` with the
        reason (the ingestion report shows it), never another exception.

        Fix: catch the format library's errors and ``raise IngestError("corrupt ...: reason")``."""
        try:
            doc = parser.parse(data, sample[1])
        except IngestError as exc:
            assert str(exc), "say why the file could not be parsed"
            return
        assert isinstance(doc, ParsedDocument)
