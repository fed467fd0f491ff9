"""What an HTTP status from a model server means for the router: one table for every provider
that reads statuses (self-hosted servers, LiteLLM's exceptions)."""

from __future__ import annotations

Outcome = tuple[str, bool, bool]
"""(our error code, retry here, the router may fall back)."""

# 424 is TGI's "generation error" and Bedrock's ModelErrorException: another model may answer.
STATUS: dict[int, Outcome] = {
    400: ("validation", False, False),
    401: ("access-denied", False, False),
    403: ("access-denied", False, False),
    404: ("not-found", False, False),
    408: ("timeout", True, True),
    413: ("validation", False, False),
    422: ("validation", False, False),
    424: ("error", False, True),
    429: ("throttled", True, True),
    502: ("unavailable", True, True),
    503: ("not-ready", True, True),
    504: ("timeout", True, True),
}


def status_outcome(status: int) -> Outcome:
    """The outcome of an HTTP error status: the table, else any 5xx is ``unavailable`` (retried,
    the router may fall back) and any other 4xx an ``error`` that neither retries nor falls back."""
    if status in STATUS:
        return STATUS[status]
    return ("unavailable", True, True) if status >= 500 else ("error", False, False)
