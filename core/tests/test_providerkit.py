"""The provider kit: streams retried up to their first text, one error after it, lazy clients,
alternating turns and reported-or-estimated usage."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from inhouse.errors import ProviderError
from inhouse.providerkit import Backoff, LazyClient, alternating_turns, first_token_stream, usage_from


class Flaky(Exception):
    """A client exception: retryable unless ``fatal``."""

    def __init__(self, message: str, fatal: bool = False):
        super().__init__(message)
        self.fatal = fatal


def classify(exc: Exception) -> tuple[ProviderError, bool]:
    if not isinstance(exc, Flaky):
        raise exc
    return ProviderError(f"server: {exc}", retryable=not exc.fatal, code="error" if exc.fatal else "throttled"), not exc.fatal


def backoff(waits: list[float]) -> Backoff:
    return Backoff(0.5, 10.0, sleep=waits.append)


def stream(*events: str | Exception) -> Iterator[str]:
    for event in events:
        if isinstance(event, Exception):
            raise event
        yield event


def test_failures_before_the_first_text_are_retried_with_backoff() -> None:
    opened, waits = [], []
    scripts = iter([("", Flaky("throttled")), ("", Flaky("throttled")), ("", "Hello", " world")])

    def open_stream() -> Iterator[str]:
        opened.append(1)
        return stream(*next(scripts))

    events = list(first_token_stream(open_stream, bool, classify, max_attempts=3, backoff=backoff(waits)))
    assert events == ["", "Hello", " world"] and len(opened) == 3 and len(waits) == 2


def test_attempts_are_bounded_and_the_classified_error_raised() -> None:
    waits: list[float] = []
    with pytest.raises(ProviderError, match="server: throttled") as info:
        list(first_token_stream(lambda: stream(Flaky("throttled")), bool, classify, max_attempts=2, backoff=backoff(waits)))
    assert info.value.code == "throttled" and len(waits) == 1


def test_a_fatal_error_is_not_retried() -> None:
    opened = []

    def open_stream() -> Iterator[str]:
        opened.append(1)
        return stream(Flaky("bad request", fatal=True))

    with pytest.raises(ProviderError, match="bad request"):
        list(first_token_stream(open_stream, bool, classify, max_attempts=5, backoff=backoff([])))
    assert len(opened) == 1


def test_a_failure_after_text_breaks_off_once_with_its_code_and_is_never_retried() -> None:
    opened, seen = [], []

    def open_stream() -> Iterator[str]:
        opened.append(1)
        return stream("partial", " answer", Flaky("connection reset"))

    with pytest.raises(ProviderError, match=r"^the answer broke off mid-stream: server: connection reset$") as info:
        for event in first_token_stream(open_stream, bool, classify, max_attempts=3, backoff=backoff([]), provider="p"):
            seen.append(event)
    assert seen == ["partial", " answer"] and len(opened) == 1
    assert info.value.code == "throttled" and info.value.retryable and info.value.provider == "p"


def test_the_stream_is_closed_when_the_reader_stops_early() -> None:
    closed = []

    def events() -> Iterator[str]:
        try:
            yield from ("a", "b", "c")
        finally:
            closed.append(True)

    reader = first_token_stream(events, bool, classify, max_attempts=1, backoff=backoff([]))
    assert next(reader) == "a"
    reader.close()
    assert closed == [True]


def test_unknown_exceptions_are_not_hidden() -> None:
    with pytest.raises(KeyError):
        list(first_token_stream(lambda: stream(KeyError("bug")), bool, classify, max_attempts=3, backoff=backoff([])))


def test_lazy_client_builds_once_across_threads_and_rebuilds_after_close() -> None:
    built, closed = [], []

    class Client:
        def close(self) -> None:
            closed.append(self)

    def build() -> Client:
        built.append(1)
        return Client()

    lazy = LazyClient(build)
    threads = [threading.Thread(target=lazy.get) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    first = lazy.get()
    assert len(built) == 1
    lazy.close()
    lazy.close()
    assert closed == [first] and lazy.get() is not first and len(built) == 2


def test_alternating_turns_start_with_the_user_and_merge_repeats() -> None:
    turns = [
        {"role": "assistant", "content": "Hello, how can I help?"},
        {"role": "user", "content": "Leave?"},
        {"role": "user", "content": "For contractors."},
        {"role": "assistant", "content": "25 days."},
        {"role": "system", "content": "treated as the user"},
    ]
    assert alternating_turns(turns) == [
        {"role": "user", "content": "Leave?\n\nFor contractors."},
        {"role": "assistant", "content": "25 days."},
        {"role": "user", "content": "treated as the user"},
    ]
    assert turns[1]["content"] == "Leave?"  # the caller's turns are not changed


def test_usage_takes_what_the_server_reported_else_the_estimate() -> None:
    assert usage_from(12, None, input_estimate=99, output_estimate=7).output_tokens == 7
    reported = usage_from(12, 5, input_estimate=99, output_estimate=7, latency_ms=30.0)
    assert (reported.input_tokens, reported.output_tokens, reported.latency_ms) == (12, 5, 30.0)
