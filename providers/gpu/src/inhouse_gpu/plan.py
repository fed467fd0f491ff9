"""The inference memory plan: how many bytes a model needs, and which GPUs/instances hold it.

Formulas (b = bytes per element of the activation dtype: bf16/fp16 2, fp32 4):

- weights = params × b. Quantized, the linear layers take ``q`` bytes per parameter and the
  embeddings, lm_head and norms stay in the activation dtype (bitsandbytes, GPTQ and AWQ all
  leave them unquantized): int8 q = 1 (per-output-channel fp16 scales, < 0.1 %, ignored);
  int4 q = 0.5 + 2.5/128 (4-bit weights plus, per group of 128, an fp16 scale and a 4-bit zero).
- KV cache per token = 2 (K and V) × layers × kv_heads × head_dim × b. The cache stays in the
  activation dtype when the weights are quantized.
- KV cache = per token × context × batch.
- activations: the peak of one forward pass over ``prefill_tokens`` tokens (default
  batch × context: the whole batch prefilled at once), with logits for every position as
  a plain transformers forward computes them. Per token, in elements, the largest of
    MLP phase   (3 + norms)·H if attention and MLP run in parallel (Falcon), else 4·H
                (embedding output, layer input, norm output(s), attention output or residual)
                + (3 if gated else 2) × I × experts_per_token / tp (MLP up/gate/activation)
    attention   3·H + (q + 2·kv) + 3·q  (fused QKV output, rotary copies, SDPA output)
    logits      H + V                   (final norm output and the logits)
  with q = heads × head_dim / tp and kv = ⌈kv_heads / tp⌉ × head_dim, then × tokens × b.
  bench/gpu_check.py compares weights + KV + activations with ``torch.cuda.max_memory_allocated()``.
  Serving engines (TGI, vLLM) compute logits for the last position only and prefill in
  chunks of ``--max-batch-prefill-tokens``, so for them this is an upper bound.
- overhead per GPU = fixed (CUDA context, cuBLAS/NCCL workspaces) + fraction × (KV + activations)
  (caching-allocator fragmentation). ``max_memory_allocated`` counts neither.
- tensor parallelism over n GPUs: each rank holds weights / n, KV of ⌈kv_heads / n⌉ heads
  (KV heads are replicated when there are fewer than n, as vLLM does), activations as above,
  and the overhead; it fits if that is ≤ GPU memory × utilisation. n must divide the number
  of attention heads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from inhouse_gpu.architectures import Architecture, GpuPlanError, ceil_div
from inhouse_gpu.hardware import GPUS, INSTANCES, PRICE_NOTE, GiB, Gpu, format_bytes, get_gpu, smallest_instance
from inhouse_gpu.launch import render_launch

DTYPE_BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}
INT4_GROUP_SIZE = 128
QUANTIZED_BYTES_PER_PARAM = {"int8": 1.0, "int4": 0.5 + (2 + 0.5) / INT4_GROUP_SIZE}
TP_DEGREES = (1, 2, 4, 8)


@dataclass(frozen=True)
class Overhead:
    """Memory a GPU needs beyond weights, KV cache and activations.

    ``fixed_bytes``: CUDA context, cuBLAS and NCCL workspaces (about 0.5–1 GiB per process).
    ``fraction``: caching-allocator fragmentation, as a share of KV cache + activations.
    """

    fixed_bytes: int = 1 * GiB
    fraction: float = 0.10

    def bytes(self, dynamic_bytes: float) -> int:
        """The overhead on top of ``dynamic_bytes`` of KV cache and activations."""
        return int(self.fixed_bytes + self.fraction * dynamic_bytes)


def weights_bytes(arch: Architecture, dtype: str, quantize: str | None) -> int:
    """Bytes of the weights in ``dtype``, or with the linear layers quantized."""
    b = DTYPE_BYTES[dtype]
    if quantize is None:
        return arch.param_count() * b
    kept = arch.embedding_params() + arch.norm_params()
    return int((arch.param_count() - kept) * QUANTIZED_BYTES_PER_PARAM[quantize] + kept * b)


def layer_elements_per_token(arch: Architecture, tp: int = 1) -> int:
    """Elements per token alive at a decoder layer's peak on one of ``tp`` ranks: max(MLP, attention)."""
    h = arch.hidden_size
    q = arch.q_dim // tp
    kv = ceil_div(arch.num_kv_heads, tp) * arch.head_dim
    mlp_width = arch.intermediate_size * arch.experts_per_token // tp
    held = (3 + arch.norms_per_layer) * h if arch.parallel_attn else 4 * h
    mlp = held + (3 if arch.gated_mlp else 2) * mlp_width
    attention = 3 * h + (q + 2 * kv) + 3 * q
    return max(mlp, attention)


def activation_elements_per_token(arch: Architecture, tp: int = 1) -> int:
    """Elements per token alive at the peak of a forward pass: max(layer peak, logits H + V) (module docstring)."""
    return max(layer_elements_per_token(arch, tp), arch.hidden_size + arch.vocab_size)


@dataclass(frozen=True)
class Option:
    """One way to serve the plan: ``gpu_count`` GPUs of one kind, tensor-parallel, on ``instance``.

    ``free_bytes_per_gpu`` is the budget (memory × utilisation) minus what a rank needs:
    negative when it does not fit. ``max_context_tokens`` is how many tokens of KV cache
    (summed over the batch) the budget holds after weights, activations and overhead.
    """

    gpu: str
    gpu_name: str
    gpu_count: int
    instance: str | None
    instance_gpu_count: int | None
    sagemaker_instance: str | None
    instances: tuple[str, ...]
    fits: bool
    reason: str
    weights_bytes_per_gpu: int
    kv_cache_bytes_per_gpu: int
    activation_bytes_per_gpu: int
    overhead_bytes_per_gpu: int
    need_bytes_per_gpu: int
    budget_bytes_per_gpu: int
    free_bytes_per_gpu: int
    max_context_tokens: int
    hourly_usd: float | None

    def to_dict(self) -> dict[str, Any]:
        """Plain values for ``--json``."""
        return {name: getattr(self, name) for name in self.__dataclass_fields__} | {"instances": list(self.instances)}


@dataclass(frozen=True)
class Plan:
    """What a model needs for inference, and the options that hold it (see the module docstring)."""

    arch: Architecture
    dtype: str
    quantize: str | None
    context: int
    batch: int
    prefill_tokens: int
    utilisation: float
    overhead: Overhead
    params: int
    weights_bytes: int
    kv_cache_bytes_per_token: int
    kv_cache_bytes: int
    activation_bytes: int
    overhead_bytes: int
    total_bytes: int
    options: tuple[Option, ...]
    assumptions: tuple[str, ...] = ()

    def option(self, gpu: str, gpu_count: int) -> Option:
        """The option for ``gpu_count`` GPUs of key ``gpu``."""
        for option in self.options:
            if option.gpu == gpu and option.gpu_count == gpu_count:
                return option
        raise GpuPlanError(
            f"no option for {gpu_count} × {gpu}: GPUs {sorted({o.gpu for o in self.options})}, counts {TP_DEGREES}"
        )

    def smallest_fits(self) -> list[Option]:
        """For each GPU, the option with the fewest GPUs that fits (GPUs where nothing fits are left out)."""
        best: dict[str, Option] = {}
        for option in self.options:
            if option.fits and option.gpu not in best:
                best[option.gpu] = option
        return list(best.values())

    def recommended(self) -> Option | None:
        """The cheapest priced option among :meth:`smallest_fits`, else the first that fits on an instance."""
        fits = [o for o in self.smallest_fits() if o.instance]
        priced = [o for o in fits if o.hourly_usd is not None]
        if priced:
            return min(priced, key=lambda o: o.hourly_usd or 0.0)
        return fits[0] if fits else None

    def to_dict(self) -> dict[str, Any]:
        """Plain values for ``--json``."""
        recommended = self.recommended()
        return {
            "model": self.arch.name,
            "source": self.arch.source,
            "dtype": self.dtype,
            "quantize": self.quantize,
            "context": self.context,
            "batch": self.batch,
            "prefill_tokens": self.prefill_tokens,
            "utilisation": self.utilisation,
            "overhead": {"fixed_bytes": self.overhead.fixed_bytes, "fraction": self.overhead.fraction},
            "params": self.params,
            "weights_bytes": self.weights_bytes,
            "kv_cache_bytes_per_token": self.kv_cache_bytes_per_token,
            "kv_cache_bytes": self.kv_cache_bytes,
            "activation_bytes": self.activation_bytes,
            "overhead_bytes": self.overhead_bytes,
            "total_bytes": self.total_bytes,
            "options": [o.to_dict() for o in self.options],
            "recommended": recommended.to_dict() if recommended else None,
            "assumptions": list(self.assumptions),
        }


def _instances_with(gpu: str, count: int) -> tuple[str, ...]:
    return tuple(i.name for i in INSTANCES.values() if i.gpu == gpu and i.gpu_count == count)


def _option(
    arch: Architecture,
    gpu: Gpu,
    tp: int,
    *,
    weights: int,
    dtype_bytes: int,
    context: int,
    batch: int,
    prefill_tokens: int,
    utilisation: float,
    overhead: Overhead,
) -> Option:
    kv_per_token = 2 * arch.num_layers * ceil_div(arch.num_kv_heads, tp) * arch.head_dim * dtype_bytes
    weights_rank = ceil_div(weights, tp)
    kv_rank = kv_per_token * context * batch
    act_rank = activation_elements_per_token(arch, tp) * prefill_tokens * dtype_bytes
    overhead_rank = overhead.bytes(kv_rank + act_rank)
    need = weights_rank + kv_rank + act_rank + overhead_rank
    budget = int(gpu.memory_bytes * utilisation)
    free = budget - need
    # KV tokens that fit: budget = weights + act + fixed + (1 + fraction) × (act… + kv), solved for kv.
    room = budget - weights_rank - act_rank - overhead.bytes(act_rank)
    max_tokens = max(0, math.floor(room / (kv_per_token * (1 + overhead.fraction))))
    instance = smallest_instance(gpu.key, tp)
    if arch.num_attention_heads % tp:
        fits, reason = False, f"{arch.num_attention_heads} attention heads do not split over {tp} GPUs"
    elif free < 0:
        fits, reason = False, f"needs {format_bytes(need)} per GPU, budget {format_bytes(budget)}"
    else:
        fits, reason = True, f"{format_bytes(free)} spare per GPU"
    return Option(
        gpu=gpu.key,
        gpu_name=gpu.name,
        gpu_count=tp,
        instance=instance.name if instance else None,
        instance_gpu_count=instance.gpu_count if instance else None,
        sagemaker_instance=instance.sagemaker_name if instance else None,
        instances=_instances_with(gpu.key, tp),
        fits=fits,
        reason=reason,
        weights_bytes_per_gpu=weights_rank,
        kv_cache_bytes_per_gpu=kv_rank,
        activation_bytes_per_gpu=act_rank,
        overhead_bytes_per_gpu=overhead_rank,
        need_bytes_per_gpu=need,
        budget_bytes_per_gpu=budget,
        free_bytes_per_gpu=free,
        max_context_tokens=max_tokens,
        hourly_usd=instance.hourly_usd if instance else None,
    )


def plan(
    arch: Architecture,
    dtype: str = "bf16",
    quantize: str | None = None,
    context: int = 2048,
    batch: int = 1,
    overhead: Overhead | None = None,
    utilisation: float = 0.9,
    prefill_tokens: int | None = None,
    gpus: list[str] | None = None,
) -> Plan:
    """The inference memory plan of ``arch`` at ``context`` tokens per sequence × ``batch`` sequences.

    ``prefill_tokens`` is the number of tokens in the largest forward pass (default
    batch × context). ``gpus`` limits the options to these GPU keys (default: every GPU).
    """
    if dtype not in DTYPE_BYTES:
        raise GpuPlanError(f"dtype {dtype!r}: use one of {', '.join(DTYPE_BYTES)}")
    if quantize is not None and quantize not in QUANTIZED_BYTES_PER_PARAM:
        raise GpuPlanError(f"quantize {quantize!r}: use one of {', '.join(QUANTIZED_BYTES_PER_PARAM)} or none")
    if context < 1 or batch < 1:
        raise GpuPlanError(f"context ({context}) and batch ({batch}) must be at least 1")
    if not 0 < utilisation <= 1:
        raise GpuPlanError(f"utilisation {utilisation} must be in (0, 1]")
    overhead = overhead or Overhead()
    prefill = prefill_tokens or context * batch
    b = DTYPE_BYTES[dtype]
    weights = weights_bytes(arch, dtype, quantize)
    kv_per_token = arch.kv_cache_bytes_per_token(b)
    kv = kv_per_token * context * batch
    activations = activation_elements_per_token(arch) * prefill * b
    overhead_total = overhead.bytes(kv + activations)
    chosen = [get_gpu(key) for key in gpus] if gpus else list(GPUS.values())
    options = tuple(
        _option(
            arch,
            gpu,
            tp,
            weights=weights,
            dtype_bytes=b,
            context=context,
            batch=batch,
            prefill_tokens=prefill,
            utilisation=utilisation,
            overhead=overhead,
        )
        for gpu in chosen
        for tp in TP_DEGREES
    )
    assumptions = [
        f"weights = {arch.param_count():,} params × "
        + (
            f"{b} bytes ({dtype})"
            if quantize is None
            else f"{QUANTIZED_BYTES_PER_PARAM[quantize]:.4f} bytes ({quantize}) for linear layers; "
            f"{arch.embedding_params() + arch.norm_params():,} embedding/norm params stay {dtype}"
        ),
        f"KV cache per token = 2 × {arch.num_layers} layers × {arch.num_kv_heads} KV heads × {arch.head_dim} "
        f"head_dim × {b} bytes = {kv_per_token:,} bytes ({arch.attention_kind})",
        f"activations = {prefill:,} tokens in one forward pass × {activation_elements_per_token(arch):,} elements "
        f"× {b} bytes: max(MLP, attention, logits H + V) live at the peak, logits for every position",
        f"overhead = {format_bytes(overhead.fixed_bytes)} per GPU (CUDA context, workspaces) + "
        f"{overhead.fraction:.0%} of KV + activations (allocator fragmentation)",
        f"fits = weights/n + KV/n + activations + overhead ≤ {utilisation:.0%} of GPU memory, per GPU",
        "GPU memory = the marketed 'GB' read as GiB; nvidia-smi shows a little less (A10G: 22.5 GiB with ECC)",
        PRICE_NOTE,
        *arch.notes,
    ]
    if context > arch.max_position_embeddings:
        assumptions.append(
            f"context {context:,} exceeds max_position_embeddings {arch.max_position_embeddings:,}: "
            "servers refuse it unless rope scaling is configured"
        )
    if arch.checkpoint_stores_lm_head:
        assumptions.append(
            f"the checkpoint also stores the tied lm_head ({format_bytes(arch.vocab_size * arch.hidden_size * b)}): "
            "TGI loads it as a separate tensor, transformers and vLLM tie it (counted once here)"
        )
    return Plan(
        arch=arch,
        dtype=dtype,
        quantize=quantize,
        context=context,
        batch=batch,
        prefill_tokens=prefill,
        utilisation=utilisation,
        overhead=overhead,
        params=arch.param_count(),
        weights_bytes=weights,
        kv_cache_bytes_per_token=kv_per_token,
        kv_cache_bytes=kv,
        activation_bytes=activations,
        overhead_bytes=overhead_total,
        total_bytes=weights + kv + activations + overhead_total,
        options=options,
        assumptions=tuple(assumptions),
    )


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def render_plan(p: Plan) -> str:
    """The plan as text: the memory table, the options table, launch arguments, then the assumptions."""
    quant = f", weights {p.quantize}" if p.quantize else ""
    lines = [
        f"{p.arch.name}: {p.params / 1e9:.2f}B params, {p.dtype}{quant}, context {p.context:,} × batch {p.batch}",
        "",
        *_table(
            [
                ["weights", format_bytes(p.weights_bytes)],
                ["KV cache per token", f"{p.kv_cache_bytes_per_token:,} bytes"],
                [f"KV cache ({p.context * p.batch:,} tokens)", format_bytes(p.kv_cache_bytes)],
                [f"activations ({p.prefill_tokens:,}-token forward)", format_bytes(p.activation_bytes)],
                ["overhead (1 GPU)", format_bytes(p.overhead_bytes)],
                ["total (1 GPU)", format_bytes(p.total_bytes)],
            ]
        ),
        "",
    ]
    smallest = {id(o) for o in p.smallest_fits()}
    rows = [["GPU", "n", "instance", "fits", "need/GPU (GB)", "free/GPU (GB)", "max KV tokens", "$/h", ""]]
    for o in p.options:
        rows.append(
            [
                o.gpu,
                str(o.gpu_count),
                o.instance or "-",
                "yes" if o.fits else "no",
                f"{o.need_bytes_per_gpu / 1e9:.1f}",
                f"{o.free_bytes_per_gpu / 1e9:.1f}",
                f"{o.max_context_tokens:,}",
                f"{o.hourly_usd:.2f}" if o.hourly_usd is not None else "-",
                "<- smallest" if id(o) in smallest else ("" if o.fits else o.reason),
            ]
        )
    lines += _table(rows)
    recommended = p.recommended()
    if recommended:
        lines += ["", f"cheapest fit: {recommended.gpu_count} × {recommended.gpu_name} on {recommended.instance}", ""]
        lines.append(render_launch(p, recommended))
    else:
        lines += ["", "nothing fits on one instance: quantize, shorten the context or use pipeline parallelism"]
    lines += ["", "assumptions:", *(f"  - {a}" for a in p.assumptions)]
    return "\n".join(lines)
