"""What travels between ingestion and the parser worker process: length-prefixed frames
(an 8-byte big-endian length, then the bytes) holding JSON or a file's raw bytes. No pickle:
the worker parses hostile files, so nothing it sends back is ever more than plain data.

A request is two frames, ``{"path", "media_type"}`` then the file's bytes. A reply is one
JSON frame with ``kind``: ``ready`` (the worker started), ``document`` (``title`` and
``sections``), ``unsupported`` or ``failed`` (``reason``), ``memory`` (the memory limit was
hit), ``text`` (the document's ``bytes`` of text are over the limit). ``retire`` asks the
parent to replace the worker after this reply.
"""

from __future__ import annotations

import json
import struct
from typing import Any, BinaryIO

from inhouse.types import ParsedDocument, Section

HEADER = struct.Struct(">Q")


def write_frame(stream: BinaryIO, payload: bytes) -> None:
    """Write one frame (the caller flushes)."""
    stream.write(HEADER.pack(len(payload)))
    stream.write(payload)


def read_frame(stream: BinaryIO) -> bytes | None:
    """Read one frame, blocking; None when the stream ends before a whole frame."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    payload = stream.read(size)
    return payload if len(payload) == size else None


def dump(message: dict[str, Any]) -> bytes:
    """A message as a JSON frame payload (a lone surrogate a parser produced survives the trip)."""
    return json.dumps(message, ensure_ascii=False).encode("utf-8", "surrogatepass")


def load(payload: bytes) -> dict[str, Any]:
    """The message in a JSON frame payload; ``ValueError`` when it is not a JSON object."""
    message = json.loads(payload.decode("utf-8", "surrogatepass"))
    if not isinstance(message, dict):
        raise ValueError("malformed message from the parser worker")
    return message


def document_message(document: ParsedDocument) -> dict[str, Any]:
    """The ``document`` reply for a parsed document."""
    sections = [{"text": s.text, "heading": s.heading, "page": s.page} for s in document.sections]
    return {"kind": "document", "title": document.title, "sections": sections}


def document_from(message: dict[str, Any]) -> ParsedDocument:
    """The parsed document a ``document`` reply carries, type-checked field by field."""
    title, sections = message.get("title"), message.get("sections")
    if not isinstance(title, str) or not isinstance(sections, list):
        raise ValueError("malformed reply from the parser worker")
    out = []
    for item in sections:
        if not isinstance(item, dict):
            raise ValueError("malformed section in a reply from the parser worker")
        text, heading, page = item.get("text"), item.get("heading"), item.get("page")
        if not (isinstance(text, str) and isinstance(heading, str) and (page is None or isinstance(page, int))):
            raise ValueError("malformed section in a reply from the parser worker")
        out.append(Section(text=text, heading=heading, page=page))
    return ParsedDocument(title=title, sections=out)


def text_bytes(document: ParsedDocument) -> int:
    """How many bytes of text (UTF-8) a parsed document holds: its title and sections."""
    strings = [document.title, *(s.text for s in document.sections), *(s.heading for s in document.sections)]
    return sum(len(text.encode("utf-8", "surrogatepass")) for text in strings)
