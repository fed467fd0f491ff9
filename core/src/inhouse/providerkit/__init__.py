"""The provider kit: what every remote, streaming model provider needs besides its wire format.

- :func:`first_token_stream` opens a stream and reads it up to its first text, retrying
  retryable failures before that (``max_attempts``, full-jitter backoff); a failure after
  text is the one error ``"the answer broke off mid-stream: ..."``, since text already
  shown cannot be taken back or silently replaced by another model's.
- :class:`RetrySettings` (the ``max_attempts``/``backoff_*`` keys of a provider's table),
  :class:`Backoff` and :func:`call_with_retries` for calls that do not stream.
- A ``Classify`` function is the plugin's own error table: it turns a client exception into
  ``(ProviderError, retry here?)`` and re-raises what it does not know.
- :func:`alternating_turns` normalises a conversation for APIs that want user/assistant
  turns alternating and starting with the user.
- :class:`LazyClient` builds a client (boto3, httpx) on first use, thread-safely, and closes it.
- :func:`usage_from` takes the token counts a server reports, or estimates.
- :func:`host_residency`: ``local``, ``self-hosted`` or ``external`` (and why) for the host a client
  connects to (connectors that read from a server declare their residency with it).
- :func:`status_outcome`: what an HTTP error status means (error code, retry here, fall back).
- :class:`BudgetSettings`: the ``context_window`` and ``context_tokens`` keys with which a
  profile sizes the context its model receives (``Provider.context_window``,
  ``Provider.preferred_context``).

Bedrock, TGI, OpenAI-compatible servers and SageMaker endpoints all use it; each provider
keeps only what its wire format needs.
"""

from inhouse.providerkit.budget import BudgetSettings
from inhouse.providerkit.client import LazyClient
from inhouse.providerkit.hosts import host_residency
from inhouse.providerkit.retry import Backoff, Classify, RetrySettings, call_with_retries
from inhouse.providerkit.status import Outcome, status_outcome
from inhouse.providerkit.stream import first_token_stream
from inhouse.providerkit.turns import alternating_turns, usage_from

__all__ = [
    "Backoff",
    "BudgetSettings",
    "Classify",
    "LazyClient",
    "Outcome",
    "RetrySettings",
    "alternating_turns",
    "call_with_retries",
    "first_token_stream",
    "host_residency",
    "status_outcome",
    "usage_from",
]
