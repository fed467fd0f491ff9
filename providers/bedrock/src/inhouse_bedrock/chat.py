"""``bedrock``: any Bedrock chat model (Claude, AI21 Jamba, Llama, ...) through ConverseStream."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import Field, model_validator

from inhouse.errors import ProviderError
from inhouse.plugins import Artifact, Prompt, Provider
from inhouse.types import Usage
from inhouse_bedrock.aws import AwsConfig, BedrockPlugin, bedrock_error


class BedrockChat(BedrockPlugin, Provider):
    """Chat with a Bedrock model over the Converse API, streamed.

    ``model`` is a model id (``anthropic.claude-3-5-sonnet-20240620-v1:0``), a cross-region
    inference profile (``us.anthropic...``) or an ARN. Usage and the model's latency come
    from the stream's ``metadata`` event.
    """

    class Config(AwsConfig):
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
        first, events = self.aws.call(lambda: self._open(request))
        usage = Usage()
        try:
            for event in _chain(first, events):
                if "contentBlockDelta" in event:
                    text = event["contentBlockDelta"]["delta"].get("text")
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
        except ProviderError:
            raise
        except Exception as exc:
            error, _ = bedrock_error(exc, self.config.model, self.name or None)
            raise ProviderError(f"the answer broke off mid-stream: {error}", retryable=error.retryable, code=error.code) from exc
        yield usage

    def _open(self, request: dict[str, Any]) -> tuple[list[dict[str, Any]], Iterator[dict[str, Any]]]:
        """Start the stream and read it up to the first text, so failures before any text
        (an HTTP error or an exception event) are retried like any other."""
        events = iter(self.aws.client.converse_stream(**request)["stream"])
        first: list[dict[str, Any]] = []
        for event in events:
            first.append(event)
            if "contentBlockDelta" in event and event["contentBlockDelta"]["delta"].get("text"):
                break
        return first, events


def converse_messages(prompt: Prompt) -> list[dict[str, Any]]:
    """Converse wants alternating turns that start with the user: merge repeats, drop a
    leading assistant turn, and attach input images to the last user turn."""
    messages: list[dict[str, Any]] = []
    for turn in prompt.messages:
        role = "assistant" if turn["role"] == "assistant" else "user"
        if not messages and role == "assistant":
            continue
        if messages and messages[-1]["role"] == role:
            messages[-1]["content"][0]["text"] += "\n\n" + turn["content"]
        else:
            messages.append({"role": role, "content": [{"text": turn["content"]}]})
    for image in prompt.images:
        fmt = image.mime.rsplit("/", 1)[-1]
        messages[-1]["content"].append({"image": {"format": fmt, "source": {"bytes": image.data}}})
    return messages


def _chain(first: list[dict[str, Any]], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield from first
    yield from rest
