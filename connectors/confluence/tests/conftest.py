"""A local Confluence with two spaces, restricted pages and attachments, and connectors on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from confluence_server import Wiki, build_wiki, options, serve

from inhouse_confluence.connector import ConfluenceConnector


@pytest.fixture
def wiki() -> Wiki:
    return build_wiki()


@pytest.fixture
def site(wiki: Wiki) -> Iterator[str]:
    with serve(wiki) as base:
        yield base


@pytest.fixture
def make(site: str) -> Iterator[Callable[..., ConfluenceConnector]]:
    built: list[ConfluenceConnector] = []

    def make(**extra: Any) -> ConfluenceConnector:
        connector = ConfluenceConnector(ConfluenceConnector.Config.model_validate(options(site, **extra)), name="wiki")
        built.append(connector)
        return connector

    yield make
    for connector in built:
        connector.close()
