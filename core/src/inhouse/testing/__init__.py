"""Conformance tests a plugin author subclasses (the pattern of LangChain's standard tests).

    from inhouse.testing import ProviderTests

    class TestMyProvider(ProviderTests):
        @pytest.fixture
        def provider(self, tmp_path):
            return MyProvider(MyProvider.Config(...), name="mine", home=tmp_path / "home")

Every kind's kit also checks the privacy duties (``inhouse.testing.privacy``): the plugin
connects only where its declared residency allows and writes only inside its data folder;
a store enforces ACLs inside search; a connector yields access lists and stable ids.
Every test's docstring says how to fix a failure (its ``Fix:`` sentence). The wire emulators
of Bedrock, TGI, SageMaker and OpenAI-compatible servers are in ``inhouse.testing.emulators``.
``inhouse plugin new KIND NAME`` scaffolds a distribution whose tests already subclass these.
Requires pytest.
"""

from inhouse.testing.connector import ConnectorTests
from inhouse.testing.embedder import EmbedderTests
from inhouse.testing.parser import ParserTests
from inhouse.testing.provider import ProviderTests
from inhouse.testing.store import StoreTests

__all__ = ["ConnectorTests", "EmbedderTests", "ParserTests", "ProviderTests", "StoreTests"]
