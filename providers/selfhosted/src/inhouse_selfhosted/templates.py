"""Prompt templates for models that take one raw prompt string (TGI's ``inputs``): the
system message, the conversation and the question rendered into text, plus the stop
sequences that end the model's turn and a filter that cuts a reply at them.

A template is a named chat format (``falcon``, ``chatml``, ``llama3``) or a Python format
string with the fields ``{system}``, ``{history}`` (earlier turns as ``User: ...`` /
``Assistant: ...`` lines) and ``{question}`` (the last user message)::

    template = "### System\\n{system}\\n\\n{history}\\n### Question\\n{question}\\n### Answer\\n"
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import AfterValidator

from inhouse.plugins import Prompt


@dataclass(frozen=True)
class ChatFormat:
    """How one model family marks up a conversation: every turn is ``turn`` with its ``{role}``
    (``system``, ``user`` or ``assistant``, unless ``names`` calls it otherwise) and its ``{text}``.
    The prompt ends by opening the model's turn: ``turn`` up to its ``{text}``, without a trailing
    space (tokenizers attach the space to the next word). There is no begin-of-text token: the
    server's tokenizer adds it."""

    turn: str
    stop: tuple[str, ...]  # what ends the model's turn
    names: dict[str, str] = field(default_factory=dict)

    def render(self, role: str, text: str) -> str:
        """One turn of ``role``."""
        return self.turn.format(role=self.names.get(role, role), text=text)

    @property
    def reply(self) -> str:
        """What opens the model's turn, ending the prompt."""
        opening = self.turn.partition("{text}")[0]
        return opening.format(role=self.names.get("assistant", "assistant")).rstrip(" ")


FORMATS: dict[str, ChatFormat] = {
    "falcon": ChatFormat("{role}: {text}\n", ("\nUser:",), names={"system": "System", "user": "User", "assistant": "Falcon"}),
    "chatml": ChatFormat("<|im_start|>{role}\n{text}<|im_end|>\n", ("<|im_end|>",)),
    "llama3": ChatFormat("<|start_header_id|>{role}<|end_header_id|>\n\n{text}<|eot_id|>", ("<|eot_id|>",)),
}
FIELDS = frozenset({"system", "history", "question"})
_SPECIAL = re.compile(r"<(\||/?s>)")  # <|im_start|>, <|eot_id|>, <s>, </s>
_ROLE_LINE = re.compile(r"^(\s*)(System|User|Assistant|Falcon)(\s*):", re.MULTILINE | re.IGNORECASE)


def plain(text: str) -> str:
    """``text`` that no chat format reads as markup: ``<|`` and ``<s>``/``</s>`` get a space
    after ``<``, and a line opening with a role name and a colon gets a space before the colon."""
    return _ROLE_LINE.sub(r"\1\2\3 :", _SPECIAL.sub(r"< \1", text))


def check(template: str) -> str:
    """Return ``template`` if it names a format or is a format string using only
    ``{system}``, ``{history}`` and ``{question}`` (the last is required); else ValueError."""
    if template in FORMATS:
        return template
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ValueError(f"template is not a valid format string ({exc}); double literal braces: {{{{ }}}}") from None
    unknown = sorted(fields - FIELDS)
    if unknown or "question" not in fields:
        raise ValueError(
            f"template must be one of {', '.join(FORMATS)} or a format string with {{question}} "
            f"and optionally {{system}}, {{history}}" + (f" (unknown fields: {', '.join(unknown)})" if unknown else "")
        )
    return template


Template = Annotated[str, AfterValidator(check)]
"""A provider config's ``template``: a named format or a format string (see :func:`check`)."""


def render(template: str, prompt: Prompt) -> str:
    """The prompt string for ``prompt``: system message, every turn, then the opening of
    the model's reply (named formats), or the format string filled in."""
    chat = FORMATS.get(template)
    system = plain(prompt.system)
    messages = [{**turn, "content": plain(turn["content"])} for turn in prompt.messages]
    if chat is None:
        turns = messages
        question = turns.pop()["content"] if turns and turns[-1]["role"] == "user" else ""
        history = "\n".join(f"{'Assistant' if t['role'] == 'assistant' else 'User'}: {t['content']}" for t in turns)
        return template.format(system=system, history=history, question=question)
    parts = [chat.render("system", system)] if system else []
    parts += [chat.render("assistant" if turn["role"] == "assistant" else "user", turn["content"]) for turn in messages]
    parts.append(chat.reply)
    return "".join(parts)


def stop_sequences(template: str, *more: Iterable[str]) -> list[str]:
    """The sequences that end the model's turn in this format (none for format strings),
    followed by those of ``more``, each once; empty ones are dropped."""
    chat = FORMATS.get(template)
    found = [*(chat.stop if chat else ()), *(stop for stops in more for stop in stops)]
    return [stop for stop in dict.fromkeys(found) if stop]


class StopFilter:
    """Cuts streamed text at the first stop sequence, which TGI leaves in its output.

    ``feed`` returns what is safe to show now: text that might be the start of a stop
    sequence is held back until the next piece tells. ``flush`` returns what is held at
    the end. After a stop sequence, everything is dropped and ``stopped`` is True.
    """

    def __init__(self, stops: list[str]):
        self.stops = [s for s in dict.fromkeys(stops) if s]
        self.stopped = False
        self._longest = max((len(s) for s in self.stops), default=0)
        self._held = ""

    def feed(self, text: str) -> str:
        """Add a piece of the reply; return the part that can be shown."""
        if self.stopped:
            return ""
        buffer = self._held + text
        cuts = [i for i in (buffer.find(s) for s in self.stops) if i >= 0]
        if cuts:
            self.stopped, self._held = True, ""
            return buffer[: min(cuts)]
        longest = min(len(buffer), self._longest - 1)
        keep = next((k for k in range(longest, 0, -1) if any(s.startswith(buffer[-k:]) for s in self.stops)), 0)
        self._held = buffer[len(buffer) - keep :]
        return buffer[: len(buffer) - keep]

    def flush(self) -> str:
        """The end of the reply: whatever was held back was not a stop sequence after all."""
        held, self._held = self._held, ""
        return "" if self.stopped else held
