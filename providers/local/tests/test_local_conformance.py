"""The ``minilm`` embedder and the ``local`` chat model, built through their entry points,
pass the public conformance kit."""

from __future__ import annotations

from pathlib import Path

import pytest

from inhouse import registry
from inhouse.testing import EmbedderTests, ProviderTests


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


def built(kind: str, name: str, home: Path):
    return registry.build(kind, {"use": name}, f"{kind}.{name}", home=home, base_dir=home)


@pytest.mark.model
class TestMiniLM(EmbedderTests):
    @pytest.fixture(scope="class")
    def embedder(self, home: Path):
        return built("embedders", "minilm", home)


@pytest.mark.model
class TestLocalChat(ProviderTests):
    @pytest.fixture(scope="class")
    def provider(self, home: Path):
        provider = built("providers", "local", home)
        yield provider
        provider.close()


class TestExtractive(ProviderTests):
    @pytest.fixture
    def provider(self, home: Path):
        return built("providers", "extractive", home)
