"""Helpers shared by the parsers: text decoding, fallback titles, heading paths."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath

from inhouse.errors import IngestError
from inhouse.types import Section

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# C0 controls other than tab, newlines, form feed and escape; DEL; C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f-\x9f]")
_BLANK_RUNS = re.compile(r"\n{3,}")
_INDEX_STEMS = {"index", "readme", "_index"}
_FILE_NAME = re.compile(r"\.(?:docx?|pdf|pptx?|xlsx?|rtf|txt|indd|odt)$", re.I)
_PLACEHOLDER_TITLE = re.compile(
    r"(?:untitled\b.*|title|document|(?:microsoft )?(?:word|excel) document|workbook|"
    r"presentation|slide \d+|microsoft (?:word|excel|powerpoint) - .*)",
    re.I,
)


@dataclass(frozen=True)
class Heading:
    """A heading met while reading a document. Level 0 marks a document-title paragraph."""

    level: int
    text: str


def decode_text(data: bytes, declared: str | None = None) -> str:
    """Decode the bytes of a text file: a BOM wins, then UTF-8, then the ``declared`` encoding
    (an HTML ``<meta charset>``), then cp1252, then latin-1.

    Newlines come back as ``\\n``. Raises ``IngestError`` for binary content or an empty text.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(encoding)
            except UnicodeDecodeError as exc:
                raise IngestError(
                    f"text starts with a {encoding} byte-order mark but does not decode as "
                    f"{encoding} (byte {exc.start}): re-save it as UTF-8"
                ) from exc
            break
    else:
        if b"\x00" in data:
            raise IngestError("binary content in a text file")
        for encoding in filter(None, ("utf-8", declared, "cp1252", "latin-1")):
            try:
                text = data.decode(encoding)
                break
            except (UnicodeDecodeError, LookupError):  # LookupError: no such codec
                continue
    if "\x00" in text or len(_CONTROL.findall(text)) > len(text) / 20:
        raise IngestError("binary content in a text file")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise IngestError("empty document")
    return text


def stem_title(path: str) -> str:
    """A title made from the file name: ``advanced-sick-leave.md`` -> ``Advanced sick leave``.

    ``index``/``README`` files take their folder's name.
    """
    p = PurePosixPath(path)
    stem = p.parent.name if p.stem.lower() in _INDEX_STEMS and p.parent.name else p.stem
    words = " ".join(re.split(r"[-_\s]+", stem)).strip()
    if words.islower():
        words = words[0].upper() + words[1:]
    return words or path


def plausible_title(title: str) -> bool:
    """Whether a title from file metadata looks real: not a file name or an editor's default."""
    return (
        3 <= len(title) <= 200
        and any(c.isalpha() for c in title)
        and not _FILE_NAME.search(title)
        and not _PLACEHOLDER_TITLE.fullmatch(title)
    )


def one_line(text: str) -> str:
    """Collapse every run of whitespace (newlines included) into one space."""
    return " ".join(text.split())


def tidy(text: str) -> str:
    """Strip trailing spaces on each line, keep at most one blank line in a row, trim the ends."""
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return _BLANK_RUNS.sub("\n\n", text).strip("\n")


def build_sections(blocks: Iterable[str | Heading], title: str) -> list[Section]:
    """Group text blocks into sections headed by the path of the headings above them.

    A level-1 heading equal to ``title`` (or a level-0 title paragraph) resets the path but is
    not part of it. Headings without text are ignored, sections without text dropped.
    """
    sections: list[Section] = []
    path: list[Heading] = []
    lines: list[str] = []
    title_key = one_line(title).casefold()

    def flush() -> None:
        text = tidy("\n".join(lines))
        lines.clear()
        if text.strip():
            sections.append(Section(text=text, heading=" > ".join(h.text for h in path)))

    for block in blocks:
        if isinstance(block, Heading) and block.text:
            flush()
            path = [h for h in path if h.level < block.level]
            if block.level > 1 or (block.level == 1 and one_line(block.text).casefold() != title_key):
                path.append(block)
        elif isinstance(block, str):
            lines.append(block)
    flush()
    return sections
