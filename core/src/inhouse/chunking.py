"""Splitting parsed documents into chunks that keep their place (heading path or page)."""

from __future__ import annotations

import hashlib

from langchain_text_splitters import RecursiveCharacterTextSplitter

from inhouse.types import Chunk, ParsedDocument

SEPARATORS = ["\n\n", "\n", ". ", "; ", ", ", " ", ""]


class Chunker:
    """Splits each section on its own, so a chunk never spans two headings or two pages.

    Sections are already heading-aware (the Markdown, HTML and DOCX parsers cut at headings);
    within a section, a recursive character splitter keeps paragraphs and sentences whole.
    """

    def __init__(self, chunk_size: int = 900, chunk_overlap: int = 120):
        self.splitter = RecursiveCharacterTextSplitter(
            chunk_size=chunk_size,
            chunk_overlap=min(chunk_overlap, chunk_size // 2),
            separators=SEPARATORS,
            keep_separator="end",
            strip_whitespace=True,
        )

    def split(self, doc: ParsedDocument, *, doc_id: str, source: str, acl: tuple[str, ...] = ()) -> list[Chunk]:
        """Chunks of one document, numbered in reading order."""
        chunks: list[Chunk] = []
        for section in doc.sections:
            for piece in self.splitter.split_text(section.text):
                if not piece.strip():
                    continue
                ordinal = len(chunks)
                chunk_id = hashlib.sha1(f"{doc_id}\0{ordinal}\0{piece}".encode()).hexdigest()[:24]
                chunks.append(
                    Chunk(
                        id=chunk_id,
                        doc_id=doc_id,
                        source=source,
                        title=doc.title,
                        text=piece,
                        heading=section.heading,
                        page=section.page,
                        acl=acl,
                        ordinal=ordinal,
                    )
                )
        return chunks
