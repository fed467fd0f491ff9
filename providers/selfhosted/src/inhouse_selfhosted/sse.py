"""Server-sent events from byte slices that may cut lines (and UTF-8 characters) anywhere.

TGI's ``/generate_stream``, OpenAI-compatible servers and SageMaker's streamed
``PayloadPart`` bytes all carry ``data: {...}`` lines; SageMaker slices them arbitrarily,
so bytes are re-buffered here until a whole line is available.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


@dataclass
class Event:
    """One server-sent event: its ``event`` name (default ``message``) and joined ``data`` lines."""

    data: str
    event: str = "message"


_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass
class SSEParser:
    """Feed bytes in any slicing; get whole events out (per the WHATWG event-stream rules)."""

    _decoder: codecs.IncrementalDecoder = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")("replace"))
    _buffer: str = ""
    _data: list[str] = field(default_factory=list)
    _event: str = ""
    _started: bool = False

    def feed(self, chunk: bytes) -> Iterator[Event]:
        """Add bytes; yield each event they complete."""
        yield from self._lines(self._decoder.decode(chunk))

    def close(self) -> Iterator[Event]:
        """End of stream: the last line ends (a lone trailing \\r included), and a last event
        without its blank line still counts."""
        yield from self._lines(self._decoder.decode(b"", final=True) + "\n")
        event = self._line("")
        if event is not None:
            yield event

    def _lines(self, text: str) -> list[Event]:
        """Parse every whole line of the buffer plus ``text``; keep the unfinished rest."""
        buffer = self._buffer + text
        if not self._started and buffer:
            self._started = True
            buffer = buffer.removeprefix("\ufeff")  # a byte order mark may open the stream
        found, start = [], 0
        while (end := _LINE_END.search(buffer, start)) is not None:
            if end.group() == "\r" and end.end() == len(buffer):
                break  # maybe the first half of \r\n: wait for the next byte
            event = self._line(buffer[start : end.start()])
            if event is not None:
                found.append(event)
            start = end.end()
        self._buffer = buffer[start:]
        return found

    def _line(self, line: str) -> Event | None:
        if not line:
            if not self._data:
                self._event = ""
                return None
            event = Event("\n".join(self._data), self._event or "message")
            self._data, self._event = [], ""
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        return None


def events(chunks: Iterable[bytes]) -> Iterator[Event]:
    """Every event of a byte stream, however it was sliced."""
    parser = SSEParser()
    for chunk in chunks:
        yield from parser.feed(chunk)
    yield from parser.close()
