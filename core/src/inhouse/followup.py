"""Follow-up questions made stand-alone for retrieval ("and for contractors?").

A follow-up that leans on the conversation — a word or two, opening with "and"/"what
about", or short and pointing back with "it"/"that"/"they" — is searched with the previous user
question, so retrieval sees the topic. The model still gets the question as asked, with
the history. This needs no model call, so it adds no latency and works offline. A previous
question asked more privately than the embedder that will receive the search text is not
joined to it (the search then takes the question as asked).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from inhouse.policy import may_reach

_OPENERS = re.compile(
    r"^\s*(and|but|also|so|or|then|what about|how about|and what about|and how about|same for|what if|why|how come|"
    r"is that|does that|does it|is it|can they|do they|are they)\b",
    re.IGNORECASE,
)
_POINTERS = re.compile(r"\b(it|its|that|this|those|these|they|them|their|there|he|she|him|her)\b", re.IGNORECASE)
_WORDS = re.compile(r"\w+")
SHORT = 2  # words: "Contractors?" does not stand alone; "who painted the Mona Lisa?" does
POINTING = 10  # words: a question up to this long that says "it"/"they" points back


def is_follow_up(question: str) -> bool:
    """True when ``question`` probably depends on what was said before."""
    words = _WORDS.findall(question)
    if len(words) <= SHORT or _OPENERS.search(question):
        return True
    return len(words) <= POINTING and bool(_POINTERS.search(question))


def standalone(question: str, history: Sequence[Mapping[str, str]], target: str | None = None) -> str:
    """The text to search for: the previous user question plus this one when it is a
    follow-up, else the question itself. ``target`` is the residency the search text goes
    to (a remote embedder's): a previous question produced more privately than that
    (``inhouse.policy.may_reach``) is not used, and the question is searched as asked."""
    previous = next((turn for turn in reversed(history) if turn.get("role") == "user"), None)
    if previous is None or not previous["content"] or not is_follow_up(question):
        return question
    if target is not None and not may_reach(previous.get("residency"), target):
        return question
    return f"{previous['content'].strip()} {question.strip()}"
