"""``extractive``: answers with the documents' own sentences, no generator.

The answer pipeline scores every sentence of the passages against each part of the question
(``Prompt.sentences``); this provider quotes the best sentence for each part, adds a close
runner-up or the items a sentence introduces ("You can claim:" and the list after it), and
puts each run of quoted sentences with its passage's ``[n]``. It cannot invent a number: the
worst it can do is quote the wrong sentence, and the passage panel shows the sentence in
place. It answers in milliseconds, on any machine, offline.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from itertools import groupby

from pydantic import Field

from inhouse.plugins import PluginConfig, Prompt, Provider, ScoredSentence
from inhouse.types import Usage

_WORD = re.compile(r"[a-z0-9]+")
_BLOCK = re.compile(r"^\[(\d+)\] \([^)\n]*\)[ \n](.*?)(?=^\[\d+\] \(|\Z)", re.M | re.S)


class ExtractiveAnswerer(Provider):
    """Quotes the sentences of the context that answer the question, each run with its ``[n]``."""

    class Config(PluginConfig):
        """``[providers.NAME]`` with ``use = "extractive"``."""

        max_sentences: int = Field(3, ge=1, le=10, description="sentences quoted at most")
        runner_up: float = Field(0.6, ge=0, le=1, description="a second sentence joins at this share of the best's score")
        context_tokens: int = Field(2000, ge=100, description="context it reads: more passages, more to choose from")

    capabilities = frozenset({"text", "stream"})
    residency = "local"
    answers = "quoted"
    context_window = 1_000_000

    def __init__(self, config: PluginConfig | None = None, **kwargs: object):
        super().__init__(config, **kwargs)  # type: ignore[arg-type]
        self.preferred_context = self.config.context_tokens

    @property
    def model_id(self) -> str:
        """No model: the name says what answers."""
        return "extractive"

    def generate(self, prompt: Prompt) -> Iterator[str | Usage]:
        """The quoted sentences, each run followed by its passage marker, then the usage."""
        sentences = prompt.sentences or _lexical(prompt)
        chosen = choose(sentences, len(prompt.parts) or 1, self.config.max_sentences, self.config.runner_up)
        text = render(chosen)
        if text:
            yield text
        yield Usage(input_tokens=self.count_tokens(prompt.system), output_tokens=self.count_tokens(text))


def choose(sentences: Sequence[ScoredSentence], parts: int, limit: int, runner_up: float) -> list[ScoredSentence]:
    """The sentences to quote, in reading order: the best for each part, then a runner-up of a
    part within ``runner_up`` of its best (and of the kind of answer asked) while fewer than
    ``limit`` are chosen, and the items a chosen sentence introduces with ":" (up to ``limit``)."""
    ranked = sorted(sentences, key=lambda s: -s.score)
    by_part = [[s for s in ranked if s.part == part] for part in range(parts)]
    chosen: dict[tuple[int, int], ScoredSentence] = {}  # a sentence is quoted once, whichever part chose it
    for candidates in by_part:
        if candidates:
            chosen.setdefault((candidates[0].passage, candidates[0].index), candidates[0])
    for candidates in by_part:
        for s in candidates[1:2]:
            if len(chosen) < limit and s.kind and s.score >= runner_up * candidates[0].score:
                chosen.setdefault((s.passage, s.index), s)
    by_place = {(s.passage, s.index): s for s in sentences}
    for s in [c for c in chosen.values() if c.text.rstrip().endswith(":")]:
        for i in range(1, limit + 1):
            follower = by_place.get((s.passage, s.index + i))
            if follower is None:
                break
            chosen.setdefault((follower.passage, follower.index), follower)
    return sorted(chosen.values(), key=lambda s: (s.passage, s.index))


def render(chosen: Sequence[ScoredSentence]) -> str:
    """The sentences, each run from one passage followed by that passage's ``[n]``."""
    runs = []
    for n, group in groupby(chosen, key=lambda s: s.passage):
        runs.append(" ".join(s.text for s in group) + f" [{n}]")
    return " ".join(runs)


def _lexical(prompt: Prompt) -> list[ScoredSentence]:
    """Sentences scored by the question's words they share, for a prompt without scores (its
    passages, else the ``[n] (label)`` blocks of its system message)."""
    question = set(_WORD.findall(prompt.messages[-1]["content"].lower())) if prompt.messages else set()
    blocks = [(p.n, p.text) for p in prompt.passages] or [(int(n), body) for n, body in _BLOCK.findall(prompt.system)]
    out = []
    for n, text in blocks:
        for i, sentence in enumerate(s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", text)):
            if sentence:
                shared = len(question & set(_WORD.findall(sentence.lower()))) / (len(question) or 1)
                out.append(ScoredSentence(n, i, sentence, shared, 0, 0.0, shared, True))
    return out
