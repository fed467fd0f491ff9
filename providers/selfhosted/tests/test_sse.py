"""The server-sent event parser of the self-hosted providers, fed bytes sliced anywhere."""

from __future__ import annotations

import pytest

from inhouse_selfhosted.sse import Event, SSEParser, events

STREAM = (
    ": keep-alive comment\r\n"
    "event: token\r\n"
    'data: {"token": {"text": "Grüße €", "special": false}}\r\n'
    "\r\n"
    "data: first line\n"
    ": a comment between data lines\n"
    "data: second line\n"
    "\n"
    'data: {"generated_text": "😀"}\r'
    "\r"
    "data: [DONE]"
).encode()
EXPECTED = [
    Event('{"token": {"text": "Grüße €", "special": false}}', "token"),
    Event("first line\nsecond line"),
    Event('{"generated_text": "😀"}'),
    Event("[DONE]"),
]


def sliced(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 64, len(STREAM)])
def test_any_slicing_gives_the_same_events(size: int) -> None:
    assert list(events(sliced(STREAM, size))) == EXPECTED


def test_every_two_way_cut_gives_the_same_events() -> None:
    for cut in range(len(STREAM) + 1):
        assert list(events([STREAM[:cut], STREAM[cut:]])) == EXPECTED, cut


def test_crlf_split_across_chunks_is_one_line_end() -> None:
    chunks = [b"data: a\r", b"\n", b"data: b\r\n\r", b"\n", b"data: c\r\n\r\n"]
    assert list(events(chunks)) == [Event("a\nb"), Event("c")]


def test_cr_alone_ends_lines_even_at_the_end_of_the_stream() -> None:
    assert list(events([b"data: a\rdata: b\r\r"])) == [Event("a\nb")]
    assert list(events([b"data: x\r"])) == [Event("x")]


def test_events_come_out_as_soon_as_their_blank_line_arrives() -> None:
    parser = SSEParser()
    assert list(parser.feed(b"data: one\n")) == []
    assert list(parser.feed(b"\n")) == [Event("one")]
    assert list(parser.feed(b"data: two\r\n\r")) == []  # the last \r may be half of \r\n
    assert list(parser.feed(b"data")) == [Event("two")]
    assert list(parser.close()) == [Event("")]


@pytest.mark.parametrize("text", ["é", "€", "😀", "日本語"])
def test_multibyte_characters_split_anywhere(text: str) -> None:
    data = f"data: {text}{text}\n\n".encode()
    for size in range(1, 5):
        assert list(events(sliced(data, size))) == [Event(text * 2)]


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    assert list(events([b"data: a\xff", b"b\n\ndata: ok\n\n"])) == [Event("a\ufffdb"), Event("ok")]
    assert list(events([b"data: cut \xe2\x82"])) == [Event("cut \ufffd")]  # truncated at the end


def test_comments_and_unknown_fields_are_ignored() -> None:
    data = b": ping\n\nid: 7\nretry: 1000\nfoo: bar\ndata: x\n\n:\n\n"
    assert list(events([data])) == [Event("x")]


def test_field_value_rules() -> None:
    data = b"data\n\ndata:no-space\n\ndata:  two spaces\n\ndata: a: b\n\n"
    assert [e.data for e in events([data])] == ["", "no-space", " two spaces", "a: b"]


def test_event_name_applies_to_one_event_and_needs_data() -> None:
    data = b"event: error\n\nevent: error\ndata: boom\n\ndata: next\n\n"
    assert list(events([data])) == [Event("boom", "error"), Event("next")]


@pytest.mark.parametrize("tail", [b"data: last", b"data: last\n", b"data: last\r\n", b"data: last\r"])
def test_a_last_event_without_its_blank_line_still_counts(tail: bytes) -> None:
    assert list(events([b"data: first\n\n", tail])) == [Event("first"), Event("last")]


def test_a_byte_order_mark_may_open_the_stream() -> None:
    bom = "\ufeff".encode()
    assert list(events([bom[:1], bom[1:] + b"data: x\n\n"])) == [Event("x")]
    assert list(events([b"data: \xef\xbb\xbfx\n\n"])) == [Event("\ufeffx")]  # only at the very start


def test_nothing_in_nothing_out() -> None:
    assert list(events([])) == []
    assert list(events([b"", b"\n\n\r\n"])) == []
