"""Routing: the chain is walked on retryable errors only, and the attempts are recorded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from inhouse.errors import ConfigError, ProviderError
from inhouse.plugins import Prompt, Provider
from inhouse.route import Router, RouteResult
from inhouse.types import Usage

PROMPT = Prompt(system="s", messages=[{"role": "user", "content": "q"}])


class Failing(Provider):
    """Fails before producing text, retryable or not."""

    def __init__(self, retryable: bool):
        super().__init__()
        self.retryable = retryable
        self.calls = 0

    def generate(self, prompt: Prompt) -> Iterator[str | Usage]:
        self.calls += 1
        raise ProviderError("overloaded", retryable=self.retryable)
        yield ""  # pragma: no cover - makes this a generator


class Working(Provider):
    def generate(self, prompt: Prompt) -> Iterator[str | Usage]:
        yield "hello"
        yield " world"
        yield Usage(3, 2)


class FailsMidStream(Provider):
    def generate(self, prompt: Prompt) -> Iterator[str | Usage]:
        yield "partial"
        raise ProviderError("connection reset", retryable=True)


def route(chain: list[str], providers: dict[str, Provider]) -> tuple[str, RouteResult]:
    router = Router({"default": chain}, providers.__getitem__)
    result = RouteResult("default", router.chain("default"))
    return "".join(router.generate("default", PROMPT, result)), result


def test_retryable_error_moves_to_next_profile() -> None:
    text, result = route(["a", "b"], {"a": Failing(True), "b": Working()})
    assert text == "hello world" and result.provider == "b"
    assert [a["profile"] for a in result.attempts] == ["a", "b"] and result.attempts[0]["retryable"] is True
    assert result.usage == Usage(3, 2)


def test_non_retryable_error_stops_the_chain() -> None:
    b = Working()
    with pytest.raises(ProviderError, match="overloaded"):
        route(["a", "b"], {"a": Failing(False), "b": b})


def test_error_after_text_is_not_hidden() -> None:
    with pytest.raises(ProviderError, match="connection reset"):
        route(["a", "b"], {"a": FailsMidStream(), "b": Working()})


def test_all_failing_names_every_error() -> None:
    with pytest.raises(ProviderError, match=r"every provider of routing\.default failed \(a: overloaded; b: overloaded\)"):
        route(["a", "b"], {"a": Failing(True), "b": Failing(True)})


def test_unknown_use_case_falls_back_to_default_and_providers_are_built_once() -> None:
    built: list[str] = []

    def factory(name: str) -> Provider:
        built.append(name)
        return Working()

    router = Router({"default": ["a"]}, factory)
    assert router.chain("reasoning") == ["a"]
    for _ in range(2):
        list(router.generate("reasoning", PROMPT, RouteResult("reasoning", ["a"])))
    assert built == ["a"]
    with pytest.raises(ConfigError):
        Router({}, factory).chain("x")
