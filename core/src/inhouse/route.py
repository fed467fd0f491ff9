"""Routing: a use case names an ordered chain of provider profiles; retryable errors move on."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from inhouse.errors import ConfigError, ProviderError
from inhouse.plugins import Artifact, Prompt, Provider
from inhouse.types import Usage


@dataclass
class RouteResult:
    """Filled in while a routed generation streams: who answered, usage, attempts."""

    use_case: str
    chain: list[str]
    provider: str | None = None
    usage: Usage = field(default_factory=Usage)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)


class Router:
    """Walks a use case's chain of profiles; builds each provider only when first needed."""

    def __init__(self, routing: dict[str, list[str]], factory: Callable[[str], Provider]):
        self.routing = routing
        self.factory = factory
        self._providers: dict[str, Provider] = {}
        self._lock = threading.Lock()

    def provider(self, profile: str) -> Provider:
        """The provider of one profile, built once (thread-safe)."""
        with self._lock:
            if profile not in self._providers:
                self._providers[profile] = self.factory(profile)
            return self._providers[profile]

    def chain(self, use_case: str) -> list[str]:
        """The profiles of a use case; unknown use cases fall back to ``default``."""
        if use_case in self.routing:
            return self.routing[use_case]
        if "default" in self.routing:
            return self.routing["default"]
        raise ConfigError(f"routing.{use_case} is not configured and there is no routing.default")

    def generate(self, use_case: str, prompt: Prompt, result: RouteResult) -> Iterator[str]:
        """Stream text from the first profile that works.

        A retryable error before the first piece of text moves on to the next profile; one
        after text was streamed cannot be hidden and is raised, as is any non-retryable error.
        """
        errors = []
        for profile in result.chain:
            provider = self.provider(profile)
            started = False
            try:
                for piece in provider.generate(prompt):
                    if isinstance(piece, Usage):
                        result.usage = piece
                    elif isinstance(piece, Artifact):
                        result.artifacts.append(piece)
                    elif piece:
                        if not started:
                            started = True
                            result.provider = profile
                        yield piece
                result.provider = profile
                result.attempts.append({"profile": profile, "ok": True})
                return
            except ProviderError as exc:
                result.attempts.append({"profile": profile, "ok": False, "error": str(exc), "retryable": exc.retryable})
                errors.append(f"{profile}: {exc}")
                if started or not exc.retryable:
                    raise
        raise ProviderError(f"every provider of routing.{use_case} failed ({'; '.join(errors)})", retryable=True)

    def close(self) -> None:
        """Close every provider built so far."""
        for provider in self._providers.values():
            provider.close()
        self._providers.clear()
