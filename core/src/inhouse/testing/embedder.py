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
        return embedder

    def test_shape_dtype_and_norm(self, embedder: Embedder) -> None:
        """``embed`` returns a float32 array (n, dimension) with unit-length rows: the store
        uses inner product as cosine similarity. Normalise the model's output."""
        vectors = np.asarray(embedder.embed(["annual leave policy", "how to reset a password", "x"]))
        assert vectors.shape == (3, embedder.dimension)
        assert vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)

    def test_empty_input(self, embedder: Embedder) -> None:
        """``embed([])`` returns an empty (0, dimension) array instead of failing."""
        assert np.asarray(embedder.embed([])).shape == (0, embedder.dimension)

    def test_deterministic(self, embedder: Embedder) -> None:
        """The same text gives the same vector (no dropout, no sampling)."""
        a, b = embedder.embed(["expense report deadline"]), embedder.embed(["expense report deadline"])
        np.testing.assert_allclose(a, b, atol=1e-5)

    def test_meaning_is_captured(self, embedder: Embedder) -> None:
        """A paraphrase must be closer than an unrelated text; if not, the model is not loaded right."""
        q = embedder.embed_query("how many vacation days do employees get")
        docs = embedder.embed(
            ["Staff receive 25 days of paid annual leave per year.", "The server room is cooled to 18 degrees."]
        )
        assert float(docs[0] @ q) > float(docs[1] @ q)

    def test_model_id(self, embedder: Embedder) -> None:
        """``model_id`` names the model, so a store can tell when vectors must be rebuilt."""
        assert isinstance(embedder.model_id, str) and embedder.model_id
