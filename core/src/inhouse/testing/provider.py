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


class ProviderTests(PluginContract):
    """Subclass and provide a ``provider`` fixture returning a ready provider."""

    @pytest.fixture
    def plugin(self, provider: Provider) -> Provider:
        return provider

    def test_is_a_provider(self, provider: Provider) -> None:
        """Subclass ``inhouse.plugins.Provider`` and register it in the ``inhouse.providers`` group."""
        assert isinstance(provider, Provider)

    def test_streams_text(self, provider: Provider) -> None:
        """``generate`` must be a generator of ``str`` pieces (then optionally a ``Usage``);
        yield text as it arrives instead of returning one string."""
        if "text" not in provider.capabilities:
            pytest.skip("not a text provider")
        items = list(provider.generate(CONTEXT_PROMPT))
        assert all(isinstance(i, str | Usage | Artifact) for i in items), items
        text = "".join(i for i in items if isinstance(i, str))
        assert text.strip(), "the provider produced no text"

    def test_reports_usage(self, provider: Provider) -> None:
        """Yield one ``Usage(input_tokens, output_tokens)`` after the text, with the counts the
        model reports (the cost ledger and the UI read them)."""
        if "text" not in provider.capabilities:
            pytest.skip("not a text provider")
        usages = [i for i in provider.generate(CONTEXT_PROMPT) if isinstance(i, Usage)]
        assert len(usages) == 1, "yield exactly one Usage, last"
        assert usages[0].input_tokens > 0 and usages[0].output_tokens > 0

    def test_respects_max_tokens(self, provider: Provider) -> None:
        """Pass ``prompt.max_tokens`` to the model; a tiny budget must give a short reply."""
        if "text" not in provider.capabilities:
            pytest.skip("not a text provider")
        prompt = Prompt(
            system="Write at length.", messages=[{"role": "user", "content": "Describe the sea in detail."}], max_tokens=5
        )
        usage = [i for i in provider.generate(prompt) if isinstance(i, Usage)]
        if usage:
            assert usage[0].output_tokens <= 8

    def test_makes_images(self, provider: Provider) -> None:
        """An ``image`` provider yields ``Artifact``s with real image bytes and a ``image/...``
        mime type for the last user message, then a ``Usage`` counting them; no text."""
        if "image" not in provider.capabilities:
            pytest.skip("not an image provider")
        prompt = Prompt(system="", messages=[{"role": "user", "content": "a lighthouse at dusk, watercolour"}])
        items = list(provider.generate(prompt))
        images = [i for i in items if isinstance(i, Artifact)]
        assert images and all(i.mime.startswith("image/") and len(i.data) > 32 for i in images)
        usages = [i for i in items if isinstance(i, Usage)]
        assert len(usages) == 1 and usages[0].images == len(images)

    def test_counts_tokens(self, provider: Provider) -> None:
        """``count_tokens`` must grow with the text (the prompt budget relies on it)."""
        assert 0 < provider.count_tokens("hello") < provider.count_tokens("hello " * 50)
