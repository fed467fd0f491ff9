"""Hugging Face TGI's native wire format, as the ``tgi`` provider (``/generate_stream``) and the
``sagemaker`` provider (TGI behind InvokeEndpointWithResponseStream) both speak it: the request's
``parameters``, and the answer and usage its stream events carry
(``{"token": {"text", "special", ...}, "generated_text": ..., "details": ...}``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from inhouse.providerkit import usage_from
from inhouse.types import Usage
from inhouse_selfhosted.templates import StopFilter

MAX_STOP_SEQUENCES = 4  # TGI's default --max-stop-sequences


def parameters(max_new_tokens: int, temperature: float, stops: list[str], top_p: float | None = None) -> dict[str, Any]:
    """TGI's ``parameters`` for one request.

    TGI refuses ``temperature = 0``: greedy decoding is ``do_sample = false``. It takes at most
    ``MAX_STOP_SEQUENCES`` stop sequences (the first ones of ``stops`` are sent) and, behind
    SageMaker, would return the prompt with the answer unless ``return_full_text`` is false.
    ``details`` asks for the token counts that :func:`usage` reads.
    """
    sent: dict[str, Any] = {
        "max_new_tokens": max_new_tokens,
        "do_sample": temperature > 0,
        "return_full_text": False,
        "details": True,
    }
    if temperature > 0:
        sent["temperature"] = temperature
    if top_p is not None:
        sent["top_p"] = top_p
    if stops:
        sent["stop"] = stops[:MAX_STOP_SEQUENCES]
    return sent


def token_text(event: dict[str, Any]) -> str:
    """The text of a stream event's token; "" for special tokens (``</s>``) and events without one."""
    token = event.get("token") or {}
    return "" if token.get("special") else token.get("text") or ""


def usage(details: dict[str, Any], input_estimate: int, output_estimate: int) -> Usage:
    """The token counts of TGI's ``details`` (the last stream event's, or a whole answer's): input tokens
    from ``input_length`` (streams) or the ``prefill`` tokens, output tokens from ``generated_tokens``
    (special tokens included); the estimates stand in for what it does not report."""
    return usage_from(
        details.get("input_length") or len(details.get("prefill") or []),
        details.get("generated_tokens"),
        input_estimate=input_estimate,
        output_estimate=output_estimate,
    )


def stream_answer(events: Iterable[dict[str, Any]], stops: list[str], input_estimate: int) -> Iterator[str | Usage]:
    """The text of a stream's events, cut at the first of ``stops`` (TGI leaves a matched stop
    sequence in its text), then one ``Usage`` from the last ``details`` (see :func:`usage`; the
    text tokens received stand in for ``generated_tokens``)."""
    cut = StopFilter(stops)
    details: dict[str, Any] = {}
    tokens = 0
    for event in events:
        text = token_text(event)
        if text:
            tokens += 1
            shown = cut.feed(text)
            if shown:
                yield shown
        details = event.get("details") or details
    tail = cut.flush()
    if tail:
        yield tail
    yield usage(details, input_estimate, tokens)
