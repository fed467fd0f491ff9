"""Conformance tests a plugin author subclasses (the pattern of LangChain's standard tests).

    from inhouse.testing import ProviderTests

    class TestMyProvider(ProviderTests):
        @pytest.fixture
        def provider(self):
            return MyProvider(MyProvider.Config(...))

Every test's docstring says how to fix a failure. Requires pytest.
"""

from inhouse.testing.connector import ConnectorTests
from inhouse.testing.embedder import EmbedderTests
from inhouse.testing.provider import ProviderTests
from inhouse.testing.store import StoreTests

__all__ = ["ConnectorTests", "EmbedderTests", "ProviderTests", "StoreTests"]
