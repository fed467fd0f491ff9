"""Office Open XML: DOCX (python-docx) by heading path, XLSX (openpyxl) one section per sheet.

Both are zip archives of XML, so a small file can claim or hold a huge amount of work. Before
a library sees one, its members' sizes and compression ratios are checked (a zip bomb fails
fast with the reason); a workbook is read by its stored rows, not the range its
``<dimension>`` claims, and no more than ``_MAX_CELLS`` cell positions are visited.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime, time
from typing import Any, TypeVar

import docx
import openpyxl
from docx.table import Table
from docx.text.paragraph import Paragraph
from openpyxl.utils import get_column_letter

from inhouse.errors import IngestError
from inhouse.parsing.base import Heading, build_sections, one_line, plausible_title, stem_title
from inhouse.plugins import Parser
from inhouse.types import ParsedDocument, Section

T = TypeVar("T")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted OOXML and legacy .doc/.xls
_MB = 1024 * 1024
_MAX_UNZIPPED = 256 * _MB  # all members together, uncompressed
# A member may expand at most 100-fold (Apache POI's default for the same check) once over 1 MB;
# Office's own XML compresses 5- to 35-fold.
_MAX_RATIO = 100
_RATIO_FROM = _MB
_MAX_CELLS = 10_000_000  # cell positions visited in a workbook, empty ones within rows included


def parse_docx(data: bytes, path: str) -> ParsedDocument:
    """Parse a Word document: "Title"/"Heading N" paragraphs give the heading path, tables
    become ``cell | cell`` rows. The title is the core-properties title, else the Title-style
    paragraph, else the first heading, else the stem."""
    document = _open(docx.Document, data, "DOCX")
    blocks: list[str | Heading] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            blocks.extend(_table_rows(item))
        elif text := item.text.strip():
            level = _heading_level(item)
            blocks.append(text if level is None else Heading(level, one_line(text)))
    headings = [b for b in blocks if isinstance(b, Heading)]
    meta_title = one_line(document.core_properties.title or "")
    title = (
        (meta_title if plausible_title(meta_title) else "")
        or next((h.text for h in headings if h.level == 0), "")
        or next((h.text for h in headings), "")
        or stem_title(path)
    )
    return ParsedDocument(title=title, sections=build_sections(blocks, title))


def parse_xlsx(data: bytes, path: str) -> ParsedDocument:
    """Parse a workbook: one section per sheet (heading = sheet name), one line per row as
    ``Header: value; ...`` with the first non-empty row as the header."""
    workbook = _open(_load_workbook, data, "XLSX")
    try:
        meta_title = one_line(workbook.properties.title or "")
        title = meta_title if plausible_title(meta_title) else stem_title(path)
        sections, reader = [], _BoundedReader()
        for sheet in workbook.worksheets:
            cells = ([_cell(v) for v in row] for row in reader.rows(sheet))
            if text := "\n".join(_sheet_lines(row for row in cells if any(row))):
                sections.append(Section(text=text, heading=sheet.title))
    except IngestError:
        raise
    except Exception as exc:  # openpyxl reads lazily in read-only mode
        raise IngestError(f"corrupt XLSX: {exc or type(exc).__name__}") from exc
    finally:
        workbook.close()
    return ParsedDocument(title=title, sections=sections)


class _BoundedReader:
    """Reads a workbook's sheets by their stored rows, visiting at most ``_MAX_CELLS`` cell
    positions in all (empty ones within rows included)."""

    def __init__(self) -> None:
        self.left = _MAX_CELLS

    def rows(self, sheet: Any) -> Iterator[tuple[Any, ...]]:
        """The sheet's rows as stored, each as wide as its last stored cell: the ``<dimension>``
        element is only the file's claim (``A1:XFD1048576`` would mean 1.7e10 empty cells)."""
        sheet.reset_dimensions()
        for row in sheet.iter_rows(values_only=True):
            self.left -= max(len(row), 1)
            if self.left < 0:
                raise IngestError(
                    f"XLSX is too large to read: over {_MAX_CELLS:,} cells (counting empty ones within rows, "
                    f"up to sheet '{sheet.title}'); split the workbook or save its sheets as CSV"
                )
            yield row


def _open(load: Callable[[io.BytesIO], T], data: bytes, kind: str) -> T:
    if data.startswith(_OLE_MAGIC):
        raise IngestError(
            f"encrypted {kind} (password-protected) or an old binary Office file: save it as an unprotected .{kind.lower()}"
        )
    try:
        _check_archive(data, kind)
        return load(io.BytesIO(data))
    except IngestError:
        raise
    except Exception as exc:  # zipfile, lxml and the libraries each raise their own types
        raise IngestError(f"corrupt {kind}: {exc or type(exc).__name__}") from exc


def _check_archive(data: bytes, kind: str) -> None:
    """Refuse a zip bomb before any member is unpacked, from the sizes the archive declares
    (``zipfile`` never yields more than a member's declared size: more fails its CRC check)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.infolist()
    total = sum(m.file_size for m in members)
    if total > _MAX_UNZIPPED:
        raise IngestError(
            f"{kind} unpacks to {total / _MB:,.0f} MB, over the parser's {_MAX_UNZIPPED // _MB} MB limit "
            "(a zip bomb, or a document to split)"
        )
    for m in members:
        ratio = m.file_size / max(m.compress_size, 1)
        if m.file_size > _RATIO_FROM and ratio > _MAX_RATIO:
            raise IngestError(
                f"{kind} part '{m.filename}' expands {ratio:,.0f}-fold ({m.compress_size / 1024:,.0f} KB to "
                f"{m.file_size / _MB:,.0f} MB), over the parser's {_MAX_RATIO}-fold limit: it looks like a zip bomb"
            )


def _load_workbook(file: io.BytesIO) -> Any:
    return openpyxl.load_workbook(file, read_only=True, data_only=True)


def _heading_level(paragraph: Paragraph) -> int | None:
    """0 for a "Title" paragraph, N for "Heading N", None for body text."""
    name = paragraph.style.name if paragraph.style is not None else ""
    if name == "Title":
        return 0
    suffix = name.removeprefix("Heading ")
    return int(suffix) if suffix != name and suffix.isdigit() else None


def _table_rows(table: Table) -> list[str]:
    """One ``cell | cell`` line per row; a merged cell is written once."""
    lines = []
    for row in table.rows:
        cells, seen = [], set()
        for cell in row.cells:
            if cell._tc not in seen:  # a merged cell repeats in each grid column it spans
                seen.add(cell._tc)
                cells.append(one_line(cell.text))
        if any(cells):
            lines.append(" | ".join(cells))
    return lines


def _sheet_lines(rows: Iterator[list[str]]) -> list[str]:
    """``Header: value; ...`` for each row after the first (the header); a lone row is kept."""
    header = next(rows, None)
    if header is None:
        return []
    lines = ["; ".join(f"{_column(header, i)}: {v}" for i, v in enumerate(row) if v) for row in rows]
    return lines or [" | ".join(v for v in header if v)]


def _column(header: list[str], i: int) -> str:
    return header[i] if i < len(header) and header[i] else f"Column {get_column_letter(i + 1)}"


def _cell(value: Any) -> str:
    """A cell value as text: whole floats without ".0", midnight datetimes as dates."""
    if value is None:
        return ""
    if isinstance(value, float):
        value = round(value, 10)
        return str(int(value)) if value.is_integer() else str(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat(" ")
    return one_line(str(value))


class DocxParser(Parser):
    """Word documents (``.docx``)."""

    parse = staticmethod(parse_docx)


class XlsxParser(Parser):
    """Excel workbooks (``.xlsx``)."""

    parse = staticmethod(parse_xlsx)
