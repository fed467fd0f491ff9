"""Routing: a use case names an ordered chain of provider profiles; retryable errors move on.

The router skips profiles that cannot do the job (no text question goes to an image
model), whose residency the use case does not allow (``private`` reaches only the
residencies of ``[router] private_residency``), or that are cooling down after repeated
throttling; it records every call in the usage ledger. What it decides with is what each
provider instance reports (capabilities, residency, model id), never configuration keys.

``Router.generate`` streams text and ends with one typed :class:`Routed` result: who
answered, where the data went, usage, every attempt, the profiles skipped and why, cost,
and the prompt the answering model received. A caller's ``screen`` skips the profiles its
request's context may not reach (``[policy]``: a restricted passage never goes to Bedrock),
and its ``build`` may return an :class:`Outbound` saying what was redacted; the ledger
records, for every call, the chunks sent, the bytes and hash of the payload and the
redactions.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inhouse.config import RouterSettings
from inhouse.errors import ConfigError, ProviderError
from inhouse.ledger import Call, Ledger, PriceTable
from inhouse.plugins import Artifact, Prompt, Provider
from inhouse.tracing import REQUEST_ID, Tracing, failed
from inhouse.types import Usage


@dataclass(frozen=True)
class RouteRequest:
    """What to route: the use case and its chain, what the answer must be (``text`` or
    ``image``), the residencies allowed to receive the prompt (None: any), and for whom."""

    use_case: str
    chain: tuple[str, ...]
    need: str = "text"
    residency: tuple[str, ...] | None = None
    user: str = ""
    request: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass(frozen=True)
class Outbound:
    """What one provider is sent: the prompt as it leaves (after any redaction) and the
    number of values redacted in it, by kind."""

    prompt: Prompt
    redactions: Mapping[str, int] = field(default_factory=dict)


Build = Callable[[Provider], Prompt | Outbound]
Screen = Callable[[Provider], str | None]


@dataclass(frozen=True)
class Routed:
    """The outcome of a routed generation, yielded once, after the text."""

    provider: str | None
    residency: str | None
    answers: str  # "generated" or "quoted": what kind of answer the provider writes
    usage: Usage
    attempts: tuple[dict[str, Any], ...]
    skipped: tuple[dict[str, str], ...]
    artifacts: tuple[Artifact, ...]
    cost_usd: float | None
    prompt: Prompt | None  # what the answering provider received


class Router:
    """Walks a use case's chain of profiles; builds each provider only when first needed.

    ``factory`` builds a profile's provider (building one is cheap: clients and models load
    on first use). What the router decides with — capabilities, residency, the model id
    that cooldowns are kept per — is what that provider instance reports, never a raw key
    of its configuration table.
    """

    def __init__(
        self,
        routing: dict[str, list[str]],
        factory: Callable[[str], Provider],
        settings: RouterSettings | None = None,
        prices: PriceTable | None = None,
        ledger: Callable[[], Ledger | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        tracing: Tracing | None = None,
    ):
        self.routing = routing
        self.factory = factory
        self.settings = settings or RouterSettings()
        self.prices = prices or PriceTable()
        self.ledger = ledger or (lambda: None)
        self.clock = clock
        self.tracing = tracing or Tracing()  # an ``inhouse.provider`` span per attempt, under the request's answer span
        self._providers: dict[str, Provider] = {}
        self._throttled: dict[str, int] = {}  # provider+model -> calls in a row that ended throttled
        self._resting: dict[str, float] = {}  # provider+model -> clock time its cooldown ends
        self._lock = threading.Lock()

    def provider(self, profile: str) -> Provider:
        """The provider of one profile, built once (thread-safe)."""
        with self._lock:
            if profile not in self._providers:
                self._providers[profile] = self.factory(profile)
            return self._providers[profile]

    def chain(self, use_case: str) -> list[str]:
        """The profiles of a use case; only ``default`` may be left out (then it is empty)."""
        if use_case in self.routing:
            return self.routing[use_case]
        if use_case == "default":
            return []
        raise ConfigError(f"routing.{use_case} is not configured")

    def cooldown_key(self, profile: str) -> str:
        """Cooldowns are per plugin and model: two profiles of one model rest together."""
        provider = self.provider(profile)
        return f"{provider.use or type(provider).__name__}:{provider.model_id}"

    def resting(self, profile: str) -> float:
        """Seconds left of this profile's cooldown (0 when it may be called)."""
        key = self.cooldown_key(profile)
        with self._lock:
            return max(0.0, self._resting.get(key, 0.0) - self.clock())

    def skip_reason(self, route: RouteRequest, profile: str, screen: Screen | None = None) -> str | None:
        """Why ``profile`` may not take ``route`` (None: it may); ``screen`` adds the caller's
        own reason, such as a passage the provider's residency may not receive."""
        provider = self.provider(profile)
        if route.need not in provider.capabilities:
            return f"cannot produce {route.need} (capabilities: {', '.join(sorted(provider.capabilities)) or 'none'})"
        if route.residency is not None and provider.residency not in route.residency:
            return f"residency {provider.residency} may not receive {route.use_case} context"
        withheld = screen(provider) if screen is not None else None
        if withheld:
            return withheld
        left = self.resting(profile)
        if left > 0:
            return f"cooling down after repeated throttling ({left:.0f} s left)"
        return None

    def eligible(self, route: RouteRequest, screen: Screen | None = None) -> Provider | None:
        """The first provider of the chain that may take ``route`` now (the one expected to answer)."""
        profile = next((p for p in route.chain if self.skip_reason(route, p, screen) is None), None)
        return self.provider(profile) if profile is not None else None

    def _note_outcome(self, profile: str, code: str | None) -> None:
        key = self.cooldown_key(profile)
        with self._lock:
            if code == "throttled":
                self._throttled[key] = self._throttled.get(key, 0) + 1
                if self._throttled[key] >= self.settings.cooldown_after:
                    self._resting[key] = self.clock() + self.settings.cooldown_seconds
                    self._throttled[key] = 0
            else:
                self._throttled.pop(key, None)

    def generate(self, route: RouteRequest, build: Build, screen: Screen | None = None) -> Iterator[str | Routed]:
        """Stream text from the first eligible profile of ``route.chain`` that works, then yield
        its :class:`Routed` outcome. ``build`` makes the prompt for each provider tried (so each
        gets context sized to its own budget, and only what its residency may receive), a
        ``Prompt`` or an :class:`Outbound`; ``screen`` skips a provider with its reason.

        A retryable error before the first piece of text moves on to the next profile; one
        after text was streamed cannot be hidden and is raised, as is any non-retryable error.
        """
        attempts: list[dict[str, Any]] = []
        skipped: list[dict[str, str]] = []
        errors: list[str] = []
        cost: float | None = 0.0
        parent = self.tracing.answer_span(route.request)
        for profile in route.chain:
            reason = self.skip_reason(route, profile, screen)
            if reason:
                skipped.append({"profile": profile, "reason": reason})
                if parent is not None:
                    parent.add_event("inhouse.skipped", {"inhouse.profile": profile, "inhouse.reason": reason})
                continue
            provider = self.provider(profile)
            built = build(provider)
            outbound = built if isinstance(built, Outbound) else Outbound(built)
            prompt = outbound.prompt
            usage, artifacts, started = Usage(), [], False
            span = self.tracing.start("inhouse.provider", parent, _attempt_attributes(route, profile, provider))
            t0 = time.perf_counter()
            attempt: dict[str, Any] = {"profile": profile, "ok": True}
            try:
                for piece in provider.generate(prompt):
                    if isinstance(piece, Usage):
                        usage = piece
                    elif isinstance(piece, Artifact):
                        artifacts.append(piece)
                    elif piece:
                        started = True
                        yield piece
            except ProviderError as exc:
                attempt.update(ok=False, error=str(exc), code=exc.code, retryable=exc.retryable)
                errors.append(f"{profile}: {exc}")
                failed(span, exc)
                if started or not exc.retryable:
                    raise
            finally:
                attempt["ms"] = round((time.perf_counter() - t0) * 1000, 1)
                attempts.append(attempt)
                spent = self._settle(profile, provider, route, attempt, usage, outbound)
                cost = None if spent is None or cost is None else cost + spent
                span.set_attributes(_outcome_attributes(attempt, usage, spent))
                span.end()
            if attempt["ok"]:
                yield Routed(
                    profile,
                    provider.residency,
                    provider.answers,
                    usage,
                    tuple(attempts),
                    tuple(skipped),
                    tuple(artifacts),
                    cost,
                    prompt,
                )
                return
        if not errors:
            why = "; ".join(f"{s['profile']}: {s['reason']}" for s in skipped) or "the chain is empty"
            raise ProviderError(f"no provider of routing.{route.use_case} can take this request ({why})", code="no-route")
        raise ProviderError(f"every provider of routing.{route.use_case} failed ({'; '.join(errors)})", retryable=True)

    def _settle(
        self, profile: str, provider: Provider, route: RouteRequest, attempt: dict[str, Any], usage: Usage, outbound: Outbound
    ) -> float | None:
        """Cooldown bookkeeping and the ledger row of one call; returns its cost."""
        self._note_outcome(profile, attempt.get("code"))
        cost = self.prices.cost(provider, provider.model_id, usage)
        sent = payload(outbound.prompt)
        ledger = self.ledger()
        if ledger is not None:
            ledger.record(
                Call(
                    kind="generate",
                    profile=profile,
                    plugin=provider.use,
                    model=provider.model_id,
                    residency=provider.residency,
                    ok=attempt["ok"],
                    usage=usage,
                    use_case=route.use_case,
                    user=route.user,
                    request=route.request,
                    code=attempt.get("code", ""),
                    error=attempt.get("error", ""),
                    cost_usd=cost,
                    ms=attempt["ms"],
                    chunk_ids=tuple(c for p in outbound.prompt.passages for c in p.chunk_ids),
                    bytes_sent=len(sent),
                    payload_sha256=hashlib.sha256(sent).hexdigest(),
                    redactions=dict(outbound.redactions),
                )
            )
        return cost

    def close(self) -> None:
        """Close every provider built so far."""
        for provider in self._providers.values():
            provider.close()
        self._providers.clear()


def _attempt_attributes(route: RouteRequest, profile: str, provider: Provider) -> dict[str, str]:
    """What an attempt's span says before the call: which request, profile, plugin, model, residency."""
    return {
        REQUEST_ID: route.request,
        "inhouse.use_case": route.use_case,
        "inhouse.profile": profile,
        "inhouse.plugin": provider.use,
        "inhouse.model": provider.model_id,
        "inhouse.residency": provider.residency,
    }


def _outcome_attributes(attempt: dict[str, Any], usage: Usage, cost: float | None) -> dict[str, Any]:
    """What an attempt's span says after it: ``inhouse.outcome`` (ok, or the error's code), tokens, cost."""
    return {
        "inhouse.outcome": "ok" if attempt["ok"] else attempt.get("code") or "error",
        "inhouse.retryable": bool(attempt.get("retryable", False)),
        "inhouse.input_tokens": usage.input_tokens,
        "inhouse.output_tokens": usage.output_tokens,
        "inhouse.cost_usd": cost or 0.0,
    }


def payload(prompt: Prompt) -> bytes:
    """The bytes a call sends, as the ledger counts and hashes them: the system text, each
    message as ``role: content``, one per line, then the input images (the wire format's own
    framing aside)."""
    lines = [prompt.system, *(f"{m['role']}: {m['content']}" for m in prompt.messages)]
    return "\n".join(lines).encode("utf-8") + b"".join(image.data for image in prompt.images)


def routed_text(pieces: Sequence[str | Routed]) -> tuple[str, Routed]:
    """The text and the outcome of a finished ``Router.generate`` (tests and simple callers)."""
    outcome = pieces[-1]
    assert isinstance(outcome, Routed), "Router.generate ends with its Routed outcome"
    return "".join(p for p in pieces[:-1] if isinstance(p, str)), outcome
