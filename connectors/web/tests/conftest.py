"""Fixtures of the web connector's tests: the generated site (``web_site``) on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from web_site import Server, Site


@pytest.fixture
def site() -> Iterator[Server]:
    """A fresh site on 127.0.0.1 (its content and log are ``site.site``)."""
    server = Server(Site(slow_s=3.0))
    yield server
    server.stop()
