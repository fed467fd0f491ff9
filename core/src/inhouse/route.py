"""Routing: a use case names an ordered chain of provider profiles; retryable errors move on.

The router skips profiles that cannot do the job (no text question goes to an image
model), that may not see private context (``routing.private`` only reaches the
residencies of ``[router] private_residency``), or that are cooling down after repeated
throttling; it records every call in the usage ledger.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from inhouse.config import RouterSettings
from inhouse.errors import ConfigError, ProviderError
from inhouse.ledger import Call, Ledger, PriceTable
from inhouse.plugins import Artifact, Prompt, Provider
from inhouse.types import Usage


@dataclass
class RouteResult:
    """Filled in while a routed generation streams: who answered, usage, attempts, cost."""

    use_case: str
    chain: list[str]
    reason: str = "default"
    language: str | None = None
    search_query: str | None = None  # what was searched, when a follow-up was made stand-alone
    user: str = ""
    request: str = field(default_factory=lambda: uuid.uuid4().hex)
    provider: str | None = None
    residency: str | None = None
    usage: Usage = field(default_factory=Usage)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    cost_usd: float | None = 0.0

    def route(self) -> dict[str, Any]:
        """The routing decision as ``Answer.route`` carries it."""
        out: dict[str, Any] = {
            "use_case": self.use_case,
            "reason": self.reason,
            "chain": self.chain,
            "provider": self.provider,
            "residency": self.residency,
            "fallback": bool(self.provider and self.chain and self.provider != self.chain[0]),
            "skipped": self.skipped,
        }
        if self.language:
            out["language"] = self.language
        if self.search_query:
            out["search_query"] = self.search_query
        return out


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
    ):
        self.routing = routing
        self.factory = factory
        self.settings = settings or RouterSettings()
        self.prices = prices or PriceTable()
        self.ledger = ledger or (lambda: None)
        self.clock = clock
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

    def _skip_reason(self, use_case: str, profile: str, need: str) -> str | None:
        provider = self.provider(profile)
        if need not in provider.capabilities:
            return f"cannot produce {need} (capabilities: {', '.join(sorted(provider.capabilities)) or 'none'})"
        if use_case == "private" and provider.residency not in self.settings.private_residency:
            return f"residency {provider.residency} may not receive private context"
        left = self.resting(profile)
        if left > 0:
            return f"cooling down after repeated throttling ({left:.0f} s left)"
        return None

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

    def generate(self, prompt: Prompt, result: RouteResult, need: str = "text") -> Iterator[str]:
        """Stream text from the first eligible profile of ``result.chain`` that works.

        A retryable error before the first piece of text moves on to the next profile; one
        after text was streamed cannot be hidden and is raised, as is any non-retryable error.
        Images the provider yields are collected in ``result.artifacts``.
        """
        errors = []
        for profile in result.chain:
            reason = self._skip_reason(result.use_case, profile, need)
            if reason:
                result.skipped.append({"profile": profile, "reason": reason})
                continue
            provider = self.provider(profile)
            started = False
            usage = Usage()
            t0 = time.perf_counter()
            attempt: dict[str, Any] = {"profile": profile, "ok": True}
            try:
                for piece in provider.generate(prompt):
                    if isinstance(piece, Usage):
                        usage = piece
                    elif isinstance(piece, Artifact):
                        result.artifacts.append(piece)
                    elif piece:
                        if not started:
                            started = True
                            result.provider, result.residency = profile, provider.residency
                        yield piece
            except ProviderError as exc:
                attempt.update(ok=False, error=str(exc), code=exc.code, retryable=exc.retryable)
                errors.append(f"{profile}: {exc}")
                if started or not exc.retryable:
                    raise
            finally:
                attempt["ms"] = round((time.perf_counter() - t0) * 1000, 1)
                result.attempts.append(attempt)
                self._settle(profile, provider, result, attempt, usage)
            if attempt["ok"]:
                result.provider, result.residency, result.usage = profile, provider.residency, usage
                return
        if not errors:
            skipped = "; ".join(f"{s['profile']}: {s['reason']}" for s in result.skipped) or "the chain is empty"
            raise ProviderError(f"no provider of routing.{result.use_case} can take this request ({skipped})", code="no-route")
        raise ProviderError(f"every provider of routing.{result.use_case} failed ({'; '.join(errors)})", retryable=True)

    def _settle(self, profile: str, provider: Provider, result: RouteResult, attempt: dict[str, Any], usage: Usage) -> None:
        """Cooldown bookkeeping, cost, and the ledger row of one call."""
        self._note_outcome(profile, attempt.get("code"))
        cost = self.prices.cost(provider, provider.model_id, usage)
        result.cost_usd = None if cost is None or result.cost_usd is None else result.cost_usd + cost
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
                    use_case=result.use_case,
                    user=result.user,
                    request=result.request,
                    code=attempt.get("code", ""),
                    error=attempt.get("error", ""),
                    cost_usd=cost,
                    ms=attempt["ms"],
                )
            )

    def close(self) -> None:
        """Close every provider built so far."""
        for provider in self._providers.values():
            provider.close()
        self._providers.clear()
