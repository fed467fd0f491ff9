"""PDF (pypdf): one section per page with text, ``page`` numbered from 1."""

from __future__ import annotations

import io
import re
import unicodedata

from pypdf import PdfReader
from pypdf.errors import DependencyError

from inhouse.errors import IngestError
from inhouse.parsing.base import one_line, plausible_title, stem_title, tidy
from inhouse.plugins import Parser
from inhouse.types import ParsedDocument, Section

_HYPHENATED = re.compile(r"([A-Za-z])-\n\s*([a-z])")
_MAX_TITLE = 120
_MIN_LINES_TO_JOIN = 8
_MAX_PAGES = 5_000  # past this, extraction alone outlasts any sensible parse timeout


def parse_pdf(data: bytes, path: str) -> ParsedDocument:
    """Parse a PDF; the title is the metadata title when sensible, else the first line."""
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise IngestError("encrypted PDF: it needs a password; save an unprotected copy")
        if (count := len(reader.pages)) > _MAX_PAGES:
            raise IngestError(f"PDF has {count:,} pages, over the parser's {_MAX_PAGES:,}-page limit: split it")
        pages = [_clean(page.extract_text() or "") for page in reader.pages]
        meta_title = one_line(reader.metadata.title or "") if reader.metadata else ""
    except IngestError:
        raise
    except DependencyError as exc:
        raise IngestError(f"encrypted PDF: cannot decrypt it ({exc})") from exc
    except Exception as exc:  # pypdf raises many types for damaged files
        raise IngestError(f"corrupt PDF: {exc or type(exc).__name__}") from exc
    sections = [Section(text=text, page=n) for n, text in enumerate(pages, 1) if text]
    if not sections:
        raise IngestError("no text found (scanned PDF?): it has no text layer; OCR it first")
    first_line = sections[0].text.split("\n", 1)[0]
    if plausible_title(meta_title):
        title = meta_title
    elif len(first_line) <= _MAX_TITLE:
        title = first_line
    else:
        title = stem_title(path)
    return ParsedDocument(title=title, sections=sections)


def _clean(text: str) -> str:
    """Normalise a page's text: ligatures, spaces, words hyphenated across lines."""
    text = unicodedata.normalize("NFKC", text.replace("\x00", ""))
    text = _HYPHENATED.sub(r"\1\2", text)
    lines = [one_line(line) for line in text.split("\n")]
    if len(lines) > _MIN_LINES_TO_JOIN and len(text.split()) < 1.5 * len(lines):
        return one_line(text)  # a word per line: the PDF placed each word on its own
    return tidy("\n".join(lines))


class PdfParser(Parser):
    """PDF (``.pdf``, ``application/pdf``)."""

    parse = staticmethod(parse_pdf)
