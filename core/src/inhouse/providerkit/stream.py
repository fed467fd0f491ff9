"""Streams retried up to their first text, and one error for a stream that breaks after it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from inhouse.errors import ProviderError
from inhouse.providerkit.retry import Backoff, Classify, call_with_retries

E = TypeVar("E")


def first_token_stream(
    open_stream: Callable[[], Iterable[E]],
    has_text: Callable[[E], bool],
    classify: Classify,
    *,
    max_attempts: int,
    backoff: Backoff,
    provider: str | None = None,
) -> Iterator[E]:
    """Yield the events of the stream ``open_stream`` starts.

    The stream is read up to the first event for which ``has_text`` is true before anything
    is yielded, so a failure before any text (an HTTP error, a throttling event, a refused
    connection) is retried like a failed call: ``classify`` says whether it may be, up to
    ``max_attempts`` attempts in all. After that, any failure raises one ``ProviderError``
    ("the answer broke off mid-stream: ...") with the classified code and retryability. The
    stream is closed (``close()``, when it has one) however the iteration ends.
    """

    def start() -> tuple[list[E], Iterator[E]]:
        events = iter(open_stream())
        first: list[E] = []
        for event in events:
            first.append(event)
            if has_text(event):
                break
        return first, events

    first, rest = call_with_retries(start, classify, max_attempts, backoff)
    try:
        yield from first
        yield from rest
    except Exception as exc:
        error = exc if isinstance(exc, ProviderError) else classify(exc)[0]
        raise ProviderError(
            f"the answer broke off mid-stream: {error}",
            retryable=error.retryable,
            provider=error.provider or provider,
            code=error.code,
        ) from exc
    finally:
        close = getattr(rest, "close", None)
        if callable(close):
            close()
