"""Routing: retryable errors walk the chain, capabilities and privacy are honoured, throttled
providers rest, and every call lands in the usage ledger."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from inhouse.audit import AuditLog
from inhouse.config import RouterSettings
from inhouse.errors import ConfigError, ProviderError
from inhouse.ledger import Ledger, PriceTable
from inhouse.plugins import Artifact, Passage, Price, Prompt, Provider
from inhouse.route import Outbound, Routed, Router, RouteRequest, payload, routed_text
from inhouse.types import Usage

PROMPT = Prompt(system="s", messages=[{"role": "user", "content": "q"}])


class Failing(Provider):
    """Fails before producing text, retryable or not."""

    residency = "in-account"

    def __init__(self, retryable: bool, code: str = "unavailable"):
        super().__init__()
        self.retryable, self.code = retryable, code
        self.calls = 0

    def generate(self, prompt: Prompt) -> Iterator[str | Usage]:
        self.calls += 1
        raise ProviderError("overloaded", retryable=self.retryable, code=self.code)
        yield ""  # pragma: no cover - makes this a generator


class Working(Provider):
    @property
    def model_id(self) -> str:
        return "anthropic.claude-3-5-sonnet-20240620-v1:0"

    residency = "in-account"

    def price(self) -> Price:
        return Price(input=3.0, output=15.0)

    def generate(self, prompt: Prompt) -> Iterator[str | Usage]:
        yield "hello"
        yield " world"
        yield Usage(1000, 2000)


class Local(Provider):
    residency = "local"

    def generate(self, prompt: Prompt) -> Iterator[str | Usage]:
        yield "local answer"
        yield Usage(5, 2)


class Painter(Provider):
    capabilities = frozenset({"image"})
    residency = "in-account"

    def generate(self, prompt: Prompt) -> Iterator[str | Usage | Artifact]:
        yield Artifact(b"\x89PNG...", "image/png", {"seed": 7})
        yield Usage(images=1)


class FailsMidStream(Provider):
    def generate(self, prompt: Prompt) -> Iterator[str | Usage]:
        yield "partial"
        raise ProviderError("connection reset", retryable=True)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_router(providers: dict[str, Provider], routing: dict[str, list[str]], **kwargs) -> Router:
    for name, provider in providers.items():
        provider.use = name  # as the registry sets it: each profile its own plugin, so cooldowns stay apart
    return Router(routing, providers.__getitem__, **kwargs)


PRIVATE = ("local", "self-hosted")


def request(use_case: str, chain: list[str], **kwargs) -> RouteRequest:
    """A route request; ``private`` allows only the private residencies, as the pipeline asks."""
    residency = PRIVATE if use_case == "private" else None
    return RouteRequest(use_case, tuple(chain), residency=residency, **kwargs)


def run(router: Router, route: RouteRequest) -> tuple[str, Routed]:
    """The text and the outcome of one routed generation (every provider gets ``PROMPT``)."""
    return routed_text(list(router.generate(route, lambda provider: PROMPT)))


def route(chain: list[str], providers: dict[str, Provider], use_case: str = "default") -> tuple[str, Routed]:
    router = make_router(providers, {use_case: chain})
    return run(router, request(use_case, router.chain(use_case)))


def test_retryable_error_moves_to_next_profile() -> None:
    text, result = route(["a", "b"], {"a": Failing(True), "b": Working()})
    assert text == "hello world" and result.provider == "b" and result.residency == "in-account"
    assert [a["profile"] for a in result.attempts] == ["a", "b"] and result.attempts[0]["retryable"] is True
    assert result.attempts[0]["code"] == "unavailable" and result.attempts[1]["ok"] is True
    assert result.usage == Usage(1000, 2000) and result.prompt is PROMPT and result.answers == "generated"


def test_non_retryable_error_stops_the_chain() -> None:
    b = Working()
    with pytest.raises(ProviderError, match="overloaded"):
        route(["a", "b"], {"a": Failing(False, "access-denied"), "b": b})


def test_error_after_text_is_not_hidden() -> None:
    with pytest.raises(ProviderError, match="connection reset"):
        route(["a", "b"], {"a": FailsMidStream(), "b": Working()})


def test_all_failing_names_every_error() -> None:
    with pytest.raises(ProviderError, match=r"every provider of routing\.default failed \(a: overloaded; b: overloaded\)"):
        route(["a", "b"], {"a": Failing(True), "b": Failing(True)})


def test_text_never_goes_to_an_image_model_and_images_never_to_a_text_model() -> None:
    providers = {"paint": Painter(), "claude": Working()}
    text, result = route(["paint", "claude"], providers)
    assert text == "hello world" and result.skipped[0]["profile"] == "paint"
    assert "cannot produce text" in result.skipped[0]["reason"]
    router = make_router(providers, {"image": ["claude", "paint"]})
    text, result = run(router, request("image", router.chain("image"), need="image"))
    assert text == "" and result.provider == "paint" and result.artifacts[0].meta["seed"] == 7 and result.usage.images == 1
    assert result.skipped == ({"profile": "claude", "reason": "cannot produce image (capabilities: stream, text)"},)


def test_private_never_reaches_an_in_account_or_external_model() -> None:
    claude, local = Working(), Local()
    text, result = route(["claude", "local"], {"claude": claude, "local": local}, use_case="private")
    assert text == "local answer" and result.residency == "local"
    assert result.skipped == ({"profile": "claude", "reason": "residency in-account may not receive private context"},)
    with pytest.raises(ProviderError, match=r"no provider of routing\.private can take this request"):
        route(["claude"], {"claude": Working()}, use_case="private")


def test_repeated_throttling_rests_the_provider_then_it_comes_back() -> None:
    clock = Clock()
    throttled, backup = Failing(True, "throttled"), Working()
    settings = RouterSettings(cooldown_after=2, cooldown_seconds=30)
    router = make_router({"a": throttled, "b": backup}, {"default": ["a", "b"]}, settings=settings, clock=clock)

    def ask() -> Routed:
        text, result = run(router, request("default", ["a", "b"]))
        assert text == "hello world"
        return result

    ask()
    ask()  # second throttled call in a row: a rests
    assert throttled.calls == 2 and router.resting("a") == 30
    result = ask()
    assert throttled.calls == 2 and result.skipped[0]["profile"] == "a" and "cooling down" in result.skipped[0]["reason"]
    clock.now += 31
    ask()
    assert throttled.calls == 3


def test_other_errors_do_not_start_a_cooldown() -> None:
    router = make_router({"a": Failing(True, "unavailable"), "b": Working()}, {"default": ["a", "b"]})
    for _ in range(5):
        run(router, request("default", ["a", "b"]))
    assert router.resting("a") == 0


def test_every_call_is_in_the_ledger_with_its_cost(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "usage.sqlite3")
    providers = {"a": Failing(True), "b": Working()}
    router = make_router(providers, {"default": ["a", "b"]}, prices=PriceTable(), ledger=lambda: ledger)
    _, result = run(router, request("default", ["a", "b"], user="ana"))
    calls = ledger.calls()
    assert [(c["profile"], c["ok"], c["code"]) for c in reversed(calls)] == [("a", 0, "unavailable"), ("b", 1, "")]
    assert {c["user"] for c in calls} == {"ana"} and len({c["request"] for c in calls}) == 1
    # Claude 3.5 Sonnet: $3 / $15 per million tokens -> 1000 in, 2000 out = 0.003 + 0.030
    assert result.cost_usd == pytest.approx(0.033)
    assert calls[0]["cost_usd"] == pytest.approx(0.033)
    summary = {r["model"]: r for r in ledger.summary()}
    assert summary["anthropic.claude-3-5-sonnet-20240620-v1:0"]["output_tokens"] == 2000
    ledger.close()


def test_unknown_use_case_is_an_error_and_providers_are_built_once() -> None:
    built: list[str] = []

    def factory(name: str) -> Provider:
        built.append(name)
        return Working()

    router = Router({"default": ["a"]}, factory)
    for _ in range(2):
        run(router, request("default", ["a"]))
    assert built == ["a"]
    with pytest.raises(ConfigError, match=r"routing\.reasoning is not configured"):
        router.chain("reasoning")
    assert Router({}, factory).chain("default") == []


def test_the_router_honours_the_residency_a_provider_instance_reports() -> None:
    """A profile's residency is what its plugin instance says (a SageMaker profile declaring
    in-account, a server on a public address), whatever the class default."""
    providers = {"sm": Local(), "local": Local()}
    providers["sm"].residency = "in-account"
    router = make_router(providers, {"private": ["sm", "local"]})
    _, result = run(router, request("private", router.chain("private")))
    assert result.provider == "local" and result.skipped[0]["reason"] == "residency in-account may not receive private context"


def test_each_provider_tried_gets_its_own_prompt() -> None:
    """The prompt is built per provider (context sized to its budget), and the outcome carries
    the one the answering provider received."""
    small, big = Failing(True), Working()
    small.preferred_context, big.preferred_context = 100, 10_000
    router = make_router({"small": small, "big": big}, {"default": ["small", "big"]})
    built = []

    def build(provider: Provider) -> Prompt:
        built.append(provider.preferred_context)
        return Prompt(system=f"budget {provider.preferred_context}", messages=[])

    text, result = routed_text(list(router.generate(request("default", ["small", "big"]), build)))
    assert built == [100, 10_000] and result.prompt.system == "budget 10000" and text == "hello world"


def test_a_screened_provider_is_skipped_with_the_callers_reason() -> None:
    """``screen`` is the caller's own reason a provider may not take the request (``[policy]``)."""
    router = make_router({"claude": Working(), "local": Local()}, {"default": ["claude", "local"]})

    def screen(provider: Provider) -> str | None:
        return "residency in-account may not receive restricted text" if provider.residency == "in-account" else None

    route = request("default", ["claude", "local"])
    text, result = routed_text(list(router.generate(route, lambda provider: PROMPT, screen)))
    assert text == "local answer" and result.skipped == ({"profile": "claude", "reason": screen(Working())},)
    assert router.eligible(route, screen) is router.provider("local")


def test_every_call_records_the_chunks_bytes_hash_and_redactions_it_sent(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    ledger = Ledger(tmp_path / "usage.sqlite3", audit=audit)
    router = make_router({"a": Failing(True), "b": Working()}, {"default": ["a", "b"]}, ledger=lambda: ledger)
    passages = [Passage(1, "d", "s.md", "S", "a", chunk_ids=("c1", "c2")), Passage(2, "e", "t.md", "T", "b", chunk_ids=("c9",))]
    prompt = Prompt(system="s [EMAIL_1]", messages=[{"role": "user", "content": "q"}], passages=passages)
    outbound = Outbound(prompt, {"email": 1})
    _, result = routed_text(list(router.generate(request("default", ["a", "b"]), lambda provider: outbound)))
    assert result.prompt is prompt
    sent = payload(prompt)
    assert sent == b"s [EMAIL_1]\nuser: q"
    records = [r for r in audit.records() if r["kind"] == "call"]
    assert [r["profile"] for r in records] == ["a", "b"], "a failed call sent the text too"
    for r in records:
        assert r["chunk_ids"] == ["c1", "c2", "c9"] and r["bytes_sent"] == len(sent) and r["redactions"] == {"email": 1}
        assert r["payload_sha256"] == hashlib.sha256(sent).hexdigest()
    ledger.close()
