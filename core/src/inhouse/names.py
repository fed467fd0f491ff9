"""An offline recogniser of people's names (no model): where a text names a person.

It finds a name

- after a title (``Dr. Amara Okafor``, ``Ms Chen``);
- after a cue (``my name is``, ``Dear``, ``Hi``, ``Attn:``, ``From:``, ``signed``) and on the
  line after a closing (``Kind regards,`` / ``Thanks,``);
- as a common first name from a built-in list, with the capitalised word after it as the
  surname (``Priya Raman``, ``Lukas Schmidt``);
- as the name an email address spells (``jane.doe@`` → ``Jane Doe``);

and then every later lone use of a part of a name found (``... Okafor said``). Names that
are also common words (``May``, ``Will``, ``Grace``) count only with a surname, title or
cue. It misses names with none of these (an unlisted first name alone, a surname alone);
``bench/pii.py`` measures how often.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_UP = "A-ZÀ-ÖØ-ÞŁŚŠŽČĆŃ"
_LOW = "a-zß-öø-ÿłśšžčćńęąőű"
CAP = rf"[{_UP}][{_LOW}]+(?:[{_UP}][{_LOW}]+)?(?:[-'’][{_UP}]?[{_LOW}]+)?"
_PARTICLE = r"(?:(?:van|von|de|der|den|da|di|del|la|le|bin|al)[ -])"
_NAME = rf"{CAP}(?: (?:[{_UP}]\. )?{_PARTICLE}{{0,2}}{CAP}){{0,2}}"


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


FIRST_NAMES = _words(
    """
    Aaron Abdul Adam Adrian Ahmed Aisha Alan Albert Alejandro Alex Alexander Alexandra Ali Alice Alicia Alison Amanda Amara
    Amir Amy Ana Andrea Andreas Andrew Angela Anita Ann Anna Anne Anthony Antonio Arjun Arthur Ashley Aylin Barbara Beatriz
    Ben Benjamin Bernard Beth Bianca Brandon Brenda Brian Bruno Camille Carl Carla Carlos Carmen Caroline Catherine Charles
    Charlotte Chen Chloe Chris Christian Christina Christine Christopher Claire Claudia Colin Connor Craig Cristina Daniel
    Daniela Darren David Deborah Dennis Diana Diego Dimitri Dmitri Donald Donna Dorothy Douglas Eduardo Edward Elena Elif
    Elizabeth Ella Emily Emma Emmanuel Eric Erik Ethan Eva Evelyn Fatima Felix Fernando Fiona Francesca Francesco Francis
    Frank Gabriel Gabriela Gareth Gary George Gerald Gillian Giovanni Giulia Gregory Hana Hannah Hans Harold Harry Heather
    Helen Helena Henry Hiroshi Hugo Ian Igor Ines Ingrid Irene Isabel Isabella Ivan Jack Jacob Jacqueline James Jan Jane
    Janet Jason Javier Jennifer Jeremy Jessica Joanna Joe Johan John Jonathan Jorge Jose José Joseph Joshua Juan Julia Julian
    Juliet Jürgen Karen Karim Katarzyna Kate Katherine Kathleen Kelly Kenji Kevin Kim Klaus Kumar Larry Laura Lauren Leon
    Li Liam Linda Lisa Lucas Lucia Luis Luke Lukas Maria María Marie Marina Mario Marta Martin Mary Mateo Matthew Max Mehmet
    Megan Mei Melissa Michael Michelle Miguel Mohamed Mohammed Monica Nadia Naomi Natalia Natasha Nathan Nicholas Nicola
    Nicole Nikolai Nina Noah Nora Oliver Olivia Omar Oscar Pablo Pamela Patricia Patrick Paul Paula Pedro Peter Philip Pierre
    Pieter Priya Rachel Rafael Rahul Raj Rajesh Ramón Rebecca Richard Robert Roberto Ronald Rosa Ryan Samantha Samuel Sandra
    Sara Sarah Scott Sean Sebastian Sergei Sharon Simon Sofia Sophie Stefan Stephanie Stephen Steven Susan Svetlana Takeshi
    Thomas Timothy Tobias Tom Tomasz Valentina Vanessa Victor Vikram Vincent Walter Wei William Xavier Yasmin Yuki Yusuf
    Zainab Zoe Ahmad Akira Anders Astrid Björn Chiara Dario Emre Fabian Farah Henrik Hassan Ibrahim Ioana Jakub Kai Lars
    Leila Lena Lorenzo Magnus Malik Marco Marek Matteo Mikhail Nils Olga Pavel Piotr Ravi Sanjay Sven Tariq Ursula Viktor
    """
)
# First names that are also everyday words or places: a name only with a surname, title or cue.
AMBIGUOUS = _words("April August Bill Chase Dawn Faith Grace Hope Jordan June Mark May Rose Summer Will Joy Victoria Sydney")
FIRST_NAMES |= AMBIGUOUS
# Capitalised words that are not names, though they follow titles, cues and first names.
NOT_NAMES = _words(
    """
    A An And At All Also As But By For From Hi Hello I In It My No Not Of On Or Our Please So Thanks The This To We You Your
    Team Everyone Colleagues Folks There Sir Madam Customer Customers Client Support Sales Finance Legal Marketing HR IT Ops
    Security Engineering Operations Procurement Payroll Facilities Department Office Manager Director Group Inc Ltd LLC GmbH
    Street Road Avenue Lane Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March October November
    December September Regards Best Cheers Kind Sincerely Yours Service Desk Helpdesk Admin Administrator Accounts Board
    Committee Company University Hospital Bank Project Policy Handbook Friday Today Tomorrow Yes OK Dear
    """
)
_TITLE = re.compile(rf"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Professor|Sir|Dame|Judge|Rev)\.? ({_NAME})")
_CUE = re.compile(
    rf"(?:\b(?:[Mm]y name is|[Nn]ame:|[Dd]ear|[Hh]i|[Hh]ello|[Hh]ey|[Aa]ttn:?|[Aa]ttention:|[Ff]rom:|[Tt]o:|[Cc]c:"
    r"|[Ss]igned(?: by)?:?|[Cc]ontact(?: person)?:"
    r"|[Ee]mployee:|[Pp]atient:|[Aa]pplicant:|[Aa]ssigned to:?|[Rr]eported by:?|[Aa]pproved by:?)"
    r"|^(?:Thanks|Thank you|Regards|Best regards|Kind regards|Best wishes|Sincerely|Cheers|Best|Warm regards),?\s*\n)"
    rf"[ \t]*({_NAME})",
    re.M,
)
_SIGNATURE = re.compile(rf"^--\s*\n({_NAME})", re.M)
_FIRST = re.compile(rf"\b({CAP})(?=((?: {_PARTICLE}{{0,2}}{CAP}){{0,2}}))")


def _trim(start: int, value: str) -> tuple[int, int] | None:
    """The span of ``value`` (at ``start``) without its trailing words that are not names."""
    words = value.split(" ")
    while words and words[-1] in NOT_NAMES:
        words.pop()
    if not words or words[0] in NOT_NAMES:
        return None
    return start, start + len(" ".join(words))


def find_names(text: str, emails: Iterable[str] = ()) -> list[tuple[int, int]]:
    """The (start, end) of each person's name in ``text``; ``emails`` found in it suggest more
    (``jane.doe@acme.com`` makes ``Jane Doe`` a name). Spans may overlap; callers merge them."""
    spans: list[tuple[int, int]] = []
    for pattern in (_TITLE, _CUE, _SIGNATURE):
        for m in pattern.finditer(text):
            span = _trim(m.start(1), m.group(1))
            if span:
                spans.append(span)
    for m in _FIRST.finditer(text):
        first, rest = m.group(1), m.group(2)
        if first in FIRST_NAMES and (rest or first not in AMBIGUOUS):
            span = _trim(m.start(1), first + rest)
            if span:
                spans.append(span)
    parts = set()
    for email in emails:
        words = re.split(r"[._-]", email.split("@")[0])
        if len(words) == 2 and all(w.isalpha() and len(w) > 1 for w in words):
            parts.update(w.capitalize() for w in words)
    for start, end in spans:
        parts.update(w for w in text[start:end].split(" ") if len(w) > 2 and w not in NOT_NAMES and w[0].isupper())
    if parts:
        lone = re.compile(r"\b(?:" + "|".join(re.escape(p) for p in sorted(parts, key=len, reverse=True)) + r")\b")
        spans += [(m.start(), m.end()) for m in lone.finditer(text)]
    return _merge(text, spans)


def _merge(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping spans, and spans one space apart (``Maria`` ``Garcia``), joined into one."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and (start <= merged[-1][1] or text[merged[-1][1] : start] == " "):
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
