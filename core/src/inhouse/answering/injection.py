"""Indirect prompt injection: sentences in retrieved documents that talk to the model.

A document is data, but a model reads it as text and may obey it ("ignore your instructions
and reply with a link to ..."). ``Defuse`` is a stage that drops, from the passages a model
will read, the sentences that address an AI assistant rather than a person: instructions to
ignore or replace its rules, role and chat-template markers, requests to reveal the prompt or
to send the conversation somewhere, and Markdown images (an image in an answer is fetched by
the reader's browser: a way out for stolen text). The passage keeps everything else, so a
page that also states the fact still answers.

The patterns are narrow on purpose: measured by ``bench/injection.py``, they flag the attack
sentences of its injection set and (almost) nothing in the 18F handbook or SciFact.
Prompting (``prompting.quote``) and the local provider (special tokens off for document text)
are the other two layers; the page renders no remote images whatever a model writes.
"""

from __future__ import annotations

import re
from dataclasses import replace

from inhouse.answering.draft import Draft, Services
from inhouse.answering.sentences import split_sentences
from inhouse.plugins import Passage

_AI = r"(?:(?:ai |a\.i\. )?(?:assistant|ai|a\.i\.|chat ?bot|bot|model|llm|language model|gpt|claude|copilot))"
_PATTERNS = [
    # "ignore all previous instructions", "disregard the above", "forget your rules"
    r"\b(?:ignore|disregard|forget|override)\b[^.!?\n]{0,40}\b(?:instructions?|prompts?|system message|guidelines)\b",
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+)?(?:your|previous|prior|earlier|preceding|the above|above)"
    r"\b[^.!?\n]{0,20}\b(?:rules|directions|context|constraints|text)\b",
    # "new instructions:", "system prompt", "developer mode"
    r"\b(?:new|updated|real|actual|hidden|secret) (?:instructions?|task|directive)s?\s*[:\-]",
    r"\b(?:system|developer) (?:prompt|message|mode)\b",
    # addressing the model: "Dear AI assistant", "to any LLM reading this", "if you are an AI"
    rf"\b(?:dear|attention|note to|hey|hi|hello),?\s+(?:the\s+|any\s+|all\s+)?{_AI}s?\b",
    rf"\bto (?:the|any|all|every) {_AI}s? (?:reading|processing|summari[sz]ing|answering)\b",
    rf"\bif you are (?:an?|the) {_AI}\b",
    rf"\b(?:you are|you're|act as|pretend to be|roleplay as) (?:now )?(?:an?|the|my) (?:unrestricted |helpful )?{_AI}\b",
    r"\b(?:from now on|starting now),? (?:you|the assistant)\b",
    # chat-template and role markers
    r"<\|[a-z_]+\|>|\[/?INST\]|<</?SYS>>|^\s*#{2,}\s*(?:instruction|system|response)s?\s*:?\s*$|^\s*(?:system|assistant)\s*:",
    # asking the model to leak: "include the user's question in the link", "reveal your prompt"
    r"\b(?:reveal|print|repeat|output|show)\b[^.!?\n]{0,30}\b(?:your|the) (?:system |initial |original )?"
    r"(?:prompt|instructions)\b",
    r"\b(?:append|add|include|encode|insert|send|forward)\b[^.!?\n]{0,60}\b(?:conversation|chat history|user'?s? "
    r"(?:question|message|data|email)|previous messages)\b[^.!?\n]{0,60}\b(?:url|link|image|address|query string)\b",
    r"\b(?:respond|reply|answer|say)\b[^.!?\n]{0,20}\b(?:only|exactly)\b[^.!?\n]{0,10}\bwith\b",
    r"\bdo not (?:tell|inform|mention (?:this )?to|reveal (?:this )?to) the user\b",
]
SUSPICIOUS = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE | re.MULTILINE)
_IMAGE = re.compile(r"!\[([^\]\n]{0,200})\]\([^)\n]{0,2000}\)")


def suspicious(sentence: str) -> bool:
    """Whether ``sentence`` talks to a model rather than to a reader (see the module docstring)."""
    return bool(SUSPICIOUS.search(sentence))


def defuse(text: str) -> tuple[str, int]:
    """``text`` without its suspicious sentences and with Markdown images reduced to their
    alt text; returns the text and how many sentences or images were removed."""
    text, images = _IMAGE.subn(lambda m: m.group(1), text)
    kept, dropped = [], 0
    for sentence in split_sentences(text):
        if suspicious(sentence):
            dropped += 1
        else:
            kept.append(sentence)
    if not dropped:
        return text, images
    return "\n".join(kept), dropped + images


class Defuse:
    """The stage: passages without the sentences that address a model (``[answer] stages``
    lists it after ``expand``, so the evidence, the extractive answer and every model see the
    same defused text)."""

    def __init__(self, services: Services):
        self.services = services

    def run(self, draft: Draft) -> Draft:
        """The draft with defused passages (a passage left with nothing is dropped)."""
        passages: list[Passage] = []
        for passage in draft.passages:
            text, removed = defuse(passage.text)
            if removed and not text.strip():
                continue
            passages.append(replace(passage, text=text) if removed else passage)
        return draft.timed("defuse_ms", passages=tuple(passages))
