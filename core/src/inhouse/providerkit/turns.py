"""Conversation turns and token counts as chat APIs want them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from inhouse.types import Usage


def alternating_turns(messages: Iterable[Mapping[str, str]]) -> list[dict[str, str]]:
    """``messages`` as turns that alternate ``user``/``assistant`` and start with the user:
    any role other than ``assistant`` counts as the user, a leading assistant turn is dropped
    and consecutive turns of one role are joined with a blank line (Bedrock's Converse and
    the chat templates of Mistral and Llama refuse anything else)."""
    turns: list[dict[str, str]] = []
    for message in messages:
        role = "assistant" if message["role"] == "assistant" else "user"
        if not turns and role == "assistant":
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += "\n\n" + message["content"]
        else:
            turns.append({"role": role, "content": message["content"]})
    return turns


def usage_from(
    input_tokens: int | None,
    output_tokens: int | None,
    *,
    input_estimate: int,
    output_estimate: int,
    latency_ms: float | None = None,
) -> Usage:
    """The token counts a server reported, each replaced by its estimate when missing or zero."""
    return Usage(
        input_tokens=input_tokens or input_estimate,
        output_tokens=output_tokens or output_estimate,
        latency_ms=latency_ms,
    )
