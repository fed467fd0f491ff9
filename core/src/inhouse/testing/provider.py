"""Conformance tests for ``inhouse.providers`` plugins."""

from __future__ import annotations

import pytest

from inhouse.plugins import Artifact, Prompt, Provider
from inhouse.testing.common import PluginContract
from inhouse.types import Usage

CONTEXT_PROMPT = Prompt(
    system=(
        "Answer using only the numbered context. Cite passages like [1].\n\nContext:\n"
        "[1] (Office > Wi-Fi) The guest Wi-Fi network is called Lattice-Guest and its password changes every Monday."
    ),
    messages=[{"role": "user", "content": "What is the guest Wi-Fi network called?"}],
    max_tokens=40,
)
IMAGE_PROMPT = Prompt(system="", messages=[{"role": "user", "content": "a lighthouse at dusk, watercolour"}])


class ProviderTests(PluginContract):
    """Subclass and provide a ``provider`` fixture returning a ready provider (pointed at a
    loopback server for remote models: see ``inhouse.testing.emulators``)."""

    @pytest.fixture
    def plugin(self, provider: Provider) -> Provider:
        """The provider under test, for the checks every plugin shares."""
        return provider

    def exercise(self, plugin: Provider) -> None:
        """A provider's work: answer a short question from context (or draw, for image models)."""
        if "text" in plugin.capabilities:
            list(plugin.generate(Prompt(CONTEXT_PROMPT.system, CONTEXT_PROMPT.messages, max_tokens=8)))
        elif "image" in plugin.capabilities:
            list(plugin.generate(IMAGE_PROMPT))

    def test_is_a_provider(self, provider: Provider) -> None:
        """The fixture returns an ``inhouse.plugins.Provider``.

        Fix: subclass ``inhouse.plugins.Provider`` and register the class in the
        ``inhouse.providers`` entry-point group of your pyproject.toml."""
        assert isinstance(provider, Provider)

    def test_streams_text(self, provider: Provider) -> None:
        """``generate`` is a generator of ``str`` pieces (then optionally a ``Usage``) with some text.

        Fix: ``yield`` text as it arrives instead of returning one string; yield only ``str``,
        ``Usage`` and ``Artifact`` objects."""
        if "text" not in provider.capabilities:
            pytest.skip("not a text provider")
        items = list(provider.generate(CONTEXT_PROMPT))
        assert all(isinstance(i, str | Usage | Artifact) for i in items), items
        text = "".join(i for i in items if isinstance(i, str))
        assert text.strip(), "the provider produced no text"

    def test_reports_usage(self, provider: Provider) -> None:
        """Exactly one ``Usage`` with token counts comes last (the cost ledger and the UI read it).

        Fix: after the text, ``yield Usage(input_tokens=..., output_tokens=...)`` with the counts
        the model reports (or ``count_tokens`` estimates when it reports none)."""
        if "text" not in provider.capabilities:
            pytest.skip("not a text provider")
        usages = [i for i in provider.generate(CONTEXT_PROMPT) if isinstance(i, Usage)]
        assert len(usages) == 1, "yield exactly one Usage, last"
        assert usages[0].input_tokens > 0 and usages[0].output_tokens > 0

    def test_respects_max_tokens(self, provider: Provider) -> None:
        """A tiny ``max_tokens`` gives a short reply.

        Fix: pass ``prompt.max_tokens`` to the model (``max_tokens``, ``max_new_tokens``,
        ``maxTokens``: whatever its API calls it)."""
        if "text" not in provider.capabilities:
            pytest.skip("not a text provider")
        prompt = Prompt(
            system="Write at length.", messages=[{"role": "user", "content": "Describe the sea in detail."}], max_tokens=5
        )
        usage = [i for i in provider.generate(prompt) if isinstance(i, Usage)]
        if usage:
            assert usage[0].output_tokens <= 8

    def test_makes_images(self, provider: Provider) -> None:
        """An ``image`` provider yields images for the last user message, then a ``Usage`` counting them.

        Fix: yield ``Artifact(data, "image/png")`` (real image bytes, an ``image/...`` mime
        type) per image and then ``Usage(images=n)``; no text."""
        if "image" not in provider.capabilities:
            pytest.skip("not an image provider")
        items = list(provider.generate(IMAGE_PROMPT))
        images = [i for i in items if isinstance(i, Artifact)]
        assert images and all(i.mime.startswith("image/") and len(i.data) > 32 for i in images)
        usages = [i for i in items if isinstance(i, Usage)]
        assert len(usages) == 1 and usages[0].images == len(images)

    def test_counts_tokens(self, provider: Provider) -> None:
        """``count_tokens`` grows with the text (the prompt budget relies on it).

        Fix: count with the model's tokenizer, or keep the base class's 4-characters estimate."""
        assert 0 < provider.count_tokens("hello") < provider.count_tokens("hello " * 50)
