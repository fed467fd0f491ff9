"""Fixtures of the emulator tests: one Bedrock emulator per module, reset before each test, and a
check that a test sent only valid requests unless it asks for ``expect_invalid``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bedrockkit import make_client
from inhouse.testing.emulators.bedrock import BedrockEmulator


@pytest.fixture(scope="module")
def emu() -> Iterator[BedrockEmulator]:
    """One emulator for the module."""
    with BedrockEmulator(seed=3) as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def clean(emu: BedrockEmulator, request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts from a reset emulator and, unless it asks for ``expect_invalid``, sends only valid requests."""
    emu.reset()
    yield
    if "expect_invalid" not in request.fixturenames:
        assert emu.invalid == []


@pytest.fixture
def expect_invalid() -> None:
    """Marks a test that sends invalid requests on purpose."""


@pytest.fixture(scope="module")
def client(emu: BedrockEmulator) -> Any:
    """A client of the module's emulator."""
    return make_client(emu.endpoint_url)
