"""The fine-tuning plan: FLOPs, time, cost, memory per GPU, and communication against compute per step.

Every figure's formula and assumptions are listed in ``TrainPlan.assumptions`` and printed
under the table by :func:`render_train_plan`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inhouse_gpu.architectures import Architecture, GpuPlanError, ceil_div
from inhouse_gpu.hardware import PRICE_NOTE, Gpu, format_bytes, get_gpu, smallest_instance
from inhouse_gpu.plan import layer_elements_per_token

BF16 = 2
FP32 = 4
ADAM_BYTES = 12  # fp32 master weights + Adam m + Adam v, per trainable parameter
GPUS_PER_NODE = 8
MEMORY_UTILISATION = 0.9


@dataclass(frozen=True)
class TrainMemory:
    """Bytes per GPU for one way of placing the training state."""

    weights: int
    gradients: int
    optimizer: int
    activations: int

    @property
    def total(self) -> int:
        """Everything on one GPU."""
        return self.weights + self.gradients + self.optimizer + self.activations

    def to_dict(self) -> dict[str, int]:
        """Plain values for ``--json``."""
        return {
            "weights": self.weights,
            "gradients": self.gradients,
            "optimizer": self.optimizer,
            "activations": self.activations,
            "total": self.total,
        }


@dataclass(frozen=True)
class TrainPlan:
    """A fine-tuning run of ``tokens`` tokens on ``count`` GPUs (see ``assumptions`` for every formula)."""

    arch: Architecture
    method: str
    gpu: Gpu
    count: int
    tokens: int
    utilisation: float
    lora_rank: int
    tokens_per_step: int
    micro_batch_tokens: int
    params: int
    active_params: int
    trainable_params: int
    flops: float
    seconds: float
    instance: str | None
    instances_needed: int | None
    hourly_usd: float | None
    cost_usd: float | None
    sharded: TrainMemory
    unsharded: TrainMemory
    memory_budget: int
    steps: int
    compute_seconds_per_step: float
    comm_bytes_per_gpu_per_step: float
    comm_bytes_per_gpu_per_step_unsharded: float
    link: str
    link_gb_s: float
    comm_seconds_per_step: float
    comm_seconds_per_step_unsharded: float
    assumptions: tuple[str, ...]

    @property
    def fits_sharded(self) -> bool:
        """Whether ZeRO-3/FSDP over ``count`` GPUs fits each GPU's memory."""
        return self.sharded.total <= self.memory_budget

    @property
    def fits_unsharded(self) -> bool:
        """Whether every GPU holding the whole training state (plain DDP) fits."""
        return self.unsharded.total <= self.memory_budget

    def to_dict(self) -> dict[str, Any]:
        """Plain values for ``--json``."""
        return {
            "model": self.arch.name,
            "method": self.method,
            "gpu": self.gpu.key,
            "count": self.count,
            "tokens": self.tokens,
            "utilisation": self.utilisation,
            "lora_rank": self.lora_rank,
            "tokens_per_step": self.tokens_per_step,
            "micro_batch_tokens": self.micro_batch_tokens,
            "params": self.params,
            "active_params": self.active_params,
            "trainable_params": self.trainable_params,
            "flops": self.flops,
            "seconds": self.seconds,
            "hours": self.seconds / 3600,
            "instance": self.instance,
            "instances_needed": self.instances_needed,
            "hourly_usd": self.hourly_usd,
            "cost_usd": self.cost_usd,
            "memory_per_gpu": {
                "sharded": self.sharded.to_dict(),
                "unsharded": self.unsharded.to_dict(),
                "budget": self.memory_budget,
            },
            "fits_sharded": self.fits_sharded,
            "fits_unsharded": self.fits_unsharded,
            "steps": self.steps,
            "compute_seconds_per_step": self.compute_seconds_per_step,
            "comm_bytes_per_gpu_per_step": self.comm_bytes_per_gpu_per_step,
            "comm_bytes_per_gpu_per_step_unsharded": self.comm_bytes_per_gpu_per_step_unsharded,
            "link": self.link,
            "link_gb_s": self.link_gb_s,
            "comm_seconds_per_step": self.comm_seconds_per_step,
            "comm_seconds_per_step_unsharded": self.comm_seconds_per_step_unsharded,
            "assumptions": list(self.assumptions),
        }


def lora_params(arch: Architecture, rank: int) -> int:
    """Adapter parameters: rank × (in + out) for every linear layer of every block (q, k, v, o, MLP, each expert)."""
    h, q, kv, i = arch.hidden_size, arch.q_dim, arch.kv_dim, arch.intermediate_size
    attention = (h + q) + 2 * (h + kv) + (q + h)
    mlp = (3 if arch.gated_mlp else 2) * (h + i) * arch.num_experts
    return rank * (attention + mlp) * arch.num_layers


def _link(gpu: Gpu, count: int) -> tuple[str, float, str]:
    """The link a ring collective over ``count`` GPUs is limited by, its GB/s per GPU one way, and its source."""
    link = gpu.interconnect
    if count <= GPUS_PER_NODE:
        return link.name, link.per_direction_gb_s, f"{link.source}; {link.marketed}"
    instance = smallest_instance(gpu.key, GPUS_PER_NODE)
    if instance is None or instance.network_gbps is None:
        raise GpuPlanError(f"{count} × {gpu.key} spans nodes, and no instance with a known network carries {gpu.key}")
    per_gpu = instance.network_gbps / 8 / instance.gpu_count  # Gbit/s per node → GB/s per GPU
    source = (
        f"AWS: {instance.name} has {instance.network_gbps:g} Gbps of network (EFA) = "
        f"{instance.network_gbps / 8:g} GB/s per node, {per_gpu:g} GB/s per GPU; within a node "
        f"{link.name} at {link.per_direction_gb_s:g} GB/s is not the bottleneck"
    )
    return f"{instance.name} network across nodes", min(link.per_direction_gb_s, per_gpu), source


def train_plan(
    arch: Architecture,
    tokens: int,
    method: str = "full",
    gpu: str = "h100",
    count: int = 8,
    utilisation: float = 0.4,
    lora_rank: int = 16,
    tokens_per_step: int = 1_048_576,
    micro_batch_tokens: int = 8192,
) -> TrainPlan:
    """Plan fine-tuning ``arch`` on ``tokens`` tokens with ``count`` GPUs of kind ``gpu``.

    ``tokens_per_step`` is the global batch (tokens per optimizer step); ``micro_batch_tokens``
    the tokens one GPU runs per forward/backward (gradient accumulation makes up the rest).
    """
    if method not in ("full", "lora"):
        raise GpuPlanError(f"method {method!r}: use full or lora")
    if min(tokens, count, tokens_per_step, micro_batch_tokens, lora_rank) < 1 or not 0 < utilisation <= 1:
        raise GpuPlanError("tokens, count, tokens_per_step, micro_batch_tokens and lora_rank must be ≥ 1, utilisation in (0, 1]")
    card = get_gpu(gpu)
    n_total, n_active = arch.param_count(), arch.active_param_count()
    adapter = lora_params(arch, lora_rank) if method == "lora" else 0
    trainable = adapter if method == "lora" else n_total
    flops_per_token = 6 * n_active if method == "full" else 4 * n_active + 6 * adapter
    flops = flops_per_token * tokens
    peak = card.bf16_tflops * 1e12
    seconds = flops / (count * peak * utilisation)

    instance = smallest_instance(card.key, min(count, GPUS_PER_NODE))
    instances_needed = ceil_div(count, instance.gpu_count) if instance else None
    hourly = instance.hourly_usd * instances_needed if instance and instance.hourly_usd and instances_needed else None
    cost = hourly * seconds / 3600 if hourly is not None else None

    # Memory per GPU. Activations: every layer checkpointed (its bf16 input kept), one layer's forward
    # working set held twice while it is recomputed and back-propagated, fp32 logits and their gradient.
    t = micro_batch_tokens
    activations = (
        arch.num_layers * t * arch.hidden_size * BF16
        + 2 * layer_elements_per_token(arch) * t * BF16
        + 2 * t * arch.vocab_size * FP32
    )
    unsharded = TrainMemory(
        weights=n_total * BF16 + (adapter * BF16),
        gradients=trainable * BF16,
        optimizer=trainable * ADAM_BYTES,
        activations=activations,
    )
    sharded = TrainMemory(
        weights=ceil_div(unsharded.weights, count),
        gradients=ceil_div(unsharded.gradients, count),
        optimizer=ceil_div(unsharded.optimizer, count),
        activations=activations,
    )
    budget = int(card.memory_bytes * MEMORY_UTILISATION)

    # Communication per optimizer step, bytes each GPU sends (ring collectives, (n−1)/n of the data).
    ring = (count - 1) / count
    micro_steps = ceil_div(tokens_per_step, count * micro_batch_tokens)
    if method == "full":
        unsharded_bytes = 2 * ring * n_total * BF16  # one gradient all-reduce per step (no_sync while accumulating)
        sharded_bytes = 3 * ring * n_total * BF16 * micro_steps  # all-gather ×2 + reduce-scatter per micro-step
    else:
        unsharded_bytes = 2 * ring * adapter * FP32  # adapter gradients only
        sharded_bytes = (2 * ring * n_total * BF16 + ring * adapter * FP32) * micro_steps
    link, link_gb_s, link_source = _link(card, count)
    steps = ceil_div(tokens, tokens_per_step)
    compute_per_step = flops_per_token * tokens_per_step / (count * peak * utilisation)

    assumptions = [
        (
            f"FLOPs = 6 × N × tokens = 6 × {n_active:,} × {tokens:,} (forward 2N + backward 4N per token)"
            if method == "full"
            else f"FLOPs = 4 × N × tokens + 6 × adapter × tokens = (4 × {n_active:,} + 6 × {adapter:,}) × {tokens:,}: "
            "forward 2N + backward through the frozen weights' activations 2N, no weight gradients; the adapter as full"
        ),
        "activation recomputation (checkpointing) adds ≈ 2N per token of work not counted in these FLOPs"
        + (f"; MoE: N is the {arch.experts_per_token} active experts' {n_active:,}" if arch.is_moe else ""),
        f"time = FLOPs / ({count} GPUs × {card.bf16_tflops:g} TFLOPS dense bf16 × {utilisation:.0%} utilisation) "
        f"[{card.tflops_source}]",
        f"cost = {instances_needed} × {instance.name} × ${instance.hourly_usd}/h × hours"
        if hourly is not None
        else "cost: no priced instance carries this GPU",
        PRICE_NOTE,
        "memory, full: bf16 weights 2 + bf16 gradients 2 + Adam 12 (fp32 master, m, v) = 16 bytes per parameter; "
        f"LoRA (rank {lora_rank}, every linear layer): bf16 frozen weights 2 bytes per parameter, the adapter 16",
        f"ZeRO-3 / FSDP shards weights, gradients and optimizer state over {count} GPUs; unsharded (DDP) keeps "
        "all of it on every GPU",
        f"activations per GPU ({micro_batch_tokens:,}-token micro-batch): every layer checkpointed "
        "(layers × tokens × H × 2) + twice one layer's forward working set (inference plan's layer peak) "
        "+ fp32 logits and their gradient (tokens × V × 8)",
        f"memory budget = {MEMORY_UTILISATION:.0%} of {card.memory_gb} GiB per GPU",
        f"step = {tokens_per_step:,} tokens ({micro_steps} micro-batch(es) per GPU); compute per step = "
        "FLOPs per token × tokens per step / (GPUs × peak × utilisation)",
        (
            "communication per GPU per step: DDP all-reduces bf16 gradients once, 2·(n−1)/n × 2N bytes; "
            "ZeRO-3/FSDP all-gathers weights in forward and backward and reduce-scatters gradients every micro-batch, "
            "3·(n−1)/n × 2N bytes each"
        )
        if method == "full"
        else (
            "communication per GPU per step: DDP all-reduces fp32 adapter gradients, 2·(n−1)/n × 4·adapter bytes; "
            "FSDP also all-gathers the frozen bf16 weights in forward and backward every micro-batch"
        ),
        f"link: {link}, {link_gb_s:g} GB/s per GPU each way [{link_source}]; comm time = bytes / link",
        "overlap: FSDP prefetch and DDP bucketing overlap communication with compute, so a step takes "
        "≈ max(compute, comm) when overlapped and their sum when not",
    ]
    return TrainPlan(
        arch=arch,
        method=method,
        gpu=card,
        count=count,
        tokens=tokens,
        utilisation=utilisation,
        lora_rank=lora_rank,
        tokens_per_step=tokens_per_step,
        micro_batch_tokens=micro_batch_tokens,
        params=n_total,
        active_params=n_active,
        trainable_params=trainable,
        flops=flops,
        seconds=seconds,
        instance=instance.name if instance else None,
        instances_needed=instances_needed,
        hourly_usd=hourly,
        cost_usd=cost,
        sharded=sharded,
        unsharded=unsharded,
        memory_budget=budget,
        steps=steps,
        compute_seconds_per_step=compute_per_step,
        comm_bytes_per_gpu_per_step=sharded_bytes,
        comm_bytes_per_gpu_per_step_unsharded=unsharded_bytes,
        link=link,
        link_gb_s=link_gb_s,
        comm_seconds_per_step=sharded_bytes / (link_gb_s * 1e9),
        comm_seconds_per_step_unsharded=unsharded_bytes / (link_gb_s * 1e9),
        assumptions=tuple(assumptions),
    )


def _duration(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds:.1f} s"


def render_train_plan(tp: TrainPlan) -> str:
    """The training plan as text: totals, memory per GPU, compute against communication, then assumptions."""
    trainable = f"{tp.trainable_params / 1e6:,.1f}M adapter params" if tp.method == "lora" else "all params"
    cost = f"${tp.cost_usd:,.0f} ({tp.instances_needed} × {tp.instance})" if tp.cost_usd is not None else "-"
    lines = [
        f"{tp.arch.name} {tp.method} fine-tuning on {tp.tokens:,} tokens, {tp.count} × {tp.gpu.name}",
        f"params {tp.params / 1e9:.2f}B (active {tp.active_params / 1e9:.2f}B), training {trainable}",
        f"FLOPs {tp.flops:.3e}   time {_duration(tp.seconds)} at {tp.utilisation:.0%}   cost {cost}",
        "",
        "memory per GPU        ZeRO-3/FSDP        unsharded (DDP)",
    ]
    for part in ("weights", "gradients", "optimizer", "activations", "total"):
        lines.append(
            f"  {part:<19} {getattr(tp.sharded, part) / 1e9:>8.1f} GB        {getattr(tp.unsharded, part) / 1e9:>8.1f} GB"
        )
    fit = {True: "fits", False: "does not fit"}
    lines += [
        f"  budget {format_bytes(tp.memory_budget)}: sharded {fit[tp.fits_sharded]}, unsharded {fit[tp.fits_unsharded]}",
        "",
        f"per step ({tp.tokens_per_step:,} tokens, {tp.steps:,} steps) over {tp.link} at {tp.link_gb_s:g} GB/s:",
        f"  compute        {tp.compute_seconds_per_step:10.2f} s",
        f"  comm ZeRO-3    {tp.comm_seconds_per_step:10.2f} s   ({tp.comm_bytes_per_gpu_per_step / 1e9:,.1f} GB per GPU)",
        f"  comm DDP       {tp.comm_seconds_per_step_unsharded:10.2f} s   "
        f"({tp.comm_bytes_per_gpu_per_step_unsharded / 1e9:,.1f} GB per GPU)",
        "",
        "assumptions:",
        *(f"  - {a}" for a in tp.assumptions),
    ]
    return "\n".join(lines)
