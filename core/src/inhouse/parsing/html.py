"""HTML: page chrome dropped, sections by ``h1``-``h4``, tables as ``cell | cell`` lines."""

from __future__ import annotations

from bs4 import BeautifulSoup, NavigableString, Tag
from bs4.dammit import EncodingDetector
from bs4.element import PageElement, PreformattedString

from inhouse.parsing.base import Heading, build_sections, decode_text, one_line, stem_title
from inhouse.plugins import Parser
from inhouse.types import ParsedDocument

_DROP = {"script", "style", "nav", "footer", "header", "head", "title", "noscript", "template", "svg"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4}
_BLOCKS = {
    "address", "article", "aside", "blockquote", "br", "caption", "dd", "details", "div", "dl",
    "dt", "fieldset", "figcaption", "figure", "form", "h5", "h6", "hr", "li", "main", "ol", "p",
    "section", "summary", "ul",
}  # fmt: skip


def parse_html(data: bytes, path: str) -> ParsedDocument:
    """Parse an HTML page; the title is ``<title>``, else the first ``h1``, else the stem."""
    declared = EncodingDetector.find_declared_encoding(data, is_html=True)
    soup = BeautifulSoup(decode_text(data, declared), "html.parser")
    found = (one_line(tag.get_text(" ")) for tag in (soup.find("title"), soup.find("h1")) if tag)
    title = next((text for text in found if text), stem_title(path))
    return ParsedDocument(title=title, sections=build_sections(_read(soup), title))


def _read(root: Tag) -> list[str | Heading]:
    """Walk the tree in document order (with a stack, so deep nesting is fine), producing
    lines of text and headings."""
    blocks: list[str | Heading] = []
    line: list[str] = []

    def end_line() -> None:
        if text := one_line("".join(line)):
            blocks.append(text)
        line.clear()

    stack: list[PageElement | None] = [root]  # None: end the line once a block is read
    while stack:
        node = stack.pop()
        if node is None:
            end_line()
        elif isinstance(node, NavigableString):
            if not isinstance(node, PreformattedString):  # comments, doctype, CDATA
                line.append(str(node))
        elif not isinstance(node, Tag) or node.name in _DROP:
            continue
        elif node.name in _HEADINGS:
            end_line()
            blocks.append(Heading(_HEADINGS[node.name], one_line(node.get_text(" "))))
        elif node.name == "table":
            end_line()
            blocks.extend(_rows(node))
        elif node.name == "pre":
            end_line()
            blocks.append(node.get_text().strip("\n"))
        else:
            if node.name in _BLOCKS:
                end_line()
                stack.append(None)
            stack.extend(reversed(node.contents))
    end_line()
    return blocks


def _rows(table: Tag) -> list[str]:
    """One ``cell | cell`` line per row of ``table`` (rows of nested tables are not repeated)."""
    lines = []
    for row in table.find_all("tr"):
        if row.find_parent("table") is table:
            cells = [one_line(c.get_text(" ")) for c in row.find_all(["td", "th"], recursive=False)]
            if any(cells):
                lines.append(" | ".join(cells))
    return lines


class HtmlParser(Parser):
    """HTML (``.html``, ``.htm``, ``text/html``)."""

    parse = staticmethod(parse_html)
