"""PII redaction: each kind is found and replaced, look-alikes that fail their check are left
alone, placeholders are consistent across one request's texts, and restored in text and streams."""

from __future__ import annotations

import pytest

from inhouse.errors import ConfigError
from inhouse.pii import KINDS, find, iban_ok, luhn_ok
from inhouse.redaction import Redactor, RestoringStream, restore

ALL = Redactor(KINDS)


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("Send the contract to priya.raman@northwind-legal.co.uk today.", "email", "priya.raman@northwind-legal.co.uk"),
        ("Her direct line is +44 20 7946 0958.", "phone", "+44 20 7946 0958"),
        ("Call the front desk at (415) 555-0134 before noon.", "phone", "(415) 555-0134"),
        ("The Lyon office: 04 72 10 30 30.", "phone", "04 72 10 30 30"),
        ("Berlin reception 030/2345 6789 is staffed until six.", "phone", "030/2345 6789"),
        ("mobile 07700900123", "phone", "07700900123"),
        ("Charge it to 4111 1111 1111 1111 please.", "card", "4111 1111 1111 1111"),
        ("Amex 3782-822463-10005 was declined.", "card", "3782-822463-10005"),
        ("His SSN is 536-22-8740.", "national_id", "536-22-8740"),
        ("NI number AB 12 34 56 C on the payslip.", "national_id", "AB 12 34 56 C"),
        ("DNI 12345678Z adjunto.", "national_id", "12345678Z"),
        ("NIE X1234567L for the new hire.", "national_id", "X1234567L"),
        ("Pay into GB82 WEST 1234 5698 7654 32 by Friday.", "iban", "GB82 WEST 1234 5698 7654 32"),
        ("IBAN DE89370400440532013000.", "iban", "DE89370400440532013000"),
        ("The VPN gateway 10.20.30.40 dropped.", "ip", "10.20.30.40"),
        ("Block 2001:db8:85a3::8a2e:370:7334 at the firewall.", "ip", "2001:db8:85a3::8a2e:370:7334"),
        ("Dr. Amara Okafor signed the form.", "name", "Amara Okafor"),
        ("Hello, my name is Thandiwe Mokoena and I need access.", "name", "Thandiwe Mokoena"),
        ("Kind regards,\nLukas Schmidt\nProcurement", "name", "Lukas Schmidt"),
    ],
)
def test_each_kind_is_found(text: str, kind: str, value: str) -> None:
    assert [(s.kind, s.value) for s in find(text)] == [(kind, value)]


@pytest.mark.parametrize(
    "text",
    [
        "Card 4111 1111 1111 1112 fails Luhn.",  # one digit off
        "Pay into GB82 WEST 1234 5698 7654 33.",  # mod 97 fails
        "SSN 000-12-3456 and 666-12-3456 and 912-12-3456 are never issued.",
        "DNI 12345678A has the wrong letter.",
        "Order 123-456-7890 shipped on 2024-03-15.",
        "Invoice total $1,234,567.89, due 03/15/2024.",
        "Upgrade to version 10.4.12.1 or 2.14.3.",
        "ISBN 978-3-16-148410-0 and ISBN 0-306-40615-2.",
        "Ping 10.0.0.256 fails; 999.1.1.1 is not an address.",
        "The meeting is at 10:30:15, MAC 00:1A:2B:3C:4D:5E.",
        "Ticket 2024031512345 was closed.",
        "Will you send the May report to the Finance team?",
    ],
)
def test_look_alikes_are_not_personal_data(text: str) -> None:
    assert find(text) == []


def test_the_checksums() -> None:
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")
    assert iban_ok("GB82WEST12345698765432") and not iban_ok("GB82WEST12345698765433")
    assert not iban_ok("GB82WEST1234569876543")  # one character short for GB


def test_placeholders_are_consistent_within_a_request_and_numbered_per_kind() -> None:
    session = ALL.session()
    first = session.redact("Mail jane.doe@acme.com or bob@acme.com; card 4111 1111 1111 1111.")
    second = session.redact("Again: jane.doe@acme.com, and 5555 5555 5555 4444.")
    assert first.text == "Mail [EMAIL_1] or [EMAIL_2]; card [CARD_1]."
    assert second.text == "Again: [EMAIL_1], and [CARD_2]."
    assert second.placeholders["[CARD_2]"] == "5555 5555 5555 4444" and session.placeholders == second.placeholders
    assert first.counts == {"email": 2, "card": 1} and session.counts == {"email": 3, "card": 2}
    passed = ALL.redact("Write to bob@acme.com", first.placeholders)  # the mapping passed by hand
    assert passed.text == "Write to [EMAIL_2]"


def test_a_placeholder_already_in_the_text_is_never_reused() -> None:
    redacted = ALL.redact("The template says [EMAIL_1]; the real one is ops@acme.com.")
    assert redacted.text == "The template says [EMAIL_1]; the real one is [EMAIL_2]."
    assert restore(redacted.text, redacted.placeholders) == "The template says [EMAIL_1]; the real one is ops@acme.com."


def test_only_the_configured_kinds_are_redacted_and_unknown_kinds_are_refused() -> None:
    assert Redactor(["email"]).redact("a@b.io, 10.0.0.1").text == "[EMAIL_1], 10.0.0.1"
    with pytest.raises(ConfigError, match=r"policy\.redact_kinds: unknown kind 'passport'"):
        Redactor(["email", "passport"])


def test_restore_puts_the_originals_back() -> None:
    original = "Call Priya Raman on +1 415 555 0134 about IBAN DE89 3704 0044 0532 0130 00."
    redacted = ALL.redact(original)
    assert "Priya" not in redacted.text and "0134" not in redacted.text and "DE89" not in redacted.text
    assert restore(redacted.text, redacted.placeholders) == original
    assert restore("unknown [EMAIL_9] stays", redacted.placeholders) == "unknown [EMAIL_9] stays"


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7])
def test_a_stream_restores_placeholders_split_across_chunks(size: int) -> None:
    placeholders = {"[EMAIL_1]": "jane@acme.com", "[NATIONAL_ID_1]": "536-22-8740"}
    text = "Reply to [EMAIL_1] about [NATIONAL_ID_1] [see note] and [x]."
    stream = RestoringStream(placeholders)
    shown = "".join(stream.feed(text[i : i + size]) for i in range(0, len(text), size)) + stream.flush()
    assert shown == "Reply to jane@acme.com about 536-22-8740 [see note] and [x]."


def test_a_stream_does_not_hold_text_that_cannot_be_a_placeholder() -> None:
    stream = RestoringStream({"[EMAIL_1]": "a@b.io"})
    assert stream.feed("see [1] and [EMA") == "see [1] and "
    assert stream.feed("IL_1] ok") == "a@b.io ok"
    assert stream.flush() == ""
