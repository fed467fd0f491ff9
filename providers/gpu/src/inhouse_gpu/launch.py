"""Launch settings for a planned option: TGI and vLLM arguments, and a SageMaker endpoint on the TGI container.

Everything is returned as plain lists and dicts; ``render_launch`` gives the text form.
"""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING, Any

from inhouse_gpu.architectures import GpuPlanError
from inhouse_gpu.hardware import GB

if TYPE_CHECKING:
    from inhouse_gpu.plan import Option, Plan

TGI_DTYPE = {"bf16": "bfloat16", "fp16": "float16"}
VLLM_DTYPE = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
# The first method is the default. TGI: bitsandbytes and eetq quantize 8-bit on the fly;
# awq and gptq need a checkpoint quantized that way; bitsandbytes-nf4 quantizes 4-bit on the fly.
TGI_QUANTIZE = {"int8": ("bitsandbytes", "eetq"), "int4": ("awq", "gptq", "bitsandbytes-nf4")}
# vLLM has no on-the-fly int8: fp8 weights take the same byte per parameter (weight-only on Ampere).
VLLM_QUANTIZE = {"int8": ("fp8",), "int4": ("awq", "gptq")}
# (weights up to, seconds): the TGI container downloads the weights from the Hub at start-up, so the
# health check must cover download + load; the model-data download timeout covers S3 model data.
TIMEOUT_TIERS = ((20 * GB, 300), (100 * GB, 600), (300 * GB, 1200))
MAX_TIMEOUT_S = 3600
TGI_IMAGE = 'sagemaker.huggingface.get_huggingface_llm_image_uri("huggingface")'


def _chosen(plan: Plan, option: Option | None) -> Option:
    chosen = option or plan.recommended()
    if chosen is None:
        raise GpuPlanError(
            f"{plan.arch.name} fits no single instance at this context and batch: "
            "quantize, shorten the context or lower the batch"
        )
    if not chosen.fits:
        raise GpuPlanError(f"{chosen.gpu_count} × {chosen.gpu} does not fit: {chosen.reason}")
    return chosen


def _method(plan: Plan, methods: dict[str, tuple[str, ...]], method: str | None) -> str | None:
    if plan.quantize is None:
        return None
    known = methods[plan.quantize]
    if method is None:
        return known[0]
    if method not in known:
        raise GpuPlanError(f"{method!r} is not an {plan.quantize} method here: use one of {', '.join(known)}")
    return method


def _max_input(plan: Plan, max_input_tokens: int | None) -> int:
    # Default: half the context for the prompt, half for the answer (as AWS's TGI examples: 1024 of 2048).
    max_input = max_input_tokens or max(1, plan.context // 2)
    if not 0 < max_input < plan.context:
        raise GpuPlanError(f"max input tokens ({max_input}) must be below the context ({plan.context})")
    return max_input


def tgi_args(
    plan: Plan,
    option: Option | None = None,
    *,
    model_id: str | None = None,
    max_input_tokens: int | None = None,
    quantize_method: str | None = None,
) -> list[str]:
    """``text-generation-launcher`` arguments for the option (default: the plan's recommended one).

    ``--dtype`` is left out when quantizing: TGI picks the dtype of the quantized kernels.
    """
    chosen = _chosen(plan, option)
    max_input = _max_input(plan, max_input_tokens)
    args = [
        "--model-id",
        model_id or plan.arch.hf_repo,
        "--num-shard",
        str(chosen.gpu_count),
        "--max-input-tokens",
        str(max_input),
        "--max-total-tokens",
        str(plan.context),
        "--max-batch-prefill-tokens",
        str(max(plan.prefill_tokens, max_input)),
    ]
    method = _method(plan, TGI_QUANTIZE, quantize_method)
    if method:
        args += ["--quantize", method]
    elif plan.dtype in TGI_DTYPE:
        args += ["--dtype", TGI_DTYPE[plan.dtype]]
    return args


def vllm_args(
    plan: Plan, option: Option | None = None, *, model_id: str | None = None, quantize_method: str | None = None
) -> list[str]:
    """``vllm serve`` arguments (the model first) for the option."""
    chosen = _chosen(plan, option)
    args = [
        model_id or plan.arch.hf_repo,
        "--tensor-parallel-size",
        str(chosen.gpu_count),
        "--max-model-len",
        str(plan.context),
        "--gpu-memory-utilization",
        f"{plan.utilisation:g}",
        "--dtype",
        VLLM_DTYPE[plan.dtype],
        "--max-num-seqs",
        str(plan.batch),
        "--max-num-batched-tokens",
        str(plan.prefill_tokens),
    ]
    method = _method(plan, VLLM_QUANTIZE, quantize_method)
    if method:
        args += ["--quantization", method]
    return args


def _timeout(weights_bytes: int) -> int:
    return next((seconds for limit, seconds in TIMEOUT_TIERS if weights_bytes <= limit), MAX_TIMEOUT_S)


def sagemaker_config(
    plan: Plan,
    option: Option | None = None,
    *,
    model_id: str | None = None,
    max_input_tokens: int | None = None,
    quantize_method: str | None = None,
) -> dict[str, Any]:
    """A SageMaker real-time endpoint on the Hugging Face TGI container (env values are strings, as SageMaker wants).

    ``deploy`` holds the SageMaker Python SDK ``HuggingFaceModel.deploy`` arguments;
    ``production_variant`` the same for boto3 ``create_endpoint_config``.
    """
    chosen = _chosen(plan, option)
    if chosen.sagemaker_instance is None:
        raise GpuPlanError(f"no SageMaker instance carries {chosen.gpu_name}")
    max_input = _max_input(plan, max_input_tokens)
    env = {
        "HF_MODEL_ID": model_id or plan.arch.hf_repo,
        "SM_NUM_GPUS": str(chosen.gpu_count),
        "MAX_INPUT_TOKENS": str(max_input),
        "MAX_TOTAL_TOKENS": str(plan.context),
        "MAX_BATCH_PREFILL_TOKENS": str(max(plan.prefill_tokens, max_input)),
    }
    method = _method(plan, TGI_QUANTIZE, quantize_method)
    if method:
        env["HF_MODEL_QUANTIZE"] = method
    elif plan.dtype in TGI_DTYPE:
        env["DTYPE"] = TGI_DTYPE[plan.dtype]
    timeout = _timeout(plan.weights_bytes)
    return {
        "image_uri": TGI_IMAGE,
        "env": env,
        "deploy": {
            "instance_type": chosen.sagemaker_instance,
            "initial_instance_count": 1,
            "container_startup_health_check_timeout": timeout,
            "model_data_download_timeout": timeout,
        },
        "production_variant": {
            "VariantName": "AllTraffic",
            "InstanceType": chosen.sagemaker_instance,
            "InitialInstanceCount": 1,
            "ContainerStartupHealthCheckTimeoutInSeconds": timeout,
            "ModelDataDownloadTimeoutInSeconds": timeout,
        },
    }


def launch_notes(plan: Plan, option: Option | None = None) -> list[str]:
    """What to know before launching: quantized checkpoints, spare GPUs."""
    chosen = _chosen(plan, option)
    notes = []
    if plan.quantize == "int4":
        notes.append(
            "int4 with awq/gptq needs a checkpoint quantized that way (an -AWQ or -GPTQ repo): "
            "pass it as model_id, or use TGI's bitsandbytes-nf4 to quantize on the fly"
        )
    if plan.quantize == "int8":
        notes.append("vLLM has no on-the-fly int8: --quantization fp8 stores 1 byte per weight as well")
    if chosen.instance_gpu_count and chosen.instance_gpu_count > chosen.gpu_count:
        notes.append(
            f"{chosen.instance} has {chosen.instance_gpu_count} GPUs; this uses {chosen.gpu_count} "
            "(run several replicas to use the rest)"
        )
    return notes


def launch_config(
    plan: Plan,
    option: Option | None = None,
    *,
    model_id: str | None = None,
    max_input_tokens: int | None = None,
    tgi_quantize: str | None = None,
    vllm_quantize: str | None = None,
) -> dict[str, Any]:
    """TGI, vLLM and SageMaker settings for one option, as plain values (``--json``).

    ``sagemaker`` is None for a GPU no SageMaker instance carries (RTX 4090).
    """
    chosen = _chosen(plan, option)
    tgi = {"model_id": model_id, "max_input_tokens": max_input_tokens, "quantize_method": tgi_quantize}
    return {
        "option": chosen.to_dict(),
        "tgi": tgi_args(plan, chosen, **tgi),
        "vllm": vllm_args(plan, chosen, model_id=model_id, quantize_method=vllm_quantize),
        "sagemaker": sagemaker_config(plan, chosen, **tgi) if chosen.sagemaker_instance else None,
        "notes": launch_notes(plan, chosen),
    }


def render_launch(plan: Plan, option: Option | None = None, **kwargs: Any) -> str:
    """The launch settings as commands and a SageMaker SDK snippet."""
    config = launch_config(plan, option, **kwargs)
    lines = [
        "TGI:",
        "  text-generation-launcher " + shlex.join(config["tgi"]),
        "vLLM:",
        "  vllm serve " + shlex.join(config["vllm"]),
    ]
    sagemaker = config["sagemaker"]
    if sagemaker:
        deploy = ", ".join(f"{k}={v!r}" for k, v in sagemaker["deploy"].items())
        lines += [
            "SageMaker (Hugging Face TGI container):",
            f"  image_uri = {sagemaker['image_uri']}",
            f"  env = {json.dumps(sagemaker['env'])}",
            f"  HuggingFaceModel(image_uri=image_uri, env=env, role=role).deploy({deploy})",
        ]
    lines += [f"  note: {note}" for note in config["notes"]]
    return "\n".join(lines)
