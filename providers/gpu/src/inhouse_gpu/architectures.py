"""Model architectures: the shapes that decide memory, read from any ``config.json``.

:meth:`Architecture.param_count` computes the parameter count from the shapes alone; the
built-in table of well-known models is :mod:`inhouse_gpu.catalog`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inhouse.errors import InhouseError


class GpuPlanError(InhouseError):
    """An unknown model, GPU or instance name, an impossible request, or an unreadable config.json."""


@dataclass(frozen=True)
class Architecture:
    """The shapes of a decoder-only transformer that decide its memory and compute.

    ``num_experts`` is 1 for a dense model; a mixture-of-experts layer holds ``num_experts``
    MLPs of ``intermediate_size`` and runs ``experts_per_token`` of them per token.
    ``norms_per_layer`` counts hidden-sized norm vectors per layer (Falcon-7B's shared
    LayerNorm: 1; Llama: 2; Gemma 2: 4); ``norm_bias`` is True for LayerNorm (weight + bias).
    ``checkpoint_stores_lm_head`` is True where the checkpoint files keep ``lm_head.weight``
    although the model ties it to the input embedding at load time (Falcon): the Hub's
    parameter count then includes it once more.
    """

    name: str
    model_type: str
    hf_repo: str
    source: str
    hidden_size: int
    num_layers: int
    num_attention_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool
    max_position_embeddings: int
    num_experts: int = 1
    experts_per_token: int = 1
    parallel_attn: bool = False
    gated_mlp: bool = True
    qkv_bias: bool = False
    linear_bias: bool = False
    norms_per_layer: int = 2
    norm_bias: bool = False
    published_params: int | None = None
    published_params_source: str = ""
    checkpoint_stores_lm_head: bool = False
    aliases: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def q_dim(self) -> int:
        """Width of the query projection: heads × head_dim (not always hidden_size: Gemma 2 9B)."""
        return self.num_attention_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        """Width of each of the key and value projections: kv_heads × head_dim."""
        return self.num_kv_heads * self.head_dim

    @property
    def is_moe(self) -> bool:
        """True for a mixture-of-experts model."""
        return self.num_experts > 1

    @property
    def attention_kind(self) -> str:
        """MHA (one KV head per query head), MQA (one KV head) or GQA (groups in between)."""
        if self.num_kv_heads == self.num_attention_heads:
            return "MHA"
        return "MQA" if self.num_kv_heads == 1 else "GQA"

    def attention_params_per_layer(self) -> int:
        """q, k, v and output projections (+ biases where the model has them)."""
        h = self.hidden_size
        params = h * (self.q_dim + 2 * self.kv_dim) + self.q_dim * h
        if self.qkv_bias or self.linear_bias:
            params += self.q_dim + 2 * self.kv_dim
        if self.linear_bias:
            params += h
        return params

    def mlp_params_per_expert(self) -> int:
        """One MLP: gate+up+down (gated, SwiGLU/GeGLU) or up+down (Falcon's GELU MLP)."""
        h, i = self.hidden_size, self.intermediate_size
        matrices = 3 if self.gated_mlp else 2
        params = matrices * h * i
        if self.linear_bias:
            params += (matrices - 1) * i + h
        return params

    def norm_params(self) -> int:
        """Every norm vector: ``norms_per_layer`` per layer plus the final norm."""
        per_norm = self.hidden_size * (2 if self.norm_bias else 1)
        return per_norm * (self.norms_per_layer * self.num_layers + 1)

    def embedding_params(self) -> int:
        """Input embedding, plus the output head (lm_head) when it is not tied to it."""
        embed = self.vocab_size * self.hidden_size
        return embed if self.tie_word_embeddings else 2 * embed

    def _params(self, experts: int) -> int:
        router = self.hidden_size * self.num_experts if self.is_moe else 0
        per_layer = self.attention_params_per_layer() + experts * self.mlp_params_per_expert() + router
        return self.num_layers * per_layer + self.norm_params() + self.embedding_params()

    def param_count(self) -> int:
        """Distinct parameters held in memory (a tied lm_head counted once; every expert)."""
        return self._params(self.num_experts)

    def active_param_count(self) -> int:
        """Parameters one token runs through (``experts_per_token`` experts): the FLOPs count."""
        return self._params(self.experts_per_token)

    def checkpoint_param_count(self) -> int:
        """Parameters as stored in the checkpoint files (what the Hugging Face Hub reports)."""
        extra = self.vocab_size * self.hidden_size if self.checkpoint_stores_lm_head else 0
        return self.param_count() + extra

    def kv_cache_bytes_per_token(self, dtype_bytes: float) -> int:
        """2 (K and V) × layers × kv_heads × head_dim × bytes: the cache one token adds."""
        return int(2 * self.num_layers * self.num_kv_heads * self.head_dim * dtype_bytes)

    def to_config_dict(self) -> dict[str, Any]:
        """The Hugging Face ``config.json`` keys of this shape (Falcon's own keys for Falcon).

        :func:`from_config_dict` reads it back to the same shape.
        """
        common: dict[str, Any] = {
            "model_type": self.model_type,
            "hidden_size": self.hidden_size,
            "num_hidden_layers": self.num_layers,
            "num_attention_heads": self.num_attention_heads,
            "vocab_size": self.vocab_size,
            "tie_word_embeddings": self.tie_word_embeddings,
            "max_position_embeddings": self.max_position_embeddings,
        }
        if self.model_type == "falcon":
            new_decoder = self.parallel_attn and self.num_kv_heads != 1
            falcon = {
                "num_kv_heads": self.num_kv_heads,
                "multi_query": self.num_kv_heads == 1,
                "new_decoder_architecture": new_decoder,
                "parallel_attn": self.parallel_attn,
                "bias": self.linear_bias,
                "ffn_hidden_size": self.intermediate_size,
            }
            if new_decoder:
                falcon["num_ln_in_parallel_attn"] = self.norms_per_layer
            return common | falcon
        rest: dict[str, Any] = {
            "num_key_value_heads": self.num_kv_heads,
            "head_dim": self.head_dim,
            "intermediate_size": self.intermediate_size,
        }
        if self.is_moe:
            rest |= {"num_local_experts": self.num_experts, "num_experts_per_tok": self.experts_per_token}
        if self.qkv_bias and self.model_type not in _QKV_BIAS_TYPES:
            rest["attention_bias"] = True
        return common | rest


# How the transformers classes differ where config.json does not say it.
_FALCON_TYPES = {"falcon", "refinedweb", "refinedwebmodel"}
_UNGATED_TYPES = _FALCON_TYPES | {"gpt2", "gpt_neox", "gptj", "phi", "bloom", "opt", "gpt_bigcode", "starcoder2", "mpt"}
_GATED_TYPES = {"llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "gemma", "gemma2", "gemma3_text", "phi3"}
_QKV_BIAS_TYPES = {"qwen2", "qwen2_moe"}
_FOUR_NORM_TYPES = {"gemma2", "gemma3_text"}


class _Keys:
    """Looks keys up in a config dict; a missing required key is an error that names it."""

    def __init__(self, config: dict[str, Any], source: str):
        self.config = config
        self.source = source

    def get(self, *keys: str, default: Any = None) -> Any:
        for key in keys:
            if self.config.get(key) is not None:
                return self.config[key]
        return default

    def need(self, *keys: str) -> Any:
        value = self.get(*keys)
        if value is None:
            also = f" (also looked for {', '.join(repr(k) for k in keys[1:])})" if len(keys) > 1 else ""
            raise GpuPlanError(f"{self.source}: config.json has no {keys[0]!r}{also}")
        return value


def from_config_dict(config: dict[str, Any], *, name: str, source: str, model_id: str | None = None) -> Architecture:
    """The shape described by a Hugging Face config dict (Llama/Mistral/Qwen/Gemma/Phi-3 or Falcon keys).

    Keys a config may leave out take the transformers defaults (``tie_word_embeddings``:
    true; Falcon: ``multi_query`` true, ``parallel_attn`` true, ``ffn_hidden_size`` 4 × hidden,
    ``max_position_embeddings`` 2048). A missing key without a default raises
    :class:`GpuPlanError` naming it. ``model_id`` (what a server loads: a Hub repo id or a
    folder) defaults to the config's ``_name_or_path``, else ``name``.
    """
    if "text_config" in config and "hidden_size" not in config:
        config = {**config, **config["text_config"]}
    keys = _Keys(config, source)
    model_type = str(keys.get("model_type", default="")).lower()
    architectures = keys.get("architectures", default=[])
    falcon = model_type in _FALCON_TYPES or any(str(a).startswith(("Falcon", "RW")) for a in architectures)
    hidden = int(keys.need("hidden_size", "n_embd", "n_embed", "d_model"))
    heads = int(keys.need("num_attention_heads", "n_head", "num_heads"))
    layers = int(keys.need("num_hidden_layers", "n_layer", "num_layers"))
    vocab = int(keys.need("vocab_size"))
    notes: list[str] = []
    if falcon:
        model_type = "falcon"
        new_decoder = bool(keys.get("new_decoder_architecture", default=False))
        parallel = bool(keys.get("parallel_attn", default=True))
        if new_decoder:
            kv_heads = int(keys.get("num_kv_heads", "n_head_kv", "num_key_value_heads", default=heads))
            norms = int(keys.get("num_ln_in_parallel_attn", default=2))
        else:
            kv_heads = 1 if keys.get("multi_query", default=True) else heads
            norms = 1 if parallel else 2
        intermediate = int(keys.get("ffn_hidden_size", default=4 * hidden))
        max_positions = int(keys.get("max_position_embeddings", default=2048))
        bias = bool(keys.get("bias", default=False))
        gated, qkv_bias, norm_bias = False, bias, True
    else:
        kv_heads = int(keys.get("num_key_value_heads", "num_kv_heads", default=heads))
        parallel = bool(keys.get("parallel_attn", default=False))
        intermediate = int(keys.need("intermediate_size", "ffn_hidden_size", "n_inner"))
        max_positions = int(keys.need("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"))
        norms = 4 if model_type in _FOUR_NORM_TYPES else 2
        gated = model_type not in _UNGATED_TYPES
        if model_type not in _GATED_TYPES | _UNGATED_TYPES:
            notes.append(
                f"model_type {model_type!r} is not known to the planner: assumed Llama-like (gated MLP, RMSNorm, no biases)"
            )
        bias = False
        qkv_bias = model_type in _QKV_BIAS_TYPES or bool(keys.get("attention_bias", default=False))
        norm_bias = False
    experts = int(keys.get("num_local_experts", "num_experts", default=1))
    per_token = int(keys.need("num_experts_per_tok", "num_experts_per_token", "moe_top_k")) if experts > 1 else 1
    return Architecture(
        name=name,
        model_type=model_type,
        hf_repo=model_id or str(keys.get("_name_or_path", default=name)),
        source=source,
        hidden_size=hidden,
        num_layers=layers,
        num_attention_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=int(keys.get("head_dim", default=hidden // heads)),
        intermediate_size=intermediate,
        vocab_size=vocab,
        tie_word_embeddings=bool(keys.get("tie_word_embeddings", default=True)),
        max_position_embeddings=max_positions,
        num_experts=experts,
        experts_per_token=per_token,
        parallel_attn=parallel,
        gated_mlp=gated,
        qkv_bias=qkv_bias,
        linear_bias=bias,
        norms_per_layer=norms,
        norm_bias=norm_bias,
        notes=tuple(notes),
    )


def from_config_json(path: str | Path) -> Architecture:
    """Read a Hugging Face ``config.json`` (a file, or a model folder holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GpuPlanError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise GpuPlanError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise GpuPlanError(f"{path}: a config.json holds a JSON object, not {type(config).__name__}")
    name = str(config.get("_name_or_path") or path.parent.name or path.stem)
    model_id = str(config.get("_name_or_path") or path.parent)
    return from_config_dict(config, name=name, source=str(path), model_id=model_id)


def ceil_div(a: int, b: int) -> int:
    """⌈a / b⌉ for positive integers."""
    return -(-a // b)


__all__ = [
    "Architecture",
    "GpuPlanError",
    "ceil_div",
    "from_config_dict",
    "from_config_json",
]
