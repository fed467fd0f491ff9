"""Personal-data detectors: where in a text are emails, phone numbers, payment cards,
national ids, IBANs, IP addresses and people's names (:func:`find`).

Pure Python and ``re``, no model: each kind is a pattern plus a check that removes most
look-alikes.

- ``email``: ``local@domain.tld``.
- ``phone``: international (``+44 20 7946 0958``, ``0049 30 1234567``), US
  (``(415) 555-0134``, ``415-555-0134``, ``1-800-555-0199``), national numbers with a trunk
  ``0`` in groups (UK ``020 7946 0958``, French ``01 23 45 67 89``, German ``030/1234567``);
  a bare run of digits only after a word like *phone*, *call* or *mobile*. Dates, amounts,
  version numbers, ISBNs and numbers after *order*, *invoice*, *ticket*, *ref* ... are not
  phone numbers.
- ``card``: 13-19 digits with a card network's prefix, grouped as cards print them, passing
  the Luhn check.
- ``national_id``: US social security numbers (``123-45-6789``, area not 000/666/9xx,
  group not 00, serial not 0000), UK National Insurance numbers (``QQ 12 34 56 C``, valid
  prefixes), Spanish DNI/NIE (``12345678Z``, ``X1234567L``, check letter), Canadian social
  insurance numbers (``046 454 286``, Luhn).
- ``iban``: a country's IBAN length and the ISO 7064 mod-97 check.
- ``ip``: IPv4 with octets 0-255 (not after *version*), IPv6 as :mod:`ipaddress` parses it.
- ``name``: see :mod:`inhouse.names` (titles, cues, signatures, a first-name list).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from inhouse.names import find_names

KINDS = ("email", "phone", "card", "national_id", "iban", "ip", "name")


@dataclass(frozen=True)
class Span:
    """One detected piece of personal data: ``text[start:end]`` is of ``kind``."""

    start: int
    end: int
    kind: str
    value: str


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check of payment cards and Canadian SINs."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# IBAN length by country (SWIFT registry), for the countries most often seen.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AT": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29, "CH": 21, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GI": 23, "GL": 18, "GR": 27, "HR": 21,
    "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LI": 21, "LT": 20,
    "LU": 20, "LV": 21, "MC": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TN": 24, "TR": 26, "UA": 29,
}  # fmt: skip


def iban_ok(compact: str) -> bool:
    """Whether ``compact`` (no spaces, upper case) is an IBAN: its country's length and mod 97 == 1."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact[2:4].isdigit():
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def ssn_ok(area: str, group: str, serial: str) -> bool:
    """US SSN rules: area not 000, 666 or 900-999; group not 00; serial not 0000."""
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"

_EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9][\w.%+-]*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}(?![\w-])")
_CARD = re.compile(r"(?<![\w/.,-])\d(?:[ -]?\d){12,18}(?![\w/-]|[.,]\d)")
_CARD_PREFIX = re.compile(r"4|5[1-5]|2[2-7]|3[0-9]|6")
_SSN = re.compile(r"(?<![\w/.-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\w/-]|[.,]\d)")
_SSN_BARE = re.compile(r"(?<![\w/.-])(\d{3})(\d{2})(\d{4})(?![\w/-]|[.,]\d)")
_SSN_WORDS = re.compile(r"\b(?:SSN|social security)\b[\s\w.:#]{0,12}$", re.I)
_NINO = re.compile(
    r"(?<![A-Za-z0-9])(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Za-z0-9])"
)
_DNI = re.compile(r"(?<![\w-])([XYZ]?)-?(\d{7,8})-? ?([A-Z])(?![\w-])")
_SIN = re.compile(r"(?<![\w/.+-])\d{3}([- ])\d{3}\1\d{3}(?![\w/-]|[.,]\d)")
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])")
_PHONE = re.compile(r"(?<![\w+/.,:-])(?:\+|00)?\(?\d[\d \-.()/]{4,22}\d(?![\w/-]|[.,]\d)")
_DATE = re.compile(r"\d{1,4}[./ -]\d{1,2}[./ -]\d{2,4}")
_US_PHONE = re.compile(r"(?:1[ .-]?)?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .-])\d{3}[ .-]\d{4}")
_TRUNK_PHONE = re.compile(r"\(?0\d{1,4}\)?(?:[ .\-/]\d{2,8}){1,4}")
_PHONE_WORDS = re.compile(
    r"\b(?:phone|tel|telephone|mobile|cell|call|fax|ring|text|whatsapp|dial|hotline|reach|contact)\b[\s.:#]*"
    r"(?:\w+[\s.:]+){0,3}$",
    re.I,
)
_NOT_PHONE_WORDS = re.compile(
    r"\b(?:order|invoice|ticket|case|ref|reference|po|sku|isbn|issn|serial|tracking|account|acct|policy|claim|part|item"
    r"|transaction|txn|confirmation|booking|shipment|container|batch|lot|id|version|build|release|patent|doc|document"
    r"|employee|badge|member|customer|contract|project|request|incident|change|cr)\b[\s.:#-]*(?:no\.?|number|id|#)?[\s.:#]*$",
    re.I,
)
_VERSION_WORDS = re.compile(r"\b(?:version|release|build|v|firmware|ver)\.?\s*$", re.I)
_MONEY_BEFORE = re.compile(r"[$€£¥]\s*$|\b(?:USD|EUR|GBP|CHF|JPY)\s*$")
_MONEY_AFTER = re.compile(r"^\s*(?:%|[$€£¥]|USD|EUR|GBP|CHF|JPY|dollars|euros|pounds)")


def _emails(text: str) -> Iterator[Span]:
    for m in _EMAIL.finditer(text):
        yield Span(m.start(), m.end(), "email", m.group())


def _cards(text: str) -> Iterator[Span]:
    for m in _CARD.finditer(text):
        raw = m.group()
        digits = re.sub(r"\D", "", raw)
        groups = [len(g) for g in re.split(r"[ -]", raw)]
        grouped = len(groups) == 1 or groups in ([4, 6, 5], [4, 6, 4]) or (all(g == 4 for g in groups[:-1]) and groups[-1] <= 4)
        if grouped and len(set(re.findall(r"[ -]", raw))) <= 1 and _CARD_PREFIX.match(digits) and luhn_ok(digits):
            yield Span(m.start(), m.end(), "card", raw)


def _national_ids(text: str) -> Iterator[Span]:
    for m in _SSN.finditer(text):
        if ssn_ok(m.group(1), m.group(3), m.group(4)):
            yield Span(m.start(), m.end(), "national_id", m.group())
    for m in _SSN_BARE.finditer(text):
        if ssn_ok(*m.groups()) and _SSN_WORDS.search(text[max(0, m.start() - 30) : m.start()]):
            yield Span(m.start(), m.end(), "national_id", m.group())
    for m in _NINO.finditer(text):
        yield Span(m.start(), m.end(), "national_id", m.group())
    for m in _DNI.finditer(text):
        prefix, number, letter = m.groups()
        if (len(number) == 8 and not prefix) or (len(number) == 7 and prefix):
            value = int(str("XYZ".index(prefix)) + number if prefix else number)
            if DNI_LETTERS[value % 23] == letter:
                yield Span(m.start(), m.end(), "national_id", m.group())
    for m in _SIN.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if digits[0] not in "08" and luhn_ok(digits):
            yield Span(m.start(), m.end(), "national_id", m.group())


def _ibans(text: str) -> Iterator[Span]:
    for m in _IBAN.finditer(text):
        length = IBAN_LENGTHS.get(m.group()[:2])
        if length is None:
            continue
        # the candidate may run into the next word: keep the country's number of characters
        seen, end = 0, m.start()
        while end < m.end() and seen < length:
            seen += text[end] != " "
            end += 1
        if seen == length and iban_ok(text[m.start() : end].replace(" ", "")) and not text[end : end + 1].isalnum():
            yield Span(m.start(), end, "iban", text[m.start() : end])


def _ips(text: str) -> Iterator[Span]:
    for m in _IPV4.finditer(text):
        octets = m.group().split(".")
        valid = all(int(o) <= 255 and (o == "0" or not o.startswith("0")) for o in octets)
        if valid and not _VERSION_WORDS.search(text[max(0, m.start() - 12) : m.start()]):
            yield Span(m.start(), m.end(), "ip", m.group())
    for m in _IPV6.finditer(text):
        value = m.group()
        if value.endswith(":") and not value.endswith("::"):
            value = value.rstrip(":")
        if "::" not in value and value.count(":") != 7:
            continue
        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            continue
        yield Span(m.start(), m.start() + len(value), "ip", value)


def _phones(text: str) -> Iterator[Span]:
    for m in _PHONE.finditer(text):
        raw = m.group()
        if raw.count("(") != raw.count(")") and raw.startswith("("):
            raw = raw[1:]
        start = m.end() - len(raw)
        span = raw.rstrip(" .-/(")
        if _phone_like(span, text[max(0, start - 40) : start], text[start + len(span) : start + len(span) + 12]):
            yield Span(start, start + len(span), "phone", span)


def _phone_like(raw: str, before: str, after: str) -> bool:
    """Whether a run of digits and separators is a phone number, from its shape and the words
    before it (``before``) and after it."""
    digits = re.sub(r"\D", "", raw)
    if not 7 <= len(digits) <= 15 or "  " in raw or _MONEY_BEFORE.search(before) or _MONEY_AFTER.match(after):
        return False
    cue, anti = _PHONE_WORDS.search(before), _NOT_PHONE_WORDS.search(before)
    if anti and (cue is None or anti.start() > cue.start()):
        return False
    if raw.startswith("+") or raw.startswith("00"):
        return 8 <= len(digits) <= 15 and not _DATE.fullmatch(raw)
    if _DATE.fullmatch(raw) or _VERSION_WORDS.search(before):
        return False
    if _US_PHONE.fullmatch(raw) or (_TRUNK_PHONE.fullmatch(raw) and 9 <= len(digits) <= 12 and not raw.startswith("00")):
        return True
    return cue is not None  # a bare run of digits, or an odd grouping: only where the words say "phone"


_FINDERS: dict[str, Callable[[str], Iterable[Span]]] = {
    "email": _emails,
    "iban": _ibans,
    "card": _cards,
    "national_id": _national_ids,
    "ip": _ips,
    "phone": _phones,
}
PRIORITY = {kind: i for i, kind in enumerate(("email", "iban", "card", "national_id", "ip", "phone", "name"))}


def find(text: str, kinds: Iterable[str] = KINDS) -> list[Span]:
    """The personal data of ``kinds`` in ``text``, in order and not overlapping (where two
    detections overlap the longer wins, then the more specific kind: a card over a phone)."""
    wanted = set(kinds)
    found = [span for kind, finder in _FINDERS.items() if kind in wanted for span in finder(text)]
    if "name" in wanted:
        emails = [s.value for s in found if s.kind == "email"] or [s.value for s in _emails(text)]
        found += [Span(start, end, "name", text[start:end]) for start, end in find_names(text, emails)]
    found.sort(key=lambda s: (-(s.end - s.start), PRIORITY[s.kind], s.start))
    kept: list[Span] = []
    for span in found:
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)
