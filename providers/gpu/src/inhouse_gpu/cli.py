"""``inhouse gpu``: size a model for inference (plan) or fine-tuning (train-plan), deploy it to SageMaker (deploy).

Errors are :class:`inhouse_gpu.GpuPlanError` / ``ProviderError`` (``InhouseError`` subclasses):
``inhouse``'s ``main()`` prints them as one line and exits 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from inhouse.errors import InhouseError
from inhouse_gpu.architectures import Architecture, GpuPlanError, from_config_json
from inhouse_gpu.catalog import get_architecture
from inhouse_gpu.launch import launch_config
from inhouse_gpu.plan import DTYPE_BYTES, QUANTIZED_BYTES_PER_PARAM, Plan, plan, render_plan
from inhouse_gpu.train import render_train_plan, train_plan

if TYPE_CHECKING:
    from inhouse_gpu.deploy import EndpointSpec

gpu_app = typer.Typer(
    help="GPU sizing: will a model fit, on which GPUs and instances, how to launch it, what fine-tuning costs.",
    no_args_is_help=True,
    add_completion=False,
)

ModelOpt = Annotated[
    str | None,
    typer.Option("--model", help="a known model (falcon-40b-instruct, llama-3-8b…) or a Hub repo id (tiiuae/falcon-40b)"),
]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="a Hugging Face config.json (or a folder holding one)")]
DtypeOpt = Annotated[str, typer.Option("--dtype", help=f"weights and activations: {', '.join(DTYPE_BYTES)}")]
QuantizeOpt = Annotated[
    str | None, typer.Option("--quantize", help=f"quantized weights: {', '.join(QUANTIZED_BYTES_PER_PARAM)} (default: none)")
]
ContextOpt = Annotated[int, typer.Option("--context", help="tokens per sequence, prompt + answer")]
BatchOpt = Annotated[int, typer.Option("--batch", help="concurrent sequences")]
PrefillOpt = Annotated[
    int | None,
    typer.Option(
        "--prefill-tokens", help="tokens in the largest forward pass (TGI --max-batch-prefill-tokens); default context × batch"
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON")]


def _architecture(model: str | None, config: Path | None) -> Architecture:
    if model and config:
        raise GpuPlanError("pass --model or --config, not both")
    if config:
        return from_config_json(config)
    if model:
        return get_architecture(model)
    raise GpuPlanError("say which model: --model NAME (falcon-40b-instruct, a Hub repo id…) or --config path/to/config.json")


def _repo_note(model: str | None, arch: Architecture, instead: str) -> None:
    """Say so on stderr when a short name loads another repo than its name suggests (falcon-40b-instruct → tiiuae/falcon-40b)."""
    if model and "/" not in model and model.strip().lower() not in (arch.name, arch.hf_repo.lower()):
        typer.echo(
            f"note: {model!r} is planned with the shapes of {arch.name}; the launch settings load {arch.hf_repo}. "
            f"To load another repo, {instead}.",
            err=True,
        )


def _plan(
    model: str | None,
    config: Path | None,
    dtype: str,
    quantize: str | None,
    context: int,
    batch: int,
    prefill: int | None,
    gpus: list[str] | None = None,
) -> tuple[Architecture, Plan]:
    arch = _architecture(model, config)
    quantize = None if quantize in (None, "none") else quantize
    return arch, plan(arch, dtype=dtype, quantize=quantize, context=context, batch=batch, prefill_tokens=prefill, gpus=gpus)


def _print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


@gpu_app.command("plan")
def plan_command(
    model: ModelOpt = None,
    config: ConfigOpt = None,
    dtype: DtypeOpt = "bf16",
    quantize: QuantizeOpt = None,
    context: ContextOpt = 2048,
    batch: BatchOpt = 1,
    prefill_tokens: PrefillOpt = None,
    gpu: Annotated[list[str] | None, typer.Option("--gpu", help="only these GPUs (repeatable): a10g, l4, h100…")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Memory needed to serve a model, which GPU × count × instance holds it, and the TGI/vLLM/SageMaker settings."""
    arch, p = _plan(model, config, dtype, quantize, context, batch, prefill_tokens, gpu)
    _repo_note(model, arch, "pass its Hub repo id as --model")
    if as_json:
        _print_json(p.to_dict() | {"launch": launch_config(p) if p.recommended() else None})
        return
    typer.echo(render_plan(p))


def _count(value: str) -> int:
    """``1000000``, ``1e9``, ``2_000_000``, ``500M``, ``10B`` or ``1.5T`` as an integer."""
    text = value.strip().replace("_", "").replace(",", "")
    scale = {"k": 10**3, "m": 10**6, "b": 10**9, "t": 10**12}.get(text[-1:].lower(), 1)
    try:
        number = float(text[:-1] if scale > 1 else text)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r}: a count such as 1000000000, 1e9 or 1B") from exc
    return round(number * scale)


@gpu_app.command("train-plan")
def train_plan_command(
    tokens: Annotated[int, typer.Option("--tokens", parser=_count, help="training tokens: 1000000000, 1e9 or 1B")],
    model: ModelOpt = None,
    config: ConfigOpt = None,
    method: Annotated[str, typer.Option("--method", help="full or lora")] = "full",
    gpu: Annotated[str, typer.Option("--gpu", help="a10g, l4, l40s, a100-40gb, a100-80gb, h100, h200, rtx4090")] = "h100",
    count: Annotated[int, typer.Option("--count", help="GPUs in all (over 8: several nodes)")] = 8,
    utilisation: Annotated[float, typer.Option("--utilisation", help="model FLOPs utilisation, (0, 1]")] = 0.4,
    lora_rank: Annotated[int, typer.Option("--lora-rank", help="LoRA rank (--method lora)")] = 16,
    as_json: JsonOpt = False,
) -> None:
    """FLOPs, time, cost, memory per GPU and communication per step of a fine-tuning run; formulas listed under it."""
    arch = _architecture(model, config)
    tp = train_plan(arch, tokens=tokens, method=method, gpu=gpu, count=count, utilisation=utilisation, lora_rank=lora_rank)
    if as_json:
        _print_json(tp.to_dict())
        return
    typer.echo(render_train_plan(tp))


def _deploy_text(spec: EndpointSpec, created: dict[str, Any] | None, status: str | None, table: str) -> str:
    option = spec.option
    lines = [
        f"{option.gpu_count} × {option.gpu_name} on {spec.production_variant['InstanceType']} ({spec.region}): {option.reason}",
        f"image: {spec.image_uri}",
        *(
            ["  (the default Hugging Face TGI 2.3.1 image: check it exists in the region, or pass --image-uri)"]
            if spec.image_is_default
            else []
        ),
        "environment:",
        *(f"  {k}={v}" for k, v in spec.environment.items()),
        *(f"note: {note}" for note in spec.notes),
        "",
    ]
    if created is None:
        lines += [
            "dry run, nothing created; would create:",
            f"  model            {spec.model_name}",
            f"  endpoint config  {spec.config_name}",
            f"  endpoint         {spec.endpoint_name}",
        ]
    else:
        lines += [
            "created:",
            f"  model            {created['model_arn']}",
            f"  endpoint config  {created['endpoint_config_arn']}",
            f"  endpoint         {created['endpoint_arn']} ({status or 'Creating: --wait, or aws sagemaker describe-endpoint'})",
        ]
    lines += ["", "add to plugins.toml (then name it in [routing]):", "", table]
    return "\n".join(lines)


@gpu_app.command("deploy")
def deploy_command(
    instance: Annotated[str, typer.Option("--instance", help="SageMaker instance type, e.g. ml.g5.12xlarge")],
    endpoint_name: Annotated[str, typer.Option("--endpoint-name", help="the endpoint to create")],
    role_arn: Annotated[str, typer.Option("--role-arn", help="execution role the endpoint runs as (ExecutionRoleArn)")],
    model: ModelOpt = None,
    config: ConfigOpt = None,
    model_id: Annotated[
        str | None, typer.Option("--model-id", help="the Hub repo the container loads (HF_MODEL_ID); default: the model's")
    ] = None,
    region: Annotated[str | None, typer.Option("--region", help="default: the profile's or AWS_REGION")] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="named AWS profile; default: the default chain")] = None,
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="SageMaker API URL (VPC endpoint, emulator)")] = None,
    image_uri: Annotated[
        str | None, typer.Option("--image-uri", help="container image; default: the Hugging Face TGI 2.3.1 DLC of the region")
    ] = None,
    dtype: DtypeOpt = "bf16",
    quantize: QuantizeOpt = None,
    context: ContextOpt = 2048,
    batch: BatchOpt = 1,
    prefill_tokens: PrefillOpt = None,
    template: Annotated[str, typer.Option("--template", help="template key of the printed plugins.toml provider table")] = "tgi",
    force: Annotated[bool, typer.Option("--force", help="deploy even where the planner says it does not fit")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="show what would be created, call nothing")] = False,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="poll until the endpoint is InService or failed")] = False,
    wait_timeout: Annotated[float, typer.Option("--wait-timeout", help="seconds --wait polls for")] = 3600.0,
    as_json: JsonOpt = False,
) -> None:
    """Create a SageMaker endpoint on the Hugging Face TGI container, sized by the planner; print its provider table."""
    try:
        from inhouse_aws import AwsSettings  # imported here: the planner itself needs no AWS package
    except ImportError:
        raise InhouseError("`inhouse gpu deploy` needs the AWS kit: pip install 'inhouse-gpu[deploy]'") from None
    from inhouse_gpu.deploy import (
        choose_option,
        client_region,
        create_endpoint,
        endpoint_spec,
        provider_table,
        sagemaker_client,
        wait_for_endpoint,
    )

    arch, p = _plan(model, config, dtype, quantize, context, batch, prefill_tokens)
    option = choose_option(p, instance, force=force)  # refuses before any AWS call
    if config and not model_id and Path(arch.hf_repo).exists():
        raise GpuPlanError(f"{config} names no Hub repo (_name_or_path): pass --model-id, the repo the endpoint should load")
    if not model_id:
        _repo_note(model, arch, "pass its Hub repo id as --model or --model-id")
    settings = AwsSettings(region=region, profile=profile, endpoint_url=endpoint_url)
    aws = sagemaker_client(settings, f"SageMaker {endpoint_name}")
    try:
        spec = endpoint_spec(
            p,
            option,
            endpoint_name=endpoint_name,
            region=client_region(aws),
            role_arn=role_arn,
            image_uri=image_uri,
            model_id=model_id,
        )
        created: dict[str, Any] | None = None
        status: str | None = None
        if not dry_run:
            created = create_endpoint(aws, spec)
            if wait:
                status = wait_for_endpoint(
                    aws, endpoint_name, timeout_s=wait_timeout, progress=lambda line: typer.echo(line, err=True)
                )
    finally:
        aws.close()
    table = provider_table(spec, template=template, profile=profile)
    if as_json:
        _print_json({"dry_run": dry_run, "spec": spec.to_dict(), "created": created, "status": status, "provider_toml": table})
        return
    typer.echo(_deploy_text(spec, created, status, table))


def register(app: typer.Typer) -> None:
    """Add ``inhouse gpu`` (``plan``, ``train-plan``, ``deploy``) to ``app`` (the
    ``inhouse.commands`` entry point)."""
    app.add_typer(gpu_app, name="gpu")
