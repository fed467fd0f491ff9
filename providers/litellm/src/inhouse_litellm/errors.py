"""LiteLLM's exceptions as inhouse ``ProviderError``s: this distribution's error table.

LiteLLM raises OpenAI-style exceptions carrying the provider's HTTP ``status_code`` whatever
the vendor (Bedrock's ThrottlingException is a ``RateLimitError`` with 429); the provider kit's table maps
the status to (our code, retry here, the router may fall back). Retries are inhouse's own
(``max_attempts``, before the first token only): LiteLLM is called with its retries off.
"""

from __future__ import annotations

from types import ModuleType

from inhouse.errors import ProviderError
from inhouse.providerkit import Outcome, status_outcome

ADVICE = {
    "access-denied": "check api_key (or the provider's credentials in the environment) and the model's access",
    "not-found": "check model (LiteLLM's 'provider/model') and api_base",
    "content-filtered": "the provider's content filter refused the prompt or the answer",
    "context": "the prompt is longer than the model's input limit: lower context_tokens or context_window in the profile",
    "unavailable": "is api_base right and the service reachable?",
}


def outcome(litellm: ModuleType, exc: Exception) -> tuple[Outcome, str]:
    """The outcome of a LiteLLM exception and the advice key for its message."""
    exceptions = litellm.exceptions
    original = getattr(exc, "original_exception", None)
    if isinstance(exc, exceptions.MidStreamFallbackError) and isinstance(original, Exception):
        return outcome(litellm, original)
    if isinstance(exc, exceptions.Timeout):
        return ("timeout", True, True), ""
    if isinstance(exc, exceptions.APIConnectionError):
        return ("unavailable", True, True), "unavailable"
    if isinstance(exc, exceptions.ContextWindowExceededError):
        return ("validation", False, False), "context"
    if isinstance(exc, exceptions.ContentPolicyViolationError):
        return ("content-filtered", False, True), "content-filtered"
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and status >= 400:
        code = status_outcome(status)
        return code, code[0]
    return ("error", False, True), ""  # LiteLLM failed on an answer it could not read


def classify(litellm: ModuleType, exc: Exception, label: str, provider: str | None) -> tuple[ProviderError, bool]:
    """``exc`` (raised by ``litellm.completion`` or while reading its stream) as (the
    ``ProviderError`` to raise, whether retrying here may help)."""
    (code, retry_here, retryable), advice = outcome(litellm, exc)
    hint = ADVICE.get(advice)
    said = str(exc) if str(exc).startswith("litellm.") else f"{type(exc).__name__}: {exc}"
    message = f"{label}: {said}{f' ({hint})' if hint else ''}"
    return ProviderError(message, retryable=retryable, provider=provider, code=code), retry_here
