"""``bedrock``: any Bedrock chat model (Claude, AI21 Jamba, Llama, ...) through ConverseStream."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import Field, model_validator

from inhouse.plugins import Artifact, Prompt, Provider
from inhouse.providerkit import BudgetSettings, alternating_turns
from inhouse.types import Usage
from inhouse_bedrock.aws import AwsConfig, BedrockPlugin


class BedrockChat(BedrockPlugin, Provider):
    """Chat with a Bedrock model over the Converse API, streamed.

    ``model`` is a model id (``anthropic.claude-3-5-sonnet-20240620-v1:0``), a cross-region
    inference profile (``us.anthropic...``) or an ARN. Usage and the model's latency come
    from the stream's ``metadata`` event.
    """

    class Config(AwsConfig, BudgetSettings):
        """``[providers.NAME]`` with ``use = "bedrock"``."""

        max_tokens: int | None = Field(None, ge=1, description="default: the assistant's [answer] max_tokens")
        temperature: float | None = Field(None, ge=0, le=1, description="default: the assistant's (0)")
        top_p: float | None = Field(None, ge=0, le=1)
        stop_sequences: list[str] = Field(default_factory=list, description="added to the assistant's own")
        additional_model_request_fields: dict[str, Any] = Field(default_factory=dict, description="e.g. {top_k = 50}")
        guardrail_id: str | None = None
        guardrail_version: str | None = None
        guardrail_trace: bool = False

        @model_validator(mode="after")
        def _guardrail_pair(self) -> BedrockChat.Config:
            if self.guardrail_version and not self.guardrail_id:
                raise ValueError("guardrail_version needs guardrail_id")
            return self

    capabilities = frozenset({"text", "stream"})
    # Claude 3.x and Jamba 1.5 take 200k+ tokens; 12k tokens of passages keep answers fast and cheap.
    context_window = 200_000
    preferred_context = 12_000

    @property
    def model_id(self) -> str:
        """The configured Bedrock model id."""
        return self.config.model

    def warm_up(self) -> None:
        """Build the boto3 client (loads botocore's service model)."""
        _ = self.aws.client

    def request(self, prompt: Prompt) -> dict[str, Any]:
        """The ConverseStream request for ``prompt`` (also what the tests inspect)."""
        cfg = self.config
        inference: dict[str, Any] = {
            "maxTokens": cfg.max_tokens or prompt.max_tokens,
            "temperature": prompt.temperature if cfg.temperature is None else cfg.temperature,
        }
        if cfg.top_p is not None:
            inference["topP"] = cfg.top_p
        stops = [s for s in [*prompt.stop, *cfg.stop_sequences] if s.strip()]
        if stops:
            inference["stopSequences"] = stops[:4]  # Bedrock's common limit
        request: dict[str, Any] = {"modelId": cfg.model, "messages": converse_messages(prompt), "inferenceConfig": inference}
        if prompt.system:
            request["system"] = [{"text": prompt.system}]
        if cfg.additional_model_request_fields:
            request["additionalModelRequestFields"] = cfg.additional_model_request_fields
        if cfg.guardrail_id:
            request["guardrailConfig"] = {
                "guardrailIdentifier": cfg.guardrail_id,
                "guardrailVersion": cfg.guardrail_version or "DRAFT",
                "trace": "enabled" if cfg.guardrail_trace else "disabled",
            }
        return request

    def generate(self, prompt: Prompt) -> Iterator[str | Usage | Artifact]:
        """Stream the reply; retries (throttling, 5xx, timeouts) happen before the first token only."""
        request = self.request(prompt)
        usage = Usage()
        for event in self.aws.stream(lambda: self.aws.client.converse_stream(**request)["stream"], has_text=_text):
            text = _text(event)
            if text:
                yield text
            elif "metadata" in event:
                meta = event["metadata"]
                tokens = meta.get("usage", {})
                usage = Usage(
                    input_tokens=tokens.get("inputTokens", 0),
                    output_tokens=tokens.get("outputTokens", 0),
                    latency_ms=meta.get("metrics", {}).get("latencyMs"),
                )
        yield usage


def _text(event: dict[str, Any]) -> str:
    """The text of a ConverseStream ``contentBlockDelta`` event, or ""."""
    return (event.get("contentBlockDelta") or {}).get("delta", {}).get("text") or ""


def converse_messages(prompt: Prompt) -> list[dict[str, Any]]:
    """The Converse ``messages``: alternating turns that start with the user, with input
    images attached to the last user turn."""
    messages: list[dict[str, Any]] = [
        {"role": turn["role"], "content": [{"text": turn["content"]}]} for turn in alternating_turns(prompt.messages)
    ]
    for image in prompt.images:
        fmt = image.mime.rsplit("/", 1)[-1]
        messages[-1]["content"].append({"image": {"format": fmt, "source": {"bytes": image.data}}})
    return messages
