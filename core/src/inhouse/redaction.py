"""PII redaction: personal data replaced by placeholders before text leaves for a model, and
put back in what the user sees.

>>> redactor = Redactor(["email", "phone"])
>>> r = redactor.redact("Mail jane@acme.com or call +44 20 7946 0958.")
>>> r.text, r.placeholders, r.counts
('Mail [EMAIL_1] or call [PHONE_1].', {'[EMAIL_1]': 'jane@acme.com', '[PHONE_1]': '+44 20 7946 0958'}, {'email': 1, 'phone': 1})
>>> restore("Write to [EMAIL_1].", r.placeholders)
'Write to jane@acme.com.'

One request sends several texts (the passages, the history, the question): the same value
must get the same placeholder in all of them. Either pass the mapping so far,
``redactor.redact(text, earlier.placeholders)``, or use a session, which keeps it::

    session = redactor.session()
    prompt = [session.redact(m).text for m in messages]
    stream = RestoringStream(session.placeholders)

What is detected, and how well, is :mod:`inhouse.pii` (``bench/pii.py`` measures it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from inhouse.errors import ConfigError
from inhouse.pii import KINDS, find

TAGS = {kind: kind.upper() for kind in KINDS}
_PLACEHOLDER = re.compile(r"\[(" + "|".join(TAGS.values()) + r")_(\d+)\]")
_LONGEST = max(len(tag) for tag in TAGS.values()) + 8  # "[NATIONAL_ID_" + digits + "]"


@dataclass(frozen=True)
class Redacted:
    """A redacted text: ``placeholders`` maps each placeholder to its original (those of
    earlier texts of the same request included), ``counts`` the replacements in this text by kind."""

    text: str
    placeholders: dict[str, str]
    counts: dict[str, int]


class Redactor:
    """Replaces the personal data of ``kinds`` (of :data:`inhouse.pii.KINDS`) with placeholders
    such as ``[EMAIL_1]``; models keep them, :func:`restore` puts the originals back."""

    def __init__(self, kinds: Sequence[str]):
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise ConfigError(f"policy.redact_kinds: unknown kind {', '.join(map(repr, unknown))} (known: {', '.join(KINDS)})")
        self.kinds = tuple(kinds)

    def redact(self, text: str, placeholders: Mapping[str, str] | None = None) -> Redacted:
        """``text`` with its personal data replaced. Values already in ``placeholders`` (from
        earlier texts of the same request) keep their placeholder; new ones get the next number
        of their kind, never one that already occurs in ``text``."""
        mapping = dict(placeholders or {})
        by_value = {original: placeholder for placeholder, original in mapping.items()}
        counts: dict[str, int] = {}
        out, last = [], 0
        for span in find(text, self.kinds):
            placeholder = by_value.get(span.value)
            if placeholder is None:
                placeholder = self._next(span.kind, mapping, text)
                mapping[placeholder] = by_value[span.value] = span.value
            out += [text[last : span.start], placeholder]
            last = span.end
            counts[span.kind] = counts.get(span.kind, 0) + 1
        out.append(text[last:])
        return Redacted("".join(out), mapping, counts)

    @staticmethod
    def _next(kind: str, mapping: Mapping[str, str], text: str) -> str:
        tag = TAGS[kind]
        used = [int(m.group(2)) for m in map(_PLACEHOLDER.fullmatch, mapping) if m and m.group(1) == tag]
        n = max(used, default=0) + 1
        while f"[{tag}_{n}]" in text:
            n += 1
        return f"[{tag}_{n}]"

    def session(self) -> RedactionSession:
        """A session: texts redacted through it share placeholders (one request's messages)."""
        return RedactionSession(self)


class RedactionSession:
    """Redacts several texts with one mapping; ``placeholders`` and ``counts`` grow with each."""

    def __init__(self, redactor: Redactor):
        self.redactor = redactor
        self.placeholders: dict[str, str] = {}
        self.counts: dict[str, int] = {}

    def redact(self, text: str) -> Redacted:
        """``text`` redacted with the placeholders of the texts before it."""
        result = self.redactor.redact(text, self.placeholders)
        self.placeholders = result.placeholders
        for kind, n in result.counts.items():
            self.counts[kind] = self.counts.get(kind, 0) + n
        return result


def restore(text: str, placeholders: Mapping[str, str]) -> str:
    """``text`` with each known placeholder replaced by its original (unknown ones stay)."""
    if not placeholders:
        return text
    return _PLACEHOLDER.sub(lambda m: placeholders.get(m.group(), m.group()), text)


class RestoringStream:
    """Restores placeholders in streamed text, where one may arrive split across chunks
    (``[EMA`` + ``IL_1]``): a possible start of a placeholder is held until it completes."""

    def __init__(self, placeholders: Mapping[str, str]):
        self.placeholders = placeholders
        self._held = ""

    def feed(self, chunk: str) -> str:
        """The restored text that can be shown now (possibly empty)."""
        text = self._held + chunk
        cut = text.rfind("[")
        if cut >= 0 and len(text) - cut < _LONGEST and re.fullmatch(r"\[[A-Z_]*\d*", text[cut:]):
            self._held = text[cut:]
            text = text[:cut]
        else:
            self._held = ""
        return restore(text, self.placeholders)

    def flush(self) -> str:
        """What is still held, restored (call once the stream ends)."""
        text, self._held = self._held, ""
        return restore(text, self.placeholders)
