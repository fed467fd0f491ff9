"""Conformance tests for ``inhouse.embedders`` plugins."""

from __future__ import annotations

import numpy as np
import pytest

from inhouse.plugins import Embedder
from inhouse.testing.common import PluginContract


class EmbedderTests(PluginContract):
    """Subclass and provide an ``embedder`` fixture."""

    @pytest.fixture
    def plugin(self, embedder: Embedder) -> Embedder:
        """The embedder under test, for the checks every plugin shares."""
        return embedder

    def exercise(self, plugin: Embedder) -> None:
        """An embedder's work: embed documents and a query."""
        plugin.embed(["annual leave policy", "guest Wi-Fi password"])
        plugin.embed_query("how many vacation days")

    def test_shape_dtype_and_norm(self, embedder: Embedder) -> None:
        """``embed`` returns a float32 array (n, dimension) with unit-length rows: the store
        uses inner product as cosine similarity.

        Fix: return ``np.asarray(vectors, dtype=np.float32)`` divided by each row's norm, with
        ``dimension`` equal to the model's output size."""
        vectors = np.asarray(embedder.embed(["annual leave policy", "how to reset a password", "x"]))
        assert vectors.shape == (3, embedder.dimension)
        assert vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)

    def test_empty_input(self, embedder: Embedder) -> None:
        """``embed([])`` returns an empty (0, dimension) array instead of failing.

        Fix: return ``np.zeros((0, self.dimension), dtype=np.float32)`` before calling the model."""
        assert np.asarray(embedder.embed([])).shape == (0, embedder.dimension)

    def test_deterministic(self, embedder: Embedder) -> None:
        """The same text gives the same vector.

        Fix: run the model in inference mode (no dropout, no sampling) and do not add noise."""
        a, b = embedder.embed(["expense report deadline"]), embedder.embed(["expense report deadline"])
        np.testing.assert_allclose(a, b, atol=1e-5)

    def test_meaning_is_captured(self, embedder: Embedder) -> None:
        """A paraphrase is closer to the question than an unrelated text.

        Fix: check that the right model is loaded and that ``embed_query`` applies the model's
        query prefix or instruction, if it has one."""
        q = embedder.embed_query("how many vacation days do employees get")
        docs = embedder.embed(
            ["Staff receive 25 days of paid annual leave per year.", "The server room is cooled to 18 degrees."]
        )
        assert float(docs[0] @ q) > float(docs[1] @ q)

    def test_model_id(self, embedder: Embedder) -> None:
        """``model_id`` names the model, so a store can tell when vectors must be rebuilt.

        Fix: return a non-empty string that changes whenever the vectors would (model name and
        version, dimension)."""
        assert isinstance(embedder.model_id, str) and embedder.model_id
