"""Retrying a provider call: full-jitter exponential backoff, a bounded number of attempts.

Providers retry transient failures themselves (throttling, 5xx, timeouts, a cold
endpoint) before raising a ``ProviderError`` for the router; the backoff is configurable
so tests stay fast without skipping it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from pydantic import Field

from inhouse.errors import ProviderError
from inhouse.plugins import PluginConfig

T = TypeVar("T")
Classify = Callable[[Exception], tuple[ProviderError, bool]]
"""Turns a client exception into (the ProviderError to raise, whether retrying here may help);
re-raises exceptions it does not know."""


class RetrySettings(PluginConfig):
    """The retry keys of a remote provider's table."""

    max_attempts: int = Field(3, ge=1, le=10, description="attempts per request, the first included")
    backoff_base: float = Field(0.5, ge=0, description="seconds; retry n waits up to base * 2**(n-1), jittered")
    backoff_max: float = Field(10.0, ge=0)


class Backoff:
    """Full-jitter exponential backoff: retry n waits uniform(0, min(cap, base * 2**(n-1)))."""

    def __init__(self, base: float, cap: float, rng: random.Random | None = None, sleep: Callable[[float], None] = time.sleep):
        self.base, self.cap = base, cap
        self.rng = rng or random.Random()
        self.sleep = sleep

    def wait(self, retry: int) -> None:
        """Sleep before retry number ``retry`` (1 for the first retry)."""
        self.sleep(self.rng.uniform(0, min(self.cap, self.base * 2 ** (retry - 1))))


def call_with_retries(
    fn: Callable[[], T], classify: Callable[[Exception], tuple[Exception, bool]], max_attempts: int, backoff: Backoff
) -> T:
    """Run ``fn``, retrying what ``classify`` calls retryable, up to ``max_attempts`` in all.

    ``classify`` may also hand back the exception it was given (the ingester's retryable
    ``IngestError``): it is then raised as it is."""
    attempt = 1
    while True:
        try:
            return fn()
        except ProviderError:
            raise
        except Exception as exc:
            error, retry_here = classify(exc)
            if not (retry_here and attempt < max_attempts):
                if error is exc:
                    raise
                raise error from exc
        backoff.wait(attempt)
        attempt += 1
