"""``openai-compatible``: any server with the OpenAI chat-completions API (vLLM, TGI's
Messages API, llama.cpp's server, ...), through a direct httpx client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from pydantic import Field

from inhouse.errors import InhouseError, ProviderError
from inhouse.plugins import Artifact, PluginConfig, Prompt, Provider
from inhouse.providerkit import BudgetSettings
from inhouse.types import Usage
from inhouse_selfhosted import residency as residency_rules
from inhouse_selfhosted.http import ChatCompletions, HttpClient, HttpSettings, HttpUrl


class OpenAICompatibleProvider(Provider):
    """Chat with ``model`` on an OpenAI-compatible server, streamed by default; usage comes
    from the server's final usage chunk (``stream_options.include_usage``)."""

    class Config(HttpSettings, BudgetSettings):
        """``[providers.NAME]`` with ``use = "openai-compatible"``."""

        base_url: HttpUrl = Field(description="the API root, with its /v1: http://vllm:8000/v1")
        residency: residency_rules.Declared | None = Field(
            None, description="where text goes; default: self-hosted on loopback or a private network, else external"
        )
        model: str = Field(description="the served model name sent in each request (vLLM's --served-model-name)")
        stream: bool = Field(True, description="stream the answer (false: one JSON answer)")
        extra_body: dict[str, Any] = Field(
            default_factory=dict, description="merged into each request body last, e.g. {top_p = 0.9, seed = 1}"
        )

    capabilities = frozenset({"text", "stream"})
    context_window = 4096  # a server's limit varies: set context_window in the profile
    preferred_context = 2500
    residency = "self-hosted"  # judged per profile from its address: see inhouse_selfhosted.residency

    def __init__(self, config: PluginConfig | None = None, *, name: str = "", home: Path | None = None):
        super().__init__(config, name=name, home=home)
        cfg = self.config
        self.residency, self.residency_note = residency_rules.judge(cfg.base_url, cfg.residency)  # type: ignore[assignment]
        self.http = HttpClient(cfg.base_url, cfg, f"{cfg.model} at {cfg.base_url}", name or None)
        self.chat = ChatCompletions(
            self.http, cfg.model, stream=cfg.stream, extra_body=cfg.extra_body, count_tokens=self.count_tokens
        )

    @property
    def model_id(self) -> str:
        """The configured model name."""
        return self.config.model

    def generate(self, prompt: Prompt) -> Iterator[str | Usage | Artifact]:
        """Stream the reply; failures before the first token are retried (``max_attempts``).
        A model name the server does not know is reported with the names it serves."""
        try:
            yield from self.chat.generate(prompt)
        except ProviderError as exc:
            if exc.code != "not-found":
                raise
            served = self._served_models()
            hint = f"; the server serves: {', '.join(served)}" if served else ""
            raise ProviderError(f"{exc}{hint}", retryable=exc.retryable, provider=exc.provider, code=exc.code) from exc

    def check(self) -> str:
        """The server answers ``GET /models`` and serves ``model``; raises an ``InhouseError``
        saying what is wrong otherwise (unreachable, not ready, refused key, unknown model)."""
        try:
            served = _model_ids(self.http.get("/models"))
        except ProviderError as exc:
            if exc.code != "not-found":
                raise
            return f"{self.config.model} on {self.config.base_url}: reachable (it lists no /models)"
        if served and self.config.model not in served:
            raise InhouseError(
                f"{self.http.label}: the server does not serve '{self.config.model}' "
                f"(it serves: {', '.join(served)}); set model to one of them"
            )
        return f"{self.config.model} on {self.config.base_url}: ready"

    def _served_models(self) -> list[str]:
        """The model ids ``GET /models`` lists, or [] when they cannot be had."""
        try:
            return _model_ids(self.http.get("/models"))
        except ProviderError:
            return []

    def warm_up(self) -> None:
        """Build the HTTP client."""
        _ = self.http.client

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()


def _model_ids(response: httpx.Response) -> list[str]:
    """The ids of an OpenAI ``/models`` listing ([] for anything else)."""
    try:
        return [str(model["id"]) for model in response.json()["data"]]
    except (ValueError, KeyError, TypeError):
        return []
