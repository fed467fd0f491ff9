"""``tgi``: a Hugging Face Text Generation Inference server.

``api = "messages"`` (default) calls TGI's OpenAI-style Messages API, which writes the
conversation with the model's own chat template; ``api = "generate"`` calls the native
``/generate_stream`` with a prompt written here by ``template``, for models without a
chat template (Falcon-instruct) or to control the prompt exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from inhouse.plugins import Artifact, PluginConfig, Prompt, Provider
from inhouse.providerkit import BudgetSettings
from inhouse.types import Usage
from inhouse_selfhosted import residency as residency_rules
from inhouse_selfhosted import templates, tgi_wire
from inhouse_selfhosted.http import ChatCompletions, HttpClient, HttpSettings, HttpUrl


class TGIProvider(Provider):
    """A model served by TGI, streamed. ``model`` only labels it (prices, ledger, cooldowns):
    TGI serves one model, and its Messages API is always sent ``"model": "tgi"`` (another
    name would ask TGI for a LoRA adapter of that name)."""

    class Config(HttpSettings, BudgetSettings):
        """``[providers.NAME]`` with ``use = "tgi"``."""

        url: HttpUrl = Field(description="the server, e.g. http://tgi:8080")
        residency: residency_rules.Declared | None = Field(
            None, description="where text goes; default: self-hosted on loopback or a private network, else external"
        )
        api: Literal["messages", "generate"] = Field(
            "messages", description="messages: /v1/chat/completions (the model's chat template); generate: /generate_stream"
        )
        template: templates.Template = Field(
            "chatml", description='api = "generate": falcon, chatml, llama3 or a format string with {system} {history} {question}'
        )
        model: str = Field("tgi", description="label for the ledger and prices")
        parameters: dict[str, Any] = Field(
            default_factory=dict, description="added to generate's parameters or the Messages body, e.g. {top_p = 0.9}"
        )

    capabilities = frozenset({"text", "stream"})
    context_window = 4096  # a server's limit varies: set context_window in the profile
    preferred_context = 2500
    residency = "self-hosted"  # judged per profile from its address: see inhouse_selfhosted.residency

    def __init__(self, config: PluginConfig | None = None, *, name: str = "", home: Path | None = None):
        super().__init__(config, name=name, home=home)
        cfg = self.config
        self.residency, self.residency_note = residency_rules.judge(cfg.url, cfg.residency)  # type: ignore[assignment]
        self.http = HttpClient(cfg.url, cfg, f"TGI {cfg.url}", name or None)
        self.chat = ChatCompletions(
            self.http, "tgi", path="/v1/chat/completions", extra_body=cfg.parameters, count_tokens=self.count_tokens
        )

    @property
    def model_id(self) -> str:
        """The configured label (default ``tgi``)."""
        return self.config.model

    def request(self, prompt: Prompt) -> dict[str, Any]:
        """The request body for ``prompt`` on the configured API (also what the tests inspect)."""
        if self.config.api == "messages":
            return self.chat.body(prompt)
        inputs = templates.render(self.config.template, prompt)
        stops = templates.stop_sequences(self.config.template, prompt.stop)
        parameters = tgi_wire.parameters(prompt.max_tokens, prompt.temperature, stops)
        return {"inputs": inputs, "parameters": {**parameters, **self.config.parameters}}

    def generate(self, prompt: Prompt) -> Iterator[str | Usage | Artifact]:
        """Stream the reply; failures before the first token are retried (``max_attempts``)."""
        if self.config.api == "messages":
            yield from self.chat.generate(prompt)
            return
        body = self.request(prompt)
        events = self.http.stream("/generate_stream", body, has_text=lambda event: bool(tgi_wire.token_text(event)))
        yield from tgi_wire.stream_answer(events, body["parameters"].get("stop", []), self.count_tokens(body["inputs"]))

    def check(self) -> str:
        """``/health`` answers 200 and ``/info`` names the model; raises ``ProviderError`` (an
        ``InhouseError``) saying the server is unreachable or not ready."""
        self.http.get("/health")
        try:
            info = self.http.get("/info").json()
        except ValueError:
            info = None
        info = info if isinstance(info, dict) else {}
        max_input = info.get("max_input_tokens", info.get("max_input_length", "?"))
        return (
            f"{info.get('model_id', '?')} on {self.config.url}, ready ({self.config.api} API; "
            f"max_input_tokens {max_input}, max_total_tokens {info.get('max_total_tokens', '?')})"
        )

    def warm_up(self) -> None:
        """Build the HTTP client."""
        _ = self.http.client

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()
