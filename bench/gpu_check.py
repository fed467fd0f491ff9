"""GPU check: the planner's memory prediction against a real bf16 forward pass.

    python bench/gpu_check.py [--model falcon-7b] [--impl all|transformers|torch] [--sizes 1x2048,8x2048,4x4096]
                              [--layers N]

Builds a randomly initialised model of a real architecture from the planner's table, straight
on the GPU in bf16 (no download), runs one forward pass per (batch, context) size under
``torch.no_grad()`` with the KV cache kept, and compares ``torch.cuda.max_memory_allocated()``
(peak stats reset before each pass) with the planner's weights + KV cache + activations. The
planner's overhead (CUDA context, fragmentation) is left out: ``max_memory_allocated`` counts
neither. Goal: within 10 %. Prints a table; writes bench/results/gpu_check.json, and
$OUT/gpu_check.json when $OUT is set; exits 1 when a size misses the goal. Without torch or
CUDA it prints "no GPU, skipped" and exits 0. On an H100 the default run is two model builds
(Falcon-7B, 13.8 GB each, one after the other) and six forward passes: a minute or two.

Implementations (the output names the one used for each row):

- ``transformers``: ``FalconForCausalLM`` from a ``FalconConfig`` with the table's values,
  ``attn_implementation="sdpa"``. transformers' Falcon hands SDPA a 1-head K/V without
  ``enable_gqa``, which sends CUDA to the math kernel (fp32 scores of batch × 71 × S × S);
  the check calls SDPA with ``enable_gqa=True`` (the flash kernel), as serving engines run it.
- ``torch``: a Falcon-shaped decoder in plain torch, for machines without transformers:
  fused QKV with multi-query attention, rotary embeddings, ``F.scaled_dot_product_attention``
  (``enable_gqa``), attention and MLP in parallel off one LayerNorm, lm_head tied to the
  embedding, and a KV cache of per-layer ``(batch, kv_heads, S, head_dim)`` tensors, as the
  planner counts it.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "core" / "src"), str(REPO / "providers" / "gpu" / "src")]  # the GPU machine may have no install

from inhouse_gpu import Architecture, get_architecture, plan  # noqa: E402

RESULTS = REPO / "bench" / "results" / "gpu_check.json"
GOAL = 0.10
DEFAULT_SIZES = "1x2048,8x2048,4x4096"


# --------------------------------------------------------------------------- plain-torch Falcon


def torch_falcon_weights(arch: Architecture, device: Any, dtype: Any, seed: int = 0) -> dict[str, Any]:
    """Random weights of a Falcon-shaped decoder (``arch.num_layers`` layers), created on ``device``."""
    import torch

    generator = torch.Generator(device=device).manual_seed(seed)
    h, q, kv = arch.hidden_size, arch.q_dim, arch.kv_dim

    def normal(*shape: int) -> Any:
        return torch.empty(*shape, device=device, dtype=dtype).normal_(0.0, 0.02, generator=generator)

    def norm() -> tuple[Any, Any]:
        return torch.ones(h, device=device, dtype=dtype), torch.zeros(h, device=device, dtype=dtype)

    layers = [
        {
            "norms": [norm() for _ in range(arch.norms_per_layer)],
            "qkv": normal(q + 2 * kv, h),
            "dense": normal(h, q),
            "up": normal(arch.intermediate_size, h),
            "down": normal(h, arch.intermediate_size),
        }
        for _ in range(arch.num_layers)
    ]
    return {"embed": normal(arch.vocab_size, h), "ln_f": norm(), "layers": layers}


def _rotary(length: int, head_dim: int, device: Any, dtype: Any) -> tuple[Any, Any]:
    import torch

    inv_freq = 1.0 / 10000.0 ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim)
    angles = torch.outer(torch.arange(length, device=device, dtype=torch.float32), inv_freq)
    angles = torch.cat((angles, angles), dim=-1)
    return angles.cos().to(dtype), angles.sin().to(dtype)


def _rope(x: Any, cos: Any, sin: Any) -> Any:
    import torch

    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


def _falcon_layer(layer: dict[str, Any], x: Any, cos: Any, sin: Any, arch: Architecture) -> tuple[Any, Any, Any]:
    import torch.nn.functional as F

    batch, length, hidden = x.shape
    heads, kv_heads, head_dim = arch.num_attention_heads, arch.num_kv_heads, arch.head_dim
    group = heads // kv_heads
    h_attn = F.layer_norm(x, (hidden,), *layer["norms"][0])
    h_mlp = F.layer_norm(x, (hidden,), *layer["norms"][-1]) if len(layer["norms"]) > 1 else h_attn
    # Falcon's fused QKV layout: per KV group, its query heads, then one key and one value head.
    qkv = F.linear(h_attn, layer["qkv"]).view(batch, length, kv_heads, group + 2, head_dim)
    q = qkv[:, :, :, :group].reshape(batch, length, heads, head_dim).transpose(1, 2)
    k = qkv[:, :, :, group].transpose(1, 2)
    v = qkv[:, :, :, group + 1].transpose(1, 2).contiguous()  # the cached value: (batch, kv_heads, S, head_dim)
    del qkv
    q, k = _rope(q, cos, sin), _rope(k, cos, sin)  # k: the cached key
    attn = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=kv_heads != heads)
    del q
    attn = F.linear(attn.transpose(1, 2).reshape(batch, length, heads * head_dim), layer["dense"])
    mlp = F.linear(F.gelu(F.linear(h_mlp, layer["up"])), layer["down"])
    return mlp + attn + x, k, v


def torch_falcon_forward(weights: dict[str, Any], arch: Architecture, ids: Any) -> tuple[Any, list[tuple[Any, Any]]]:
    """Logits for every position and the KV cache, keeping tensors alive as transformers does."""
    import torch.nn.functional as F

    embeddings = F.embedding(ids, weights["embed"])  # held through the layers, like transformers' inputs_embeds
    cos, sin = _rotary(ids.shape[1], arch.head_dim, ids.device, embeddings.dtype)
    x, cache = embeddings, []
    for layer in weights["layers"]:
        x, k, v = _falcon_layer(layer, x, cos, sin, arch)
        cache.append((k, v))
    del embeddings
    x = F.layer_norm(x, (arch.hidden_size,), *weights["ln_f"])
    return F.linear(x, weights["embed"]), cache


# --------------------------------------------------------------------------- transformers Falcon


@contextlib.contextmanager
def gqa_sdpa() -> Iterator[None]:
    """Calls to ``F.scaled_dot_product_attention`` with fewer K/V heads than query heads get ``enable_gqa=True``."""
    import torch.nn.functional as F

    original = F.scaled_dot_product_attention

    def sdpa(query: Any, key: Any, value: Any, *args: Any, **kwargs: Any) -> Any:
        if key.shape[-3] != query.shape[-3]:
            kwargs.setdefault("enable_gqa", True)
        return original(query, key, value, *args, **kwargs)

    F.scaled_dot_product_attention = sdpa
    try:
        yield
    finally:
        F.scaled_dot_product_attention = original


def transformers_falcon(arch: Architecture, device: Any, dtype: Any) -> Any:
    """A randomly initialised ``FalconForCausalLM`` of ``arch``'s shape, built on ``device``."""
    import torch
    from transformers import AutoModelForCausalLM, FalconConfig

    config = FalconConfig(**{k: v for k, v in arch.to_config_dict().items() if k != "model_type"})
    # transformers 4.56 renamed ``torch_dtype`` to ``dtype``; 5.x accepts only the new name.
    dtype_key = "dtype" if _version_tuple("transformers") >= (4, 56) else "torch_dtype"
    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa", **{dtype_key: dtype})
    return model.eval()


# --------------------------------------------------------------------------- the check


def implementations(arch: Architecture, choice: str, device: Any, dtype: Any) -> Iterator[tuple[str, Callable]]:
    """(name, forward(ids)) for each implementation asked for and available, built one at a time."""
    have_transformers = importlib.util.find_spec("transformers") is not None
    if choice in ("all", "transformers") and have_transformers:
        model = transformers_falcon(arch, device, dtype)

        def hf_forward(ids: Any) -> Any:
            with gqa_sdpa():
                return model(ids, use_cache=True)

        yield "transformers FalconForCausalLM (sdpa, enable_gqa)", hf_forward
        del model
    elif choice == "transformers":
        raise SystemExit("transformers is not installed: use --impl torch")
    if choice in ("all", "torch"):
        weights = torch_falcon_weights(arch, device, dtype)
        yield "plain torch Falcon (MQA, SDPA enable_gqa)", lambda ids: torch_falcon_forward(weights, arch, ids)
        del weights


def measure(forward: Callable, batch: int, context: int, vocab: int) -> dict[str, int]:
    """Weights resident before, and the peak during, one forward pass (``torch.cuda`` allocator stats)."""
    import torch

    ids = torch.randint(0, vocab, (batch, context), device="cuda")
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    resident = torch.cuda.memory_allocated()
    with torch.no_grad():
        out = forward(ids)
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated()
    del out
    return {"resident_bytes": resident, "peak_bytes": peak}


def predict(arch: Architecture, batch: int, context: int) -> dict[str, int]:
    """The planner's weights, KV cache and activations for one bf16 forward pass of batch × context."""
    p = plan(arch, dtype="bf16", context=context, batch=batch, gpus=["h100"])
    return {
        "weights_bytes": p.weights_bytes,
        "kv_cache_bytes": p.kv_cache_bytes,
        "activation_bytes": p.activation_bytes,
        "total_bytes": p.weights_bytes + p.kv_cache_bytes + p.activation_bytes,
    }


def check(arch: Architecture, sizes: list[tuple[int, int]], choice: str) -> list[dict[str, Any]]:
    """One row per implementation × size: measured against predicted."""
    import torch

    rows = []
    for name, forward in implementations(arch, choice, "cuda", torch.bfloat16):
        measure(forward, 1, 16, arch.vocab_size)  # warm-up: cuBLAS workspaces become resident, not peak
        for batch, context in sizes:
            predicted = predict(arch, batch, context)
            row: dict[str, Any] = {"implementation": name, "batch": batch, "context": context, **predicted}
            started = time.perf_counter()
            try:
                measured = measure(forward, batch, context, arch.vocab_size)
            except torch.cuda.OutOfMemoryError as exc:
                row |= {"failure": f"out of memory: {exc}".splitlines()[0], "within_goal": False}
                rows.append(row)
                continue
            dynamic = measured["peak_bytes"] - measured["resident_bytes"]
            predicted_dynamic = predicted["kv_cache_bytes"] + predicted["activation_bytes"]
            error = (predicted["total_bytes"] - measured["peak_bytes"]) / measured["peak_bytes"]
            row |= measured | {
                "seconds": round(time.perf_counter() - started, 3),
                "error": round(error, 4),
                "dynamic_error": round((predicted_dynamic - dynamic) / dynamic, 4),
                "within_goal": abs(error) <= GOAL,
            }
            rows.append(row)
        torch.cuda.empty_cache()
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    """The rows as a table: GB measured and predicted, and the error of the total and of KV + activations."""
    header = (
        f"{'implementation':<48} {'batch×ctx':>10} {'measured GB':>12} {'predicted GB':>13} {'error':>7} "
        f"{'KV+act meas.':>12} {'KV+act pred.':>12} {'error':>7}"
    )
    lines = [header]
    for r in rows:
        size = f"{r['batch']}×{r['context']}"
        if "peak_bytes" not in r:
            lines.append(f"{r['implementation']:<48} {size:>10} {r['failure']}")
            continue
        dynamic = r["peak_bytes"] - r["resident_bytes"]
        lines.append(
            f"{r['implementation']:<48} {size:>10} {r['peak_bytes'] / 1e9:>12.2f} {r['total_bytes'] / 1e9:>13.2f} "
            f"{r['error']:>+7.1%} {dynamic / 1e9:>12.2f} {(r['kv_cache_bytes'] + r['activation_bytes']) / 1e9:>12.2f} "
            f"{r['dynamic_error']:>+7.1%}"
        )
    return "\n".join(lines)


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """``1x2048,8x2048`` → [(1, 2048), (8, 2048)]."""
    sizes = []
    for item in text.split(","):
        batch, _, context = item.strip().lower().partition("x")
        sizes.append((int(batch), int(context)))
    return sizes


def main(argv: list[str] | None = None) -> int:
    """Run the check; 0 when every size is within the goal (or there is no GPU), else 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="falcon-7b", help="a Falcon entry of the planner's table")
    parser.add_argument("--impl", choices=("all", "transformers", "torch"), default="all")
    parser.add_argument("--sizes", default=DEFAULT_SIZES, help="batch×context list, e.g. 1x2048,8x2048")
    parser.add_argument("--layers", type=int, help="build only this many layers (default: all)")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("torch") is None:
        print("no GPU, skipped (torch is not installed)")
        return 0
    import torch

    if not torch.cuda.is_available():
        print("no GPU, skipped (torch.cuda.is_available() is False)")
        return 0
    arch = get_architecture(args.model)
    if arch.model_type != "falcon":
        raise SystemExit(f"{arch.name} is not a Falcon: the check builds Falcon-shaped models only")
    if args.layers:
        arch = dataclasses.replace(arch, num_layers=args.layers)
    rows = check(arch, parse_sizes(args.sizes), args.impl)
    print(f"{arch.name} ({arch.num_layers} layers), bf16, on {torch.cuda.get_device_name()}")
    print(render(rows))
    result = {
        "model": arch.name,
        "layers": arch.num_layers,
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "transformers": _version("transformers"),
        "goal": f"predicted weights + KV + activations within {GOAL:.0%} of torch.cuda.max_memory_allocated()",
        "rows": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "gpu_check.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0 if all(r["within_goal"] for r in rows) else 1


def _version_tuple(package: str) -> tuple[int, ...]:
    """``package``'s version as integers (major, minor), e.g. (5, 17)."""
    text = _version(package) or "0"
    return tuple(int(part) for part in text.split(".")[:2] if part.isdigit())


def _version(package: str) -> str | None:
    if importlib.util.find_spec(package) is None:
        return None
    module = importlib.import_module(package)
    return getattr(module, "__version__", None)


if __name__ == "__main__":
    sys.exit(main())
