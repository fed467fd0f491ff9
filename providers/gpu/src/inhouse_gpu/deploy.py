"""Deploying a planned model to a SageMaker real-time endpoint on the Hugging Face TGI container.

Three steps, each testable on its own:

- :func:`choose_option`: the planner's option for an instance type (all its GPUs where the
  model fits on them), or a :class:`GpuPlanError` when it does not fit (unless forced);
- :func:`endpoint_spec`: everything that will be created (names, image, environment, the
  production variant), built from :func:`inhouse_gpu.launch.sagemaker_config`, no AWS call;
- :func:`create_endpoint` / :func:`wait_for_endpoint`: the boto3 ``sagemaker`` control-plane
  calls (``create_model``, ``create_endpoint_config``, ``create_endpoint``, ``describe_endpoint``)
  through :class:`inhouse_aws.AwsClient`.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from inhouse.errors import ProviderError
from inhouse_aws import AwsClient, AwsSettings, ErrorTable
from inhouse_gpu.architectures import GpuPlanError
from inhouse_gpu.hardware import get_instance
from inhouse_gpu.launch import launch_notes, sagemaker_config
from inhouse_gpu.plan import Option, Plan

# The Hugging Face TGI Deep Learning Container. A default to check: the tag must exist in the
# region (aws ecr describe-images --registry-id ACCOUNT --repository-name REPOSITORY) and be the
# TGI version you want (2.3.1 here); pass --image-uri to choose another.
TGI_IMAGE_REPOSITORY = "huggingface-pytorch-tgi-inference"
TGI_IMAGE_TAG = "2.4.0-tgi2.3.1-gpu-py311-cu124-ubuntu22.04"
DLC_ACCOUNT = "763104351884"
# Regions whose DLC registry is another account (sagemaker-python-sdk, image_uri_config/huggingface-llm.json).
DLC_ACCOUNTS = {
    "af-south-1": "626614931356",
    "ap-east-1": "871362719292",
    "ap-northeast-3": "364406365360",
    "ap-south-2": "772153158452",
    "ap-southeast-3": "907027046896",
    "ap-southeast-4": "457447274322",
    "ca-west-1": "204538143572",
    "cn-north-1": "727897471807",
    "cn-northwest-1": "727897471807",
    "eu-central-2": "380420809688",
    "eu-south-1": "692866216735",
    "eu-south-2": "503227376785",
    "il-central-1": "780543022126",
    "me-central-1": "914824155844",
    "me-south-1": "217643126080",
    "us-gov-east-1": "446045086412",
    "us-gov-west-1": "442386744353",
}

# SageMaker error codes -> (our code, retry here, router may fall back); see inhouse_aws.map_error.
ERRORS: ErrorTable = {
    "throttlingexception": ("throttled", True, False),
    "internalfailure": ("unavailable", True, False),
    "serviceunavailable": ("unavailable", True, False),
    "validationexception": ("validation", False, False),
    "resourcelimitexceeded": ("quota", False, False),
    "resourceinuse": ("validation", False, False),
    "accessdeniedexception": ("access-denied", False, False),
    "unrecognizedclientexception": ("access-denied", False, False),
    "invalidclienttokenid": ("access-denied", False, False),
    "expiredtokenexception": ("access-denied", False, False),
}
ADVICE = {
    "quota": "ask Service Quotas for more '<instance type> for endpoint usage' in this region",
    "access-denied": "the caller needs sagemaker:CreateModel, CreateEndpointConfig, CreateEndpoint, "
    "DescribeEndpoint and iam:PassRole on the execution role",
}
FAILED_STATUSES = {"Failed", "OutOfService", "Deleting", "UpdateRollbackFailed"}
# SageMaker names: letters, digits and hyphens, starting and ending with a letter or digit, ≤ 63.
NAME_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
ROLE_ARN_PATTERN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/\S+")
STAMP_LENGTH = len("-20250101-120000")


def tgi_image_uri(region: str) -> str:
    """The default Hugging Face TGI image for ``region`` (a default to check, see :data:`TGI_IMAGE_TAG`)."""
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    account = DLC_ACCOUNTS.get(region, DLC_ACCOUNT)
    return f"{account}.dkr.ecr.{region}.{domain}/{TGI_IMAGE_REPOSITORY}:{TGI_IMAGE_TAG}"


def choose_option(p: Plan, instance: str, *, force: bool = False) -> Option:
    """The option to run on ``instance`` (``ml.g5.12xlarge`` or ``g5.12xlarge``).

    The largest GPU count up to the instance's that fits (normally all of its GPUs, so the
    spare memory goes to the KV cache). None fits: a :class:`GpuPlanError` saying why and what
    fits instead, or with ``force`` the instance's full count, marked as fitting so the launch
    settings can be built (its ``reason`` still says what does not fit).
    """
    inst = get_instance(instance)
    candidates = [o for o in p.options if o.gpu == inst.gpu and o.gpu_count <= inst.gpu_count]
    if not candidates:
        raise GpuPlanError(f"the plan has no option for {inst.gpu}: plan with every GPU, or with {inst.gpu} among them")
    fitting = [o for o in candidates if o.fits]
    if fitting:
        chosen = fitting[-1]
    elif force:
        chosen = dataclasses.replace(candidates[-1], fits=True)
    else:
        full = candidates[-1]
        best = p.recommended()
        instead = f"{best.gpu_count} × {best.gpu} on ml.{best.instance} (the planner's cheapest fit), " if best else ""
        raise GpuPlanError(
            f"{p.arch.name} does not fit ml.{inst.name} ({inst.gpu_count} × {full.gpu_name}) at context {p.context} × "
            f"batch {p.batch}: {full.reason}. Instead: {instead}quantize (--quantize int8/int4), shorten --context, "
            "lower --batch / --prefill-tokens, or pass --force to deploy anyway"
        )
    return dataclasses.replace(
        chosen,
        instance=inst.name,
        instance_gpu_count=inst.gpu_count,
        sagemaker_instance=inst.sagemaker_name,
        hourly_usd=inst.hourly_usd,
    )


@dataclass(frozen=True)
class EndpointSpec:
    """What :func:`create_endpoint` creates: a model, an endpoint config and an endpoint.

    The model and the endpoint config share one name: the endpoint name plus a UTC time stamp,
    so a redeploy never collides with the resources of the last one.
    """

    endpoint_name: str
    model_name: str
    config_name: str
    region: str
    role_arn: str
    image_uri: str
    image_is_default: bool
    environment: dict[str, str]
    production_variant: dict[str, Any]
    option: Option
    notes: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain values for ``--json``."""
        return {
            "endpoint_name": self.endpoint_name,
            "model_name": self.model_name,
            "endpoint_config_name": self.config_name,
            "region": self.region,
            "execution_role_arn": self.role_arn,
            "image_uri": self.image_uri,
            "image_is_default": self.image_is_default,
            "environment": self.environment,
            "production_variant": self.production_variant,
            "option": self.option.to_dict(),
            "notes": list(self.notes),
        }


def endpoint_spec(
    p: Plan,
    option: Option,
    *,
    endpoint_name: str,
    region: str,
    role_arn: str,
    image_uri: str | None = None,
    model_id: str | None = None,
    now: float | None = None,
) -> EndpointSpec:
    """The deployment of ``option`` (from :func:`choose_option`) as ``endpoint_name`` in ``region``.

    ``now`` (seconds since the epoch, default: now) stamps the model and endpoint config names.
    Raises :class:`GpuPlanError` for a name SageMaker would refuse or a malformed role ARN.
    """
    if not NAME_PATTERN.fullmatch(endpoint_name):
        raise GpuPlanError(
            f"endpoint name {endpoint_name!r}: use letters, digits and hyphens, starting and ending "
            "with a letter or digit, at most 63 characters"
        )
    if not ROLE_ARN_PATTERN.fullmatch(role_arn):
        raise GpuPlanError(
            f"--role-arn {role_arn!r} is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME): "
            "SageMaker runs the endpoint as this role"
        )
    config = sagemaker_config(p, option, model_id=model_id)
    environment = dict(config["env"])
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now))
    name = f"{endpoint_name[: 63 - STAMP_LENGTH]}-{stamp}"
    notes = launch_notes(p, option)
    if not p.option(option.gpu, option.gpu_count).fits:
        notes.insert(0, f"forced: the planner says it does not fit ({option.reason})")
    return EndpointSpec(
        endpoint_name=endpoint_name,
        model_name=name,
        config_name=name,
        region=region,
        role_arn=role_arn,
        image_uri=image_uri or tgi_image_uri(region),
        image_is_default=image_uri is None,
        environment=environment,
        production_variant={**config["production_variant"], "ModelName": name},
        option=option,
        notes=tuple(notes),
    )


def sagemaker_client(settings: AwsSettings, label: str) -> AwsClient:
    """An :class:`AwsClient` for the SageMaker control plane; needs boto3 (``pip install boto3``)."""
    if importlib.util.find_spec("boto3") is None:
        raise GpuPlanError("deploying needs boto3: pip install boto3 (or inhouse-bedrock / inhouse-selfhosted)")
    return AwsClient(settings, "sagemaker", label, ERRORS, ADVICE)


def client_region(aws: AwsClient) -> str:
    """The region the client calls: --region, else the profile's or AWS_REGION's. Builds the client, calls nothing."""
    from botocore.exceptions import NoRegionError

    try:
        return str(aws.client.meta.region_name)
    except NoRegionError as exc:
        raise GpuPlanError("no AWS region: pass --region, set AWS_REGION, or set a region in the profile") from exc


def _endpoint_status(aws: AwsClient, name: str) -> str | None:
    """The endpoint's status, or None when there is no endpoint of that name."""
    try:
        return aws.call(lambda: aws.client.describe_endpoint(EndpointName=name))["EndpointStatus"]
    except ProviderError as exc:
        if exc.code == "validation" and "could not find" in str(exc).lower():
            return None
        raise


def create_endpoint(aws: AwsClient, spec: EndpointSpec) -> dict[str, Any]:
    """Create the model, the endpoint config and the endpoint; return their names and ARNs.

    Refuses an endpoint name that is taken. When a later step fails, the error names what
    was already created and how to delete it.
    """
    status = _endpoint_status(aws, spec.endpoint_name)
    if status is not None:
        raise GpuPlanError(
            f"endpoint {spec.endpoint_name} already exists ({status}): choose another --endpoint-name, or delete it "
            f"first (aws sagemaker delete-endpoint --endpoint-name {spec.endpoint_name} --region {spec.region})"
        )
    client = aws.client
    created: list[str] = []
    try:
        model = aws.call(
            lambda: client.create_model(
                ModelName=spec.model_name,
                PrimaryContainer={"Image": spec.image_uri, "Environment": spec.environment},
                ExecutionRoleArn=spec.role_arn,
            )
        )
        created.append(f"aws sagemaker delete-model --model-name {spec.model_name}")
        config = aws.call(
            lambda: client.create_endpoint_config(
                EndpointConfigName=spec.config_name, ProductionVariants=[spec.production_variant]
            )
        )
        created.append(f"aws sagemaker delete-endpoint-config --endpoint-config-name {spec.config_name}")
        endpoint = aws.call(lambda: client.create_endpoint(EndpointName=spec.endpoint_name, EndpointConfigName=spec.config_name))
    except ProviderError as exc:
        if not created:
            raise
        cleanup = "; ".join(f"{command} --region {spec.region}" for command in created)
        raise ProviderError(f"{exc}. Already created, delete with: {cleanup}", code=exc.code) from exc
    return {
        "region": spec.region,
        "model_name": spec.model_name,
        "model_arn": model["ModelArn"],
        "endpoint_config_name": spec.config_name,
        "endpoint_config_arn": config["EndpointConfigArn"],
        "endpoint_name": spec.endpoint_name,
        "endpoint_arn": endpoint["EndpointArn"],
        "instance_type": spec.production_variant["InstanceType"],
        "image_uri": spec.image_uri,
        "environment": spec.environment,
    }


def wait_for_endpoint(
    aws: AwsClient,
    name: str,
    *,
    timeout_s: float = 3600.0,
    poll_s: float = 30.0,
    progress: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """Poll ``describe_endpoint`` until the endpoint is InService (returned) or failed, or ``timeout_s`` passes.

    ``progress`` receives a line per poll while it is not ready. A failed endpoint or the
    timeout raise :class:`GpuPlanError` (the endpoint keeps being created after a timeout).
    """
    start = clock()
    while True:
        described = aws.call(lambda: aws.client.describe_endpoint(EndpointName=name))
        status = described["EndpointStatus"]
        elapsed = clock() - start
        if status == "InService":
            return status
        if status in FAILED_STATUSES:
            reason = described.get("FailureReason") or "no reason given"
            raise GpuPlanError(
                f"endpoint {name} is {status}: {reason} (container logs: CloudWatch /aws/sagemaker/Endpoints/{name})"
            )
        if elapsed >= timeout_s:
            raise GpuPlanError(
                f"endpoint {name} is still {status} after {elapsed:.0f} s; SageMaker carries on: "
                f"aws sagemaker describe-endpoint --endpoint-name {name}"
            )
        if progress:
            progress(f"endpoint {name}: {status} after {elapsed / 60:.1f} min")
        sleep(min(poll_s, timeout_s - elapsed))


def provider_table(spec: EndpointSpec, *, template: str, profile: str | None = None) -> str:
    """The ``[providers.NAME]`` table for plugins.toml that calls the endpoint through the ``sagemaker`` provider."""
    keys = {"use": "sagemaker", "endpoint_name": spec.endpoint_name, "region": spec.region, "template": template}
    if profile:
        keys["profile"] = profile
    return "\n".join([f"[providers.{spec.endpoint_name}]", *(f"{k} = {json.dumps(v)}" for k, v in keys.items())])
