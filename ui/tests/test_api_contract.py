"""The OpenAPI document against the running server: schemathesis (offline) generates requests
for every operation of ``/v1/openapi.json``, valid and invalid (the document's examples
first: real questions that run the whole answer pipeline), and no answer is a 5xx.
Bounded: a few examples per operation (the whole run takes well under a minute)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error

from inhouse.testing.emulators.openai_server import OpenAIServer
from ui_support import api_assistant, served

EXAMPLES = 4  # per operation


@pytest.fixture(scope="module")
def contract_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    """The loaded OpenAPI document of a running server (no keys: loopback, the local user) and the API's URL."""
    with OpenAIServer() as model:
        assistant = api_assistant(tmp_path_factory.mktemp("api-contract"), model.base_url)
        with served(assistant) as (_, base):
            yield schemathesis.openapi.from_url(f"{base}/openapi.json"), base
        assistant.close()


@pytest.fixture(scope="module")
def api_schema(contract_server: tuple[Any, str]) -> Any:
    """The schema schemathesis parametrizes the test with."""
    return contract_server[0]


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)
def test_no_request_gets_a_server_error(case: Any, contract_server: tuple[Any, str]) -> None:
    case.call_and_validate(base_url=contract_server[1], checks=[not_a_server_error], timeout=60)


def test_the_document_covers_every_route(contract_server: tuple[Any, str]) -> None:
    paths = set(contract_server[0].raw_schema["paths"])
    assert {"/chat/completions", "/models", "/models/{model}", "/embeddings"} <= paths
    assert {"/ask", "/search", "/documents", "/conversations"} <= paths
