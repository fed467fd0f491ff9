"""An extractive provider, packaged like any third party's: it quotes the context sentence
that shares the most words with the question, with its ``[n]`` marker. It reads the
passages from ``Prompt.passages`` (the structured context), not from the prompt's text."""

from __future__ import annotations

import re
from collections.abc import Iterator

from inhouse.plugins import PluginConfig, Prompt, Provider
from inhouse.types import Usage

_WORD = re.compile(r"[a-z0-9]+")


class QuoteProvider(Provider):
    """Answers with the best-matching sentence of the numbered context."""

    class Config(PluginConfig):
        """``[providers.NAME]`` with ``use = "quote"``."""

        prefix: str = "According to the documents:"

    residency = "local"

    def generate(self, prompt: Prompt) -> Iterator[str | Usage]:
        """Stream the quote word by word, then the usage."""
        question = set(_WORD.findall(prompt.messages[-1]["content"].lower()))
        best, best_n, best_score = "", 0, 0
        for passage in prompt.passages:
            for sentence in re.split(r"(?<=[.!?])\s+", passage.text.strip()):
                score = len(question & set(_WORD.findall(sentence.lower())))
                if score > best_score:
                    best, best_n, best_score = sentence, passage.n, score
        text = f"{self.config.prefix} {best} [{best_n}]" if best else "I could not find an answer to that in the documents."
        words = text.split(" ")
        for i, word in enumerate(words[: prompt.max_tokens]):
            yield word if i == 0 else " " + word
        yield Usage(input_tokens=self.count_tokens(prompt.system), output_tokens=min(len(words), prompt.max_tokens))
