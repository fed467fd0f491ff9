"""The parser of web pages (``inhouse.parsers`` entry ``WEB_PAGE``, ``application/vnd.inhouse.web-page+html``):
the page's main text by trafilatura, without the navigation, headers, footers, sidebars, cookie
notices and link lists every page of a site repeats.

The web connector gives its HTML pages this media type, so boilerplate removal applies to web
pages only: HTML files from a folder or a bucket keep the core's HTML parser, which reads the
whole page (their "chrome" is rarely boilerplate). The connector's ``open`` still returns the
page's original bytes. Sections follow the page's headings (``h1 > h2``); a table is one
``cell | cell`` line per row.
"""

from __future__ import annotations

from pathlib import PurePosixPath

import trafilatura
from lxml import etree

from inhouse.errors import IngestError
from inhouse.plugins import Parser
from inhouse.types import ParsedDocument, Section

_BLOCKS = {"p", "list", "quote", "code", "table"}


def parse_page(data: bytes, path: str) -> ParsedDocument:
    """The main text of the HTML page ``data``; the title is the page's (metadata, else the
    path). Raises ``IngestError`` when trafilatura finds no main text."""
    extracted = trafilatura.extract(
        data,
        output_format="xml",
        favor_precision=True,
        include_tables=True,
        include_comments=False,
        include_links=False,
        with_metadata=True,
    )
    if not extracted:
        raise IngestError("no main text found on the page (trafilatura)")
    doc = etree.fromstring(extracted.encode("utf-8"), etree.XMLParser(resolve_entities=False, no_network=True))
    title = " ".join((doc.get("title") or "").split()) or PurePosixPath(path.split("?", 1)[0]).name or path
    sections: list[Section] = []
    headings: list[tuple[int, str]] = []
    lines: list[str] = []

    def flush() -> None:
        """End the current section (its lines under the current heading path)."""
        if lines:
            sections.append(Section("\n".join(lines), " > ".join(text for _, text in headings)))
            lines.clear()

    main = doc.find("main")
    for block in main if main is not None else ():
        if block.tag == "head":
            flush()
            level = _level(block.get("rend", ""))
            headings[:] = [(lvl, text) for lvl, text in headings if lvl < level] + [(level, _text(block))]
        elif block.tag in _BLOCKS:
            lines.extend(_rows(block) if block.tag == "table" else [_text(block)])
    flush()
    sections = [s for s in sections if s.text.strip()]
    if not sections:
        raise IngestError("no main text found on the page (trafilatura)")
    return ParsedDocument(title=title, sections=sections)


def _text(element: etree._Element) -> str:
    return " ".join("".join(element.itertext()).split())


def _rows(table: etree._Element) -> list[str]:
    rows = (" | ".join(_text(cell) for cell in row.iter("cell")) for row in table.iter("row"))
    return [row for row in rows if row.strip(" |")]


def _level(rend: str) -> int:
    return int(rend[1]) if len(rend) == 2 and rend[0] == "h" and rend[1].isdigit() else 6


class WebPageParser(Parser):
    """Web pages (``application/vnd.inhouse.web-page+html``, set by the web connector): main text only."""

    parse = staticmethod(parse_page)
