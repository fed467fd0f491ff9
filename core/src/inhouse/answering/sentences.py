"""Splitting a passage into sentences, the units an answer quotes and evidence is scored on.

Lines that stand alone in the source (list items, table rows, headings, short labels) are
sentences of their own; prose is split after ``.``, ``!`` or ``?`` followed by a space and a
capital letter or a digit, except after common abbreviations ("e.g.", "U.S.", "No."). A
prose line wrapped in the source (no end punctuation, the next line starting in lower case)
is joined first.
"""

from __future__ import annotations

import re

_BOUNDARY = re.compile(r"(?<=[.!?])([\"'”’)\]]*)\s+(?=[\"'“‘(\[]?[A-Z0-9$€£])")
_ABBREVIATIONS = frozenset(
    [
        "e.g",
        "i.e",
        "etc",
        "vs",
        "mr",
        "mrs",
        "ms",
        "dr",
        "st",
        "no",
        "nos",
        "fig",
        "approx",
        "u.s",
        "u.k",
        "inc",
        "ltd",
        "jr",
        "sr",
        "dept",
        "est",
        "min",
        "max",
    ]
)
_LIST_ITEM = re.compile(r"^\s*(?:[-*•+]\s+|\d{1,3}[.)]\s+|\|)")
_MARKER = re.compile(r"^\s*(?:[-*•+]\s+|\d{1,3}[.)]\s+)")
MAX_SENTENCE = 600  # characters: longer runs (a table dumped on one line) are cut at "; " or ", "


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` in order, stripped, list markers removed, none empty."""
    sentences: list[str] = []
    for line in _logical_lines(text):
        for sentence in _split_prose(line):
            sentences.extend(_bounded(sentence))
    return sentences


def _logical_lines(text: str) -> list[str]:
    """Lines, with a wrapped prose line joined to its continuation."""
    lines: list[str] = []
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            continue
        continues = (
            lines and not _LIST_ITEM.match(line) and line[0].islower() and not lines[-1].endswith((".", "!", "?", ":", "|"))
        )
        if continues:
            lines[-1] = f"{lines[-1]} {line}"
        else:
            lines.append(_MARKER.sub("", line))
    return lines


def _split_prose(line: str) -> list[str]:
    pieces: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(line):
        end = match.start() + len(match.group(1))
        before = line[start:end].rsplit(None, 1)[-1].rstrip(".!?\"'”’)]").lower()
        if before in _ABBREVIATIONS or (len(before) <= 2 and before.isalpha()):
            continue  # "e.g. The", "J. Smith", "ul. Ogrodowa"
        pieces.append(line[start:end].strip())
        start = match.end()
    pieces.append(line[start:].strip())
    return [p for p in pieces if p]


def _bounded(sentence: str) -> list[str]:
    if len(sentence) <= MAX_SENTENCE:
        return [sentence]
    out, rest = [], sentence
    while len(rest) > MAX_SENTENCE:
        cut = max(rest.rfind("; ", 0, MAX_SENTENCE), rest.rfind(", ", 0, MAX_SENTENCE))
        cut = cut + 1 if cut > MAX_SENTENCE // 3 else rest.rfind(" ", 0, MAX_SENTENCE)
        cut = cut if cut > 0 else MAX_SENTENCE
        out.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    return [*out, rest] if rest else out
