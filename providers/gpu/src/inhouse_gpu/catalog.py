"""The built-in table of well-known LLM architectures, and lookup by name or Hub repo id.

Every entry copies the values of the ``config.json`` named in its ``source`` (keys the file
leaves out take the defaults of the transformers config class, e.g. Falcon's
``max_position_embeddings`` = 2048); tests/test_gpu_plan.py checks each computed parameter
count against ``published_params``.
"""

from __future__ import annotations

import dataclasses
import difflib

from inhouse_gpu.architectures import Architecture, GpuPlanError


def _hf(repo: str) -> str:
    return f"https://huggingface.co/{repo}/blob/main/config.json"


_HUB_COUNT = "Hugging Face Hub parameter count (safetensors metadata)"

ARCHITECTURES: dict[str, Architecture] = {
    a.name: a
    for a in (
        Architecture(
            name="falcon-7b",
            model_type="falcon",
            hf_repo="tiiuae/falcon-7b",
            source=_hf("tiiuae/falcon-7b"),
            hidden_size=4544,
            num_layers=32,
            num_attention_heads=71,
            num_kv_heads=1,
            head_dim=64,
            intermediate_size=4 * 4544,
            vocab_size=65024,
            tie_word_embeddings=True,
            max_position_embeddings=2048,
            parallel_attn=True,
            gated_mlp=False,
            norms_per_layer=1,
            norm_bias=True,
            published_params=7_220_000_000,
            checkpoint_stores_lm_head=True,
            published_params_source=f"{_HUB_COUNT}: 7.22B (6.92B distinct + the stored copy of the tied lm_head)",
            notes=(
                "multi_query=true: one KV head shared by all 71 query heads (MQA)",
                "71 attention heads is prime: tensor parallelism (TGI --num-shard > 1) is impossible",
            ),
        ),
        Architecture(
            name="falcon-40b",
            model_type="falcon",
            hf_repo="tiiuae/falcon-40b",
            source=_hf("tiiuae/falcon-40b"),
            hidden_size=8192,
            num_layers=60,
            num_attention_heads=128,
            num_kv_heads=8,
            head_dim=64,
            intermediate_size=4 * 8192,
            vocab_size=65024,
            tie_word_embeddings=True,
            max_position_embeddings=2048,
            parallel_attn=True,
            gated_mlp=False,
            norms_per_layer=2,
            norm_bias=True,
            published_params=41_800_000_000,
            checkpoint_stores_lm_head=True,
            published_params_source=f"{_HUB_COUNT}: 41.8B (41.3B distinct + the stored copy of the tied lm_head)",
            aliases=("falcon-40b-instruct",),
            notes=(
                "new_decoder_architecture=true, n_head_kv=8: 8 KV groups, separate ln_attn/ln_mlp",
                "transformers' Falcon code broadcasts K/V to all 128 heads before caching; TGI and vLLM cache 8",
            ),
        ),
        Architecture(
            name="falcon-180b",
            model_type="falcon",
            hf_repo="tiiuae/falcon-180B",
            source=_hf("tiiuae/falcon-180B"),
            hidden_size=14848,
            num_layers=80,
            num_attention_heads=232,
            num_kv_heads=8,
            head_dim=64,
            intermediate_size=4 * 14848,
            vocab_size=65024,
            tie_word_embeddings=True,
            max_position_embeddings=2048,
            parallel_attn=True,
            gated_mlp=False,
            norms_per_layer=2,
            norm_bias=True,
            published_params=180_000_000_000,
            checkpoint_stores_lm_head=True,
            published_params_source="model card: 180B",
            notes=("new_decoder_architecture=true, num_kv_heads=8",),
        ),
        Architecture(
            name="llama-3-8b",
            model_type="llama",
            hf_repo="meta-llama/Meta-Llama-3-8B",
            source=_hf("meta-llama/Meta-Llama-3-8B"),
            hidden_size=4096,
            num_layers=32,
            num_attention_heads=32,
            num_kv_heads=8,
            head_dim=128,
            intermediate_size=14336,
            vocab_size=128256,
            tie_word_embeddings=False,
            max_position_embeddings=8192,
            published_params=8_030_000_000,
            published_params_source=f"{_HUB_COUNT}: 8.03B",
        ),
        Architecture(
            name="llama-3-70b",
            model_type="llama",
            hf_repo="meta-llama/Meta-Llama-3-70B",
            source=_hf("meta-llama/Meta-Llama-3-70B"),
            hidden_size=8192,
            num_layers=80,
            num_attention_heads=64,
            num_kv_heads=8,
            head_dim=128,
            intermediate_size=28672,
            vocab_size=128256,
            tie_word_embeddings=False,
            max_position_embeddings=8192,
            published_params=70_600_000_000,
            published_params_source=f"{_HUB_COUNT}: 70.6B",
        ),
        Architecture(
            name="llama-3.1-405b",
            model_type="llama",
            hf_repo="meta-llama/Llama-3.1-405B",
            source=_hf("meta-llama/Llama-3.1-405B"),
            hidden_size=16384,
            num_layers=126,
            num_attention_heads=128,
            num_kv_heads=8,
            head_dim=128,
            intermediate_size=53248,
            vocab_size=128256,
            tie_word_embeddings=False,
            max_position_embeddings=131072,
            published_params=405_000_000_000,
            published_params_source="model card: 405B",
        ),
        Architecture(
            name="mistral-7b-v0.1",
            model_type="mistral",
            hf_repo="mistralai/Mistral-7B-v0.1",
            source=_hf("mistralai/Mistral-7B-v0.1"),
            hidden_size=4096,
            num_layers=32,
            num_attention_heads=32,
            num_kv_heads=8,
            head_dim=128,
            intermediate_size=14336,
            vocab_size=32000,
            tie_word_embeddings=False,
            max_position_embeddings=32768,
            published_params=7_240_000_000,
            published_params_source=f"{_HUB_COUNT}: 7.24B",
            notes=(
                "sliding_window=4096: engines that implement it keep at most 4096 tokens of KV per layer; "
                "the planner does not, so its KV figure is an upper bound beyond 4096 tokens",
            ),
        ),
        Architecture(
            name="mistral-7b-v0.3",
            model_type="mistral",
            hf_repo="mistralai/Mistral-7B-v0.3",
            source=_hf("mistralai/Mistral-7B-v0.3"),
            hidden_size=4096,
            num_layers=32,
            num_attention_heads=32,
            num_kv_heads=8,
            head_dim=128,
            intermediate_size=14336,
            vocab_size=32768,
            tie_word_embeddings=False,
            max_position_embeddings=32768,
            published_params=7_250_000_000,
            published_params_source=f"{_HUB_COUNT}: 7.25B",
        ),
        Architecture(
            name="mixtral-8x7b",
            model_type="mixtral",
            hf_repo="mistralai/Mixtral-8x7B-v0.1",
            source=_hf("mistralai/Mixtral-8x7B-v0.1"),
            hidden_size=4096,
            num_layers=32,
            num_attention_heads=32,
            num_kv_heads=8,
            head_dim=128,
            intermediate_size=14336,
            vocab_size=32000,
            tie_word_embeddings=False,
            max_position_embeddings=32768,
            num_experts=8,
            experts_per_token=2,
            published_params=46_700_000_000,
            published_params_source="Mistral AI announcement: 46.7B total, 12.9B active per token",
            aliases=("mixtral-8x7b-v0.1",),
            notes=("memory holds all 8 experts (total parameters); FLOPs use the 2 active experts",),
        ),
        Architecture(
            name="qwen2.5-7b",
            model_type="qwen2",
            hf_repo="Qwen/Qwen2.5-7B-Instruct",
            source=_hf("Qwen/Qwen2.5-7B-Instruct"),
            hidden_size=3584,
            num_layers=28,
            num_attention_heads=28,
            num_kv_heads=4,
            head_dim=128,
            intermediate_size=18944,
            vocab_size=152064,
            tie_word_embeddings=False,
            max_position_embeddings=32768,
            qkv_bias=True,
            published_params=7_610_000_000,
            published_params_source="model card: 7.61B",
            notes=(
                "the base model's config.json says max_position_embeddings=131072; "
                "the Instruct model's 32768 is used (longer needs YaRN rope scaling)",
            ),
        ),
        Architecture(
            name="qwen2.5-72b",
            model_type="qwen2",
            hf_repo="Qwen/Qwen2.5-72B-Instruct",
            source=_hf("Qwen/Qwen2.5-72B-Instruct"),
            hidden_size=8192,
            num_layers=80,
            num_attention_heads=64,
            num_kv_heads=8,
            head_dim=128,
            intermediate_size=29568,
            vocab_size=152064,
            tie_word_embeddings=False,
            max_position_embeddings=32768,
            qkv_bias=True,
            published_params=72_700_000_000,
            published_params_source="model card: 72.7B",
        ),
        Architecture(
            name="gemma-2-9b",
            model_type="gemma2",
            hf_repo="google/gemma-2-9b-it",
            source=_hf("google/gemma-2-9b"),
            hidden_size=3584,
            num_layers=42,
            num_attention_heads=16,
            num_kv_heads=8,
            head_dim=256,
            intermediate_size=14336,
            vocab_size=256000,
            tie_word_embeddings=True,
            max_position_embeddings=8192,
            norms_per_layer=4,
            published_params=9_240_000_000,
            published_params_source=f"{_HUB_COUNT}: 9.24B",
            notes=("every other layer uses a 4096-token sliding window; the planner caches every layer in full",),
        ),
        Architecture(
            name="gemma-2-27b",
            model_type="gemma2",
            hf_repo="google/gemma-2-27b-it",
            source=_hf("google/gemma-2-27b"),
            hidden_size=4608,
            num_layers=46,
            num_attention_heads=32,
            num_kv_heads=16,
            head_dim=128,
            intermediate_size=36864,
            vocab_size=256000,
            tie_word_embeddings=True,
            max_position_embeddings=8192,
            norms_per_layer=4,
            published_params=27_200_000_000,
            published_params_source=f"{_HUB_COUNT}: 27.2B",
            notes=("every other layer uses a 4096-token sliding window; the planner caches every layer in full",),
        ),
        Architecture(
            name="phi-3-mini-4k",
            model_type="phi3",
            hf_repo="microsoft/Phi-3-mini-4k-instruct",
            source=_hf("microsoft/Phi-3-mini-4k-instruct"),
            hidden_size=3072,
            num_layers=32,
            num_attention_heads=32,
            num_kv_heads=32,
            head_dim=96,
            intermediate_size=8192,
            vocab_size=32064,
            tie_word_embeddings=False,
            max_position_embeddings=4096,
            published_params=3_820_000_000,
            published_params_source=f"{_HUB_COUNT}: 3.82B",
            aliases=("phi-3-mini",),
        ),
    )
}

_IGNORED_NAME_PARTS = {"instruct", "chat", "it", "hf", "base"}


def _normalise(name: str) -> str:
    """``meta-llama/Meta-Llama-3-8B-Instruct`` → ``llama-3-8b``: no org, no "meta-", no instruct/chat/it."""
    short = name.strip().lower().replace("_", "-").rsplit("/", 1)[-1].removeprefix("meta-")
    return "-".join(part for part in short.split("-") if part not in _IGNORED_NAME_PARTS)


def _index() -> dict[str, Architecture]:
    index: dict[str, Architecture] = {}
    for arch in ARCHITECTURES.values():
        for key in (arch.name, arch.hf_repo, *arch.aliases):
            index[_normalise(key)] = arch
    return index


def get_architecture(name: str) -> Architecture:
    """The table entry for a model name or Hub repo id (``falcon-40b-instruct``, ``tiiuae/falcon-40b``…).

    A Hub repo id (with a ``/``) becomes the entry's ``hf_repo``, so launch settings load the
    repo asked for (``meta-llama/Meta-Llama-3-8B-Instruct`` rather than the base model).
    Raises :class:`GpuPlanError` listing the known names, with the closest ones first.
    """
    index = _index()
    arch = index.get(_normalise(name))
    if arch is not None:
        if "/" in name:
            return dataclasses.replace(arch, hf_repo=name.strip())
        org, base = arch.hf_repo.rsplit("/", 1)
        if name.strip().lower() == f"{base}-instruct".lower():  # falcon-40b-instruct -> tiiuae/falcon-40b-instruct
            return dataclasses.replace(arch, hf_repo=f"{org}/{base}-instruct")
        return arch
    close = difflib.get_close_matches(_normalise(name), list(ARCHITECTURES), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise GpuPlanError(
        f"unknown model {name!r}: {hint}known models: {', '.join(ARCHITECTURES)}; or pass the model's config.json (--config)"
    )
