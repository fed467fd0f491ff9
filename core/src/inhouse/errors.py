"""The one error tree of inhouse. Every message says what to do next."""

from __future__ import annotations


class InhouseError(Exception):
    """Base of every error inhouse raises on purpose."""


class ConfigError(InhouseError):
    """The configuration is wrong: the message names the TOML path of the bad key."""


class PluginError(InhouseError):
    """A plugin is missing, fails to import, or is not of the right kind."""


class ProviderError(InhouseError):
    """A model provider failed. ``retryable`` tells the router it may try the next profile.

    ``code`` classifies the failure for the router and the ledger: ``throttled`` (counts
    towards a cooldown), ``unavailable``, ``timeout``, ``not-ready``, ``validation``,
    ``access-denied``, ``content-filtered``, ``stream`` or ``error``.
    """

    def __init__(self, message: str, *, retryable: bool = False, provider: str | None = None, code: str = "error"):
        super().__init__(message)
        self.retryable = retryable
        self.provider = provider
        self.code = code


class IngestError(InhouseError):
    """A source could not be ingested; the message is the reason shown in the report.

    A connector raises it with ``retryable=True`` from ``open`` for a failure that may pass
    (a timeout, HTTP 429 or 5xx, a dropped connection): the ingester then tries that item
    again, ``[ingest] open_attempts`` times in all with backoff, before reporting it failed.
    """

    def __init__(self, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable


class AccessDenied(InhouseError):
    """The user may not see what they asked for."""


class BudgetExceeded(InhouseError):
    """A request is over a limit of ``[budgets]`` and was refused before any model call.

    ``retry_after`` is the number of seconds until the limit resets (the next minute, UTC day
    or month); ``subject`` is ``user:NAME`` or ``group:NAME``; ``limit`` names the limit
    (``cost_per_month``, ``requests_per_minute``, ...)."""

    def __init__(self, message: str, *, retry_after: int, subject: str = "", limit: str = ""):
        super().__init__(message)
        self.retry_after = retry_after
        self.subject = subject
        self.limit = limit
