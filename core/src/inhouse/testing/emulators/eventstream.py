"""Encoder for the AWS event-stream binary framing (``application/vnd.amazon.eventstream``).

Each message is: prelude (total length, headers length, CRC32 of those 8 bytes), headers, payload and a
CRC32 of everything before it, all big-endian, exactly as ``botocore.eventstream`` decodes it.
"""

from __future__ import annotations

import json
import struct
import uuid
from binascii import crc32
from datetime import datetime
from typing import Any

HeaderValue = str | bytes | bool | int | datetime | uuid.UUID

_TRUE, _FALSE, _INT32, _INT64, _BYTES, _STRING, _TIMESTAMP, _UUID = 0, 1, 4, 5, 6, 7, 8, 9


def _encode_value(value: HeaderValue) -> bytes:
    """Type byte and encoded value of one header."""
    if isinstance(value, bool):
        return bytes([_TRUE if value else _FALSE])
    if isinstance(value, int):
        if -(2**31) <= value < 2**31:
            return bytes([_INT32]) + struct.pack(">i", value)
        return bytes([_INT64]) + struct.pack(">q", value)
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return bytes([_STRING]) + struct.pack(">H", len(raw)) + raw
    if isinstance(value, bytes):
        return bytes([_BYTES]) + struct.pack(">H", len(value)) + value
    if isinstance(value, datetime):
        return bytes([_TIMESTAMP]) + struct.pack(">q", round(value.timestamp() * 1000))
    if isinstance(value, uuid.UUID):
        return bytes([_UUID]) + value.bytes
    raise TypeError(f"unsupported event-stream header value type: {type(value).__name__}")


def encode_headers(headers: dict[str, HeaderValue]) -> bytes:
    """The headers section: for each header a name-length byte, the UTF-8 name, a type byte and the value."""
    out = bytearray()
    for name, value in headers.items():
        raw_name = name.encode("utf-8")
        if not 0 < len(raw_name) < 256:
            raise ValueError(f"event-stream header name must be 1..255 bytes: {name!r}")
        out += bytes([len(raw_name)]) + raw_name + _encode_value(value)
    return bytes(out)


def encode_message(headers: dict[str, HeaderValue], payload: bytes) -> bytes:
    """One complete event-stream message with both checksums."""
    encoded_headers = encode_headers(headers)
    total_length = 12 + len(encoded_headers) + len(payload) + 4
    prelude = struct.pack(">II", total_length, len(encoded_headers))
    prelude += struct.pack(">I", crc32(prelude) & 0xFFFFFFFF)
    message = prelude + encoded_headers + payload
    return message + struct.pack(">I", crc32(message) & 0xFFFFFFFF)


def json_bytes(payload: Any) -> bytes:
    """``payload`` as compact UTF-8 JSON, as AWS services send it."""
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


def event(event_type: str, payload: dict[str, Any]) -> bytes:
    """An ``event`` message of ``event_type`` carrying ``payload`` as JSON."""
    headers: dict[str, HeaderValue] = {
        ":event-type": event_type,
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return encode_message(headers, json_bytes(payload))


def exception(exception_type: str, payload: dict[str, Any]) -> bytes:
    """An ``exception`` message of ``exception_type`` (a member of the stream's union) carrying ``payload`` as JSON."""
    headers: dict[str, HeaderValue] = {
        ":exception-type": exception_type,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return encode_message(headers, json_bytes(payload))
