"""Markdown: front matter, template tags and markup removed; sections by ATX/setext headings."""

from __future__ import annotations

import html
import re
from itertools import takewhile

from inhouse.parsing.base import Heading, build_sections, decode_text, one_line, stem_title
from inhouse.parsing.templates import strip_templates
from inhouse.plugins import Parser
from inhouse.types import ParsedDocument

_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)^(?:---|\.\.\.)[ \t]*$\n?", re.S | re.M)
_YAML_TITLE = re.compile(r"title:[ \t]*(.*)")
_HTML_COMMENT = re.compile(r"<!--(?:(?!<!--).)*?-->", re.S)  # linear: no "<!--" inside
_FENCE = re.compile(r"[ \t]*(`{3,}(?!.*`)|~{3,})")
_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r" {0,3}(=+|-{2,})[ \t]*$")
_BLOCK_START = re.compile(r"\s*(?:[-*+](?:\s|$)|[>|<]|\d+[.)](?:\s|$))")  # list item, quote, table, HTML
_HEADING_ID = re.compile(r"\s*\{#[^{}\s]*\}\s*$")
_ATTRIBUTES = re.compile(r"\{[.:][^{}\n]*\}")  # {.usa-button}, {: .class}
_CODE_SPAN = re.compile(r"`+[^`\n]+?`+")
_HELD_SPAN = re.compile(r"\x00c(\d+)\x00")
_BLOCK_TAG = re.compile(
    r"</?(?:address|blockquote|br|dd|details|div|dl|dt|figcaption|figure|h[1-6]|hr|li|ol|p|"
    r"section|summary|table|tbody|td|tfoot|th|thead|tr|ul)\b[^<>]*>",
    re.I,
)
_TAG = re.compile(r"</?[A-Za-z][\w:-]*(?:\s(?:[^<>\"']|\"[^\"]*\"|'[^']*')*)?/?>")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(
    r"\\?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]"  # [text], one level of nested brackets allowed
    r"(?:\(\s*(?:<[^>\n]*>|(?:[^()\s]|\([^()\s]*\))*)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)"
    r"|\[[^\]\n]*\])"  # or a reference: [text][ref]
)
_LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:[ \t]+\S.*$", re.M)
_AUTOLINK = re.compile(r"<(?:mailto:)?([A-Za-z][\w+.-]*:[^<>\s]+|[^<>\s@]+@[^<>\s@]+)>")
_STRONG = re.compile(r"(\*\*|__)(?=\S)((?:(?!\1).)+?)(?<=\S)\1")
_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_RULE = re.compile(r"(?:[-*_][ \t]*){3,}|\|?(?:[ \t]*:?-+:?[ \t]*\|)+[ \t]*(?::?-+:?[ \t]*)?")


def parse_markdown(data: bytes, path: str) -> ParsedDocument:
    """Parse Markdown with optional YAML front matter and Liquid/Nunjucks template tags."""
    text, restore = strip_templates(decode_text(data))
    title, text = _front_matter(text)
    blocks = _blocks(_HTML_COMMENT.sub("", text))
    h1 = next((b.text for b in blocks if isinstance(b, Heading) and b.level == 1), "")
    title = title or h1 or stem_title(path)
    sections = build_sections(blocks, title)
    for section in sections:
        section.text, section.heading = restore(section.text), restore(section.heading)
    return ParsedDocument(title=restore(title), sections=sections)


def _front_matter(text: str) -> tuple[str, str]:
    """Split off YAML front matter; return its ``title`` (plain, quoted or folded) and the body."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return "", text
    body = text[match.end() :]
    lines = match[1].split("\n")
    for i, line in enumerate(lines):
        if found := _YAML_TITLE.match(line):
            value = found[1].strip()
            if len(value) > 1 and value[0] in "\"'" and value.endswith(value[0]):
                return _clean_inline(value[1:-1]), body
            more = takewhile(lambda s: s[:1].isspace(), lines[i + 1 :])  # folded continuation
            if value in (">", ">-", ">+", "|", "|-", "|+"):
                value = ""
            value = " ".join([value, *more])
            return one_line(_clean_inline(value)), body
    return "", body


def _blocks(text: str) -> list[str | Heading]:
    """Read the body line by line: headings become ``Heading``, prose is cleaned, code kept."""
    blocks: list[str | Heading] = []
    prose: list[str] = []
    lines = text.split("\n")
    fence = ""
    i = 0

    def flush() -> None:
        if prose:
            blocks.append(_clean_prose("\n".join(prose)))
            prose.clear()

    while i < len(lines):
        line = lines[i]
        if fence:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fence = ""
            else:
                blocks.append(line)
        elif opening := _FENCE.match(line):
            flush()
            fence = opening[1]
        elif atx := _ATX.match(line):
            flush()
            blocks.append(Heading(len(atx[1]), _clean_heading(atx[2] or "")))
        elif (
            i + 1 < len(lines)
            and line.strip()
            and (i == 0 or not lines[i - 1].strip())
            and not _BLOCK_START.match(line)
            and (underline := _SETEXT_UNDERLINE.match(lines[i + 1]))
        ):
            flush()
            blocks.append(Heading(1 if underline[1][0] == "=" else 2, _clean_heading(line)))
            i += 1
        else:
            prose.append(line)
        i += 1
    flush()
    return blocks


def _clean_heading(text: str) -> str:
    return one_line(_clean_inline(_HEADING_ID.sub("", text)))


def _clean_prose(text: str) -> str:
    """Markdown prose to plain text: markup gone, each paragraph or list item on one line."""
    text = "\n".join(_unwrap(_LINK_DEFINITION.sub("", text).split("\n")))
    lines = (one_line(line).removesuffix("\\") for line in _clean_inline(text).split("\n"))  # "\" hard break
    return "\n".join(line for line in lines if not _RULE.fullmatch(line))


def _unwrap(lines: list[str]) -> list[str]:
    """Join the soft line breaks of wrapped paragraphs and list items."""
    out: list[str] = []
    for line in lines:
        prev = out[-1] if out else ""
        if (
            prev.strip()
            and line.strip()
            and not _BLOCK_START.match(line)
            and not prev.endswith(("  ", "\\", ">"))
            and not prev.lstrip().startswith("|")
        ):
            out[-1] = f"{prev.rstrip()} {line.strip()}"
        else:
            out.append(line)
    return out


def _clean_inline(text: str) -> str:
    """Drop HTML tags (block tags become line breaks), images, link targets, attribute lists,
    entities and backslash escapes; code spans are left as they are."""
    spans: list[str] = []

    def hold(match: re.Match[str]) -> str:
        spans.append(match[0])
        return f"\x00c{len(spans) - 1}\x00"  # NUL never survives decoding, so it cannot clash

    text = _BLOCK_TAG.sub("\n", _CODE_SPAN.sub(hold, text))
    text = _TAG.sub("", _AUTOLINK.sub(r"\1", text))
    text = _STRONG.sub(r"\2", _LINK.sub(r"\1", _IMAGE.sub("", text)))
    text = _ESCAPE.sub(r"\1", html.unescape(_ATTRIBUTES.sub("", text)))
    return _HELD_SPAN.sub(lambda m: spans[int(m[1])], text)


class MarkdownParser(Parser):
    """Markdown (``.md``, ``.markdown``, ``text/markdown``)."""

    parse = staticmethod(parse_markdown)
