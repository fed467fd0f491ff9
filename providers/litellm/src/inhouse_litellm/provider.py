"""``litellm``: chat with any model LiteLLM reaches, streamed, with inhouse's retries and errors."""

from __future__ import annotations

from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator

from inhouse.errors import InhouseError, ProviderError
from inhouse.plugins import Artifact, PluginConfig, Price, Prompt, Provider, Residency
from inhouse.providerkit import (
    Backoff,
    BudgetSettings,
    RetrySettings,
    alternating_turns,
    call_with_retries,
    first_token_stream,
    usage_from,
)
from inhouse.types import Usage
from inhouse_litellm import errors, library

#: ``litellm.completion`` arguments ``params`` and ``secrets`` may not set, and why.
RESERVED = {
    **dict.fromkeys(("model", "messages", "stream", "stream_options"), "inhouse sets it for each request"),
    **dict.fromkeys(("api_key", "api_base", "base_url", "api_version", "timeout"), "use the profile's key of that name"),
    **dict.fromkeys(("extra_headers", "headers"), "use the profile's headers key"),
    **dict.fromkeys(("num_retries", "max_retries"), "inhouse retries itself: use max_attempts"),
    **dict.fromkeys(
        ("callbacks", "success_callback", "failure_callback", "logger_fn", "mock_response"),
        "LiteLLM callbacks send prompts elsewhere and are refused",
    ),
}
UNDECLARED = "LiteLLM cannot tell where a model runs: external unless the profile declares residency"


class LiteLLMProvider(Provider):
    """Chat with ``model`` through ``litellm.completion``, streamed by default.

    ``model`` is LiteLLM's ``provider/model`` (``azure/my-gpt-4o``, ``vertex_ai/gemini-1.5-pro``,
    ``mistral/mistral-large-latest``, ``ollama/llama3``, ``bedrock/anthropic.claude-...``).
    Residency is whatever the profile declares (default ``external``). Failures before the
    first token are retried here (``max_attempts``); LiteLLM's own retries are off. Usage is
    what the provider reports (``stream_options.include_usage``), else estimated with
    LiteLLM's tokenizer for the model.
    """

    class Config(RetrySettings, BudgetSettings):
        """``[providers.NAME]`` with ``use = "litellm"``."""

        model: str = Field(min_length=1, description='LiteLLM\'s "provider/model", e.g. "azure/my-gpt-4o"')
        residency: Residency = Field(
            "external", description="where the model runs (LiteLLM cannot know): local, self-hosted, in-account or external"
        )
        api_base: str | None = Field(None, description="the API root, when not the provider's default (Azure, Ollama, a proxy)")
        api_key: SecretStr | None = Field(None, description='write { env = "NAME" }; default: LiteLLM reads the environment')
        api_version: str | None = Field(None, description="Azure OpenAI's api-version")
        stream: bool = Field(True, description="stream the answer (false: one whole answer)")
        timeout: float = Field(120.0, gt=0, description="seconds LiteLLM waits for the provider")
        headers: dict[str, str] = Field(default_factory=dict, description="extra request headers")
        params: dict[str, Any] = Field(
            default_factory=dict, description="more litellm.completion arguments, last: {aws_region_name = ..., top_p = 0.9}"
        )
        secrets: dict[str, SecretStr] = Field(
            default_factory=dict, description='secret litellm.completion arguments: {vertex_credentials = { env = "NAME" }}'
        )

        @field_validator("api_base")
        @classmethod
        def _http_url(cls, value: str | None) -> str | None:
            if value is not None and not value.startswith(("http://", "https://")):
                raise ValueError(f"{value!r} is not an http:// or https:// URL")
            return value.rstrip("/") if value else value

        @field_validator("params", "secrets")
        @classmethod
        def _not_reserved(cls, value: dict[str, Any]) -> dict[str, Any]:
            for key in value:
                if key in RESERVED:
                    raise ValueError(f"{key} cannot be set here: {RESERVED[key]}")
            return value

        @model_validator(mode="after")
        def _once(self) -> LiteLLMProvider.Config:
            both = sorted(set(self.params) & set(self.secrets))
            if both:
                raise ValueError(f"{', '.join(both)}: set in both params and secrets; keep one")
            return self

    capabilities = frozenset({"text", "stream"})
    residency: Residency = "external"  # what the profile declares: see Config.residency

    def __init__(self, config: PluginConfig | None = None, *, name: str = "", home: Path | None = None):
        super().__init__(config, name=name, home=home)
        cfg = self.config
        self.residency = cfg.residency
        declared = "residency" in cfg.model_fields_set
        self.residency_note = f"declared in the configuration (residency = {cfg.residency!r})" if declared else UNDECLARED
        self.label = f"LiteLLM {cfg.model}"
        self.backoff = Backoff(cfg.backoff_base, cfg.backoff_max)

    @property
    def model_id(self) -> str:
        """The configured model, as LiteLLM names it."""
        return self.config.model

    def request(self, prompt: Prompt) -> dict[str, Any]:
        """The ``litellm.completion`` arguments for ``prompt``, secrets left out (also what the tests inspect)."""
        cfg = self.config
        system = [{"role": "system", "content": prompt.system}] if prompt.system else []
        request: dict[str, Any] = {
            "model": cfg.model,
            "messages": system + alternating_turns(prompt.messages),
            "max_tokens": prompt.max_tokens,
            "temperature": prompt.temperature,
            "stream": cfg.stream,
            "timeout": cfg.timeout,
            "drop_params": True,  # a parameter the provider does not take is left out, not an error
            "num_retries": 0,
            "max_retries": 0,
        }
        stops = [stop for stop in prompt.stop if stop]
        if stops:
            request["stop"] = stops[:4]
        if cfg.stream:
            request["stream_options"] = {"include_usage": True}
        for key in ("api_base", "api_version"):
            if getattr(cfg, key):
                request[key] = getattr(cfg, key)
        if cfg.headers:
            request["extra_headers"] = dict(cfg.headers)
        return {**request, **cfg.params}

    def _arguments(self, prompt: Prompt) -> dict[str, Any]:
        """``request(prompt)`` with the secrets."""
        secrets = {key: value.get_secret_value() for key, value in self.config.secrets.items()}
        if self.config.api_key is not None:
            secrets["api_key"] = self.config.api_key.get_secret_value()
        return {**self.request(prompt), **secrets}

    def _litellm(self) -> Any:
        """LiteLLM, loaded offline; a ``ProviderError`` while any of its callbacks is set."""
        litellm = library.load()
        found = library.callbacks_set(litellm)
        if found:
            raise ProviderError(
                f"{self.label}: {', '.join(found)} is set in this process; inhouse sends no prompt to LiteLLM "
                "callbacks (they forward prompts and answers to logging services): empty them",
                provider=self.name or None,
            )
        return litellm

    def classify(self, exc: Exception) -> tuple[ProviderError, bool]:
        """A LiteLLM exception as (the ``ProviderError`` to raise, whether retrying here may help)."""
        return errors.classify(library.load(), exc, self.label, self.name or None)

    def generate(self, prompt: Prompt) -> Iterator[str | Usage | Artifact]:
        """Yield the answer's text pieces, then one ``Usage``; failures before the first token are
        retried (``max_attempts``), one after it is "the answer broke off mid-stream"."""
        litellm = self._litellm()
        arguments = self._arguments(prompt)
        prompt_text = "".join(message["content"] for message in arguments["messages"])
        attempts = self.config.max_attempts
        if not self.config.stream:
            answer = call_with_retries(lambda: litellm.completion(**arguments), self.classify, attempts, self.backoff)
            text = _text(answer, "message")
            if text:
                yield text
            yield self._usage(getattr(answer, "usage", None), prompt_text, self.count_tokens(text) if text else 0)
            return
        usage, pieces = None, 0
        stream = first_token_stream(
            lambda: litellm.completion(**arguments),
            lambda chunk: bool(_text(chunk, "delta")),
            self.classify,
            max_attempts=attempts,
            backoff=self.backoff,
            provider=self.name or None,
        )
        for chunk in stream:
            text = _text(chunk, "delta")
            if text:
                pieces += 1
                yield text
            usage = getattr(chunk, "usage", None) or usage
        yield self._usage(usage, prompt_text, pieces)

    def _usage(self, reported: Any, prompt_text: str, output_estimate: int) -> Usage:
        """The provider's token counts, or estimates (streamed pieces are about one token each)."""
        return usage_from(
            _count(reported, "prompt_tokens"),
            _count(reported, "completion_tokens"),
            input_estimate=self.count_tokens(prompt_text),
            output_estimate=output_estimate,
        )

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by LiteLLM's tokenizer for the model (its bundled ones: nothing is
        downloaded); the 4-characters estimate if LiteLLM cannot count."""
        try:
            return max(1, int(library.load().token_counter(model=self.config.model, text=text)))
        except Exception:  # LiteLLM's tokenizer choice failed: the budget still needs a number
            return super().count_tokens(text)

    def price(self) -> Price | None:
        """The list price in LiteLLM's bundled cost map, or None for a model it does not list
        (an Azure deployment name, a self-hosted model); ``[prices]`` in the configuration wins."""
        litellm = library.load()
        try:
            info = litellm.get_model_info(model=self.config.model)
        except (litellm.exceptions.ModelNotMappedError, litellm.exceptions.BadRequestError):
            return None
        per_input, per_output = info.get("input_cost_per_token"), info.get("output_cost_per_token")
        if per_input is None and per_output is None:
            return None
        return Price(input=(per_input or 0.0) * 1e6, output=(per_output or 0.0) * 1e6)

    def check(self) -> str:
        """LiteLLM knows the model's provider and no callback is set; says which credentials
        LiteLLM finds missing from the environment (they may come from elsewhere: a role, a file)."""
        cfg = self.config
        try:
            litellm = self._litellm()
        except ProviderError as exc:
            raise InhouseError(str(exc)) from exc
        try:
            _, vendor, _, _ = litellm.get_llm_provider(model=cfg.model, api_base=cfg.api_base)
        except litellm.exceptions.BadRequestError as exc:
            raise InhouseError(
                f"{self.label}: LiteLLM does not know which provider serves {cfg.model!r}; write model as "
                "'provider/model' (azure/..., vertex_ai/..., mistral/..., ollama/..., bedrock/...)"
            ) from exc
        api_key = cfg.api_key.get_secret_value() if cfg.api_key is not None else None
        environment = litellm.validate_environment(
            model=cfg.model, api_key=api_key, api_base=cfg.api_base, api_version=cfg.api_version
        )
        given = {*cfg.params, *cfg.secrets}
        missing = [key for key in environment.get("missing_keys") or [] if key.lower() not in given]
        status = f"{cfg.model} via LiteLLM {metadata.version('litellm')} ({vendor}), residency {self.residency}"
        return status + (f"; not in the environment: {', '.join(missing)}" if missing else "")

    def warm_up(self) -> None:
        """Import LiteLLM (seconds: do it before the first question)."""
        library.load()


def _text(response: Any, part: str) -> str:
    """The text of ``choices[0].message`` (a whole answer) or ``choices[0].delta`` (a chunk), or ""."""
    choices = getattr(response, "choices", None) or [None]
    content = getattr(getattr(choices[0], part, None), "content", None)
    return content if isinstance(content, str) else ""


def _count(usage: Any, key: str) -> int | None:
    """A token count of LiteLLM's ``usage``, if it is a plain non-negative integer."""
    value = getattr(usage, key, None)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
