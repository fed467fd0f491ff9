"""``inhouse gpu``: plan, train-plan and deploy through the typer app, deploy against moto's SageMaker over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpointConfig
from typer.testing import CliRunner, Result

from inhouse_aws import AwsSettings
from inhouse_gpu import GpuPlanError, from_config_json, get_architecture, plan
from inhouse_gpu.cli import gpu_app
from inhouse_gpu.deploy import choose_option, endpoint_spec, provider_table, sagemaker_client, tgi_image_uri, wait_for_endpoint

ROLE = "arn:aws:iam::123456789012:role/sagemaker-execution"
REGION = "us-east-1"
runner = CliRunner()


def invoke(*args: str) -> Result:
    """Run ``inhouse gpu ARGS`` (errors stay in ``result.exception``: inhouse's main() prints them)."""
    return runner.invoke(gpu_app, list(args))


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --------------------------------------------------------------------------- plan


def test_plan_json_falcon_40b_fits_four_a10g_on_g5_12xlarge():
    data = as_json(invoke("plan", "--model", "falcon-40b-instruct", "--dtype", "bf16", "--context", "2048", "--json"))
    assert data["model"] == "falcon-40b" and data["context"] == 2048 and data["batch"] == 1
    assert 80e9 <= data["weights_bytes"] <= 84e9
    assert data["kv_cache_bytes_per_token"] == 2 * 60 * 8 * 64 * 2  # layers × KV heads × head_dim, K and V, bf16
    assert data["total_bytes"] > data["weights_bytes"]
    options = {(o["gpu"], o["gpu_count"]): o for o in data["options"]}
    assert {"gpu", "gpu_count", "instance", "fits"} <= set(options["a10g", 4])
    assert options["a10g", 4]["fits"] and options["a10g", 4]["instance"] == "g5.12xlarge"
    assert not options["a10g", 2]["fits"] and not options["a100-40gb", 1]["fits"]
    sagemaker = data["launch"]["sagemaker"]
    assert sagemaker["env"]["SM_NUM_GPUS"] == str(data["recommended"]["gpu_count"])


def test_plan_json_batch_8_needs_the_prefill_size_for_four_a10g():
    whole = as_json(invoke("plan", "--model", "falcon-40b-instruct", "--batch", "8", "--gpu", "a10g", "--json"))
    chunked = as_json(
        invoke("plan", "--model", "falcon-40b-instruct", "--batch", "8", "--prefill-tokens", "4096", "--gpu", "a10g", "--json")
    )
    assert {o["gpu"] for o in whole["options"]} == {"a10g"}
    assert not next(o for o in whole["options"] if o["gpu_count"] == 4)["fits"]
    assert next(o for o in chunked["options"] if o["gpu_count"] == 4)["fits"]


def test_plan_text_has_the_tables_and_launch_settings():
    result = invoke("plan", "--model", "falcon-40b-instruct", "--gpu", "a10g")
    assert result.exit_code == 0, result.output
    text = result.stdout
    for expected in ("KV cache per token", "122,880 bytes", "g5.12xlarge", "--num-shard 4", "SM_NUM_GPUS", "assumptions:"):
        assert expected in text
    assert "--tensor-parallel-size 4" in text  # vLLM
    assert "launch settings load tiiuae/falcon-40b" in result.stderr  # the short name loads the base repo: said on stderr


def test_plan_from_a_written_config_json(tmp_path: Path):
    config = {
        "_name_or_path": "acme/tiny-llama",
        "model_type": "llama",
        "hidden_size": 2048,
        "intermediate_size": 5632,
        "num_hidden_layers": 22,
        "num_attention_heads": 32,
        "num_key_value_heads": 4,
        "vocab_size": 32000,
        "max_position_embeddings": 2048,
        "tie_word_embeddings": False,
    }
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    data = as_json(invoke("plan", "--config", str(path), "--json"))
    expected = plan(from_config_json(path))
    assert data["model"] == "acme/tiny-llama" and data["source"] == str(path)
    assert data["weights_bytes"] == expected.weights_bytes and 2.1e9 <= data["weights_bytes"] <= 2.3e9  # 1.1B params
    assert data["kv_cache_bytes_per_token"] == 2 * 22 * 4 * 64 * 2
    assert data["launch"]["tgi"][1] == "acme/tiny-llama"


def test_plan_quantized_int4():
    data = as_json(invoke("plan", "--model", "llama-3-70b", "--quantize", "int4", "--json"))
    assert data["quantize"] == "int4" and data["weights_bytes"] < 0.3 * 2 * data["params"]


def test_unknown_model_exits_1_with_did_you_mean():
    result = invoke("plan", "--model", "falcon-41b")
    assert result.exit_code == 1
    assert isinstance(result.exception, GpuPlanError)
    assert "did you mean falcon-40b" in str(result.exception)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "--model NAME"),
        (("--model", "llama-3-8b", "--config", "x.json"), "not both"),
        (("--model", "llama-3-8b", "--gpu", "a10"), "did you mean a10g"),
        (("--model", "llama-3-8b", "--quantize", "int3"), "quantize 'int3'"),
        (("--config", "missing/config.json"), "cannot read"),
    ],
)
def test_plan_errors_say_what_to_do(args: tuple[str, ...], message: str):
    result = invoke("plan", *args)
    assert result.exit_code == 1 and isinstance(result.exception, GpuPlanError)
    assert message in str(result.exception)


# --------------------------------------------------------------------------- train-plan


def test_train_plan_json():
    data = as_json(invoke("train-plan", "--model", "llama-3-8b", "--tokens", "1B", "--method", "full", "--gpu", "h100", "--json"))
    params = get_architecture("llama-3-8b").param_count()
    assert data["tokens"] == 10**9 and data["count"] == 8 and data["method"] == "full"
    assert data["flops"] == 6 * params * 10**9
    assert data["seconds"] == pytest.approx(data["flops"] / (8 * 989e12 * 0.4))
    assert data["fits_sharded"] and data["instance"] == "p5.48xlarge"
    assert any(a.startswith("FLOPs = 6 × N × tokens") for a in data["assumptions"])


def test_train_plan_text_lora_lists_assumptions():
    result = invoke(
        "train-plan", "--model", "falcon-40b", "--tokens", "2e8", "--method", "lora", "--gpu", "a100-80gb", "--utilisation", "0.3"
    )
    assert result.exit_code == 0, result.output
    assert "lora fine-tuning on 200,000,000 tokens" in result.stdout
    assert "assumptions:" in result.stdout and "30% utilisation" in result.stdout


def test_train_plan_rejects_a_bad_token_count():
    result = invoke("train-plan", "--model", "llama-3-8b", "--tokens", "lots")
    assert result.exit_code == 2 and "a count such as" in result.output


# --------------------------------------------------------------------------- deploy: the spec, no AWS


def test_choose_option_uses_the_instance_gpus_and_refuses_what_does_not_fit():
    p = plan(get_architecture("falcon-40b-instruct"))
    option = choose_option(p, "ml.g5.12xlarge")
    assert (option.gpu, option.gpu_count, option.sagemaker_instance) == ("a10g", 4, "ml.g5.12xlarge")
    small = choose_option(plan(get_architecture("mistral-7b-v0.3")), "ml.g5.12xlarge")
    assert small.gpu_count == 4  # all four GPUs: the rest goes to KV cache
    with pytest.raises(GpuPlanError, match=r"does not fit ml\.g5\.2xlarge .*Instead: 4 × l4 on ml\.g6\.12xlarge.*--force"):
        choose_option(p, "ml.g5.2xlarge")
    forced = choose_option(p, "ml.g5.2xlarge", force=True)
    assert forced.fits and forced.gpu_count == 1 and forced.sagemaker_instance == "ml.g5.2xlarge"
    spec = endpoint_spec(p, forced, endpoint_name="f", region=REGION, role_arn=ROLE)
    assert spec.notes[0].startswith("forced: the planner says it does not fit")


def test_endpoint_spec_from_the_planner():
    p = plan(get_architecture("tiiuae/falcon-40b-instruct"))
    spec = endpoint_spec(p, choose_option(p, "ml.g5.12xlarge"), endpoint_name="falcon-40b", region="eu-south-1", role_arn=ROLE)
    assert spec.environment["HF_MODEL_ID"] == "tiiuae/falcon-40b-instruct" and spec.environment["SM_NUM_GPUS"] == "4"
    assert spec.environment["MAX_INPUT_TOKENS"] == "1024" and spec.environment["MAX_TOTAL_TOKENS"] == "2048"
    assert "MAX_INPUT_LENGTH" not in spec.environment  # TGI ≥ 2.0 refuses both names at once
    assert spec.production_variant["ModelName"] == spec.model_name and spec.model_name.startswith("falcon-40b-")
    assert spec.image_uri == tgi_image_uri("eu-south-1") and spec.image_uri.startswith("692866216735.dkr.ecr.eu-south-1.")
    assert tgi_image_uri("cn-north-1").startswith("727897471807.dkr.ecr.cn-north-1.amazonaws.com.cn/")
    long = endpoint_spec(p, choose_option(p, "g5.12xlarge"), endpoint_name="x" * 63, region=REGION, role_arn=ROLE, now=0)
    assert long.model_name == long.config_name == "x" * 47 + "-19700101-000000"
    with pytest.raises(GpuPlanError, match="letters, digits and hyphens"):
        endpoint_spec(p, choose_option(p, "g5.12xlarge"), endpoint_name="falcon_40b", region=REGION, role_arn=ROLE)
    with pytest.raises(GpuPlanError, match="not an IAM role ARN"):
        endpoint_spec(p, choose_option(p, "g5.12xlarge"), endpoint_name="f", region=REGION, role_arn="my-role")
    table = provider_table(spec, template="tgi", profile="prod")
    assert table.splitlines() == [
        "[providers.falcon-40b]",
        'use = "sagemaker"',
        'endpoint_name = "falcon-40b"',
        'region = "eu-south-1"',
        'template = "tgi"',
        'profile = "prod"',
    ]


def test_deploy_dry_run_calls_nothing(aws_env: None):
    # An endpoint URL nothing listens on: any call would fail with a connection error.
    result = invoke(
        *("deploy", "--model", "falcon-40b-instruct", "--instance", "ml.g5.12xlarge", "--endpoint-name", "dry"),
        *("--role-arn", ROLE, "--region", REGION, "--endpoint-url", "http://127.0.0.1:9", "--dry-run"),
    )
    assert result.exit_code == 0, result.output
    assert "dry run, nothing created" in result.stdout and "SM_NUM_GPUS=4" in result.stdout
    assert "763104351884.dkr.ecr.us-east-1.amazonaws.com/huggingface-pytorch-tgi-inference:" in result.stdout


def test_deploy_without_a_region_says_how_to_set_one(aws_env: None):
    result = invoke("deploy", "--model", "llama-3-8b", "--instance", "ml.g5.xlarge", "--endpoint-name", "e", "--role-arn", ROLE)
    assert result.exit_code == 1 and "no AWS region: pass --region" in str(result.exception)


def test_deploy_from_a_config_json_needs_the_hub_repo(tmp_path: Path, aws_env: None):
    (tmp_path / "config.json").write_text(json.dumps(get_architecture("mistral-7b-v0.3").to_config_dict()))
    args = ("deploy", "--config", str(tmp_path), "--instance", "ml.g5.xlarge", "--endpoint-name", "mine")
    args += ("--role-arn", ROLE, "--region", REGION, "--dry-run")
    result = invoke(*args)
    assert result.exit_code == 1 and "pass --model-id" in str(result.exception)
    data = as_json(invoke(*args, "--model-id", "acme/mistral-tuned", "--json"))
    assert data["spec"]["environment"]["HF_MODEL_ID"] == "acme/mistral-tuned" and data["created"] is None


class FakeSageMaker:
    """Enough of an AwsClient for wait_for_endpoint: describe_endpoint answers from a list of statuses."""

    def __init__(self, statuses: list[str]):
        self.statuses = statuses
        self.client = self

    def describe_endpoint(self, EndpointName: str) -> dict[str, str]:
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return {"EndpointName": EndpointName, "EndpointStatus": status, "FailureReason": "CUDA out of memory"}

    def call(self, fn: Any) -> Any:
        return fn()


def test_wait_for_endpoint_polls_until_in_service_and_reports_progress():
    now = [0.0]
    lines: list[str] = []
    sleep = lambda s: now.__setitem__(0, now[0] + s)  # noqa: E731
    fake: Any = FakeSageMaker(["Creating", "Creating", "InService"])
    status = wait_for_endpoint(fake, "e", poll_s=30, progress=lines.append, sleep=sleep, clock=lambda: now[0])
    assert status == "InService" and now[0] == 60
    assert lines == ["endpoint e: Creating after 0.0 min", "endpoint e: Creating after 0.5 min"]
    with pytest.raises(GpuPlanError, match="is Failed: CUDA out of memory"):
        wait_for_endpoint(FakeSageMaker(["Creating", "Failed"]), "e", sleep=sleep, clock=lambda: now[0])  # type: ignore[arg-type]
    with pytest.raises(GpuPlanError, match="still Creating after 100 s"):
        wait_for_endpoint(FakeSageMaker(["Creating"]), "e", timeout_s=100, sleep=sleep, clock=lambda: now[0])  # type: ignore[arg-type]


# --------------------------------------------------------------------------- deploy against moto


@pytest.fixture
def aws_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Test credentials only: no profile, no config or credentials files, no region from the environment."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "missing-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "missing-credentials"))
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sagemaker(moto_url: str, aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A boto3 client on moto to inspect what was created.

    moto 5.2.5 checks endpoint-config instance types against a list older than G5/G6/P4d/P5:
    accept any here.
    """
    monkeypatch.setattr(FakeEndpointConfig, "validate_instance_type", lambda self, instance_type: None)
    return boto3.client("sagemaker", region_name=REGION, endpoint_url=moto_url)


def model_names(sagemaker: Any, prefix: str) -> list[str]:
    """Models whose name starts with ``prefix`` (moto's list_models ignores NameContains)."""
    return [m["ModelName"] for m in sagemaker.list_models()["Models"] if m["ModelName"].startswith(prefix)]


def deploy(moto_url: str, *args: str, model: str = "tiiuae/falcon-40b-instruct", instance: str = "ml.g5.12xlarge") -> Result:
    return invoke(
        *("deploy", "--model", model, "--instance", instance, "--role-arn", ROLE),
        *("--region", REGION, "--endpoint-url", moto_url, *args),
    )


def test_deploy_creates_model_config_and_endpoint_on_moto(moto_url: str, sagemaker: Any):
    data = as_json(deploy(moto_url, "--endpoint-name", "falcon-40b", "--json"))
    created = data["created"]
    assert created["endpoint_arn"] == f"arn:aws:sagemaker:{REGION}:123456789012:endpoint/falcon-40b"
    assert data["status"] is None and data["dry_run"] is False

    model = sagemaker.describe_model(ModelName=created["model_name"])
    assert model["ExecutionRoleArn"] == ROLE
    container = model["PrimaryContainer"]
    assert container["Image"] == tgi_image_uri(REGION)
    env = container["Environment"]
    assert env["HF_MODEL_ID"] == "tiiuae/falcon-40b-instruct" and env["SM_NUM_GPUS"] == "4"
    assert env["MAX_INPUT_TOKENS"] == "1024" and env["MAX_TOTAL_TOKENS"] == "2048" and env["DTYPE"] == "bfloat16"

    config = sagemaker.describe_endpoint_config(EndpointConfigName=created["endpoint_config_name"])
    (variant,) = config["ProductionVariants"]
    assert variant["VariantName"] == "AllTraffic" and variant["ModelName"] == created["model_name"]
    assert variant["InstanceType"] == "ml.g5.12xlarge" and variant["InitialInstanceCount"] == 1
    assert variant["ContainerStartupHealthCheckTimeoutInSeconds"] == 600
    assert variant["ModelDataDownloadTimeoutInSeconds"] == 600

    endpoint = sagemaker.describe_endpoint(EndpointName="falcon-40b")
    assert endpoint["EndpointConfigName"] == created["endpoint_config_name"]
    assert 'endpoint_name = "falcon-40b"' in data["provider_toml"] and 'use = "sagemaker"' in data["provider_toml"]


def test_deploy_quantized_text_output(moto_url: str, sagemaker: Any):
    result = deploy(moto_url, "--endpoint-name", "falcon-int8", "--quantize", "int8", "--model", "falcon-40b")
    assert result.exit_code == 0, result.output
    assert "created:" in result.stdout and "arn:aws:sagemaker:us-east-1:123456789012:endpoint/falcon-int8" in result.stdout
    assert "HF_MODEL_QUANTIZE=bitsandbytes" in result.stdout and "check it exists in the region" in result.stdout
    assert "[providers.falcon-int8]" in result.stdout and 'region = "us-east-1"' in result.stdout
    (name,) = model_names(sagemaker, "falcon-int8-")
    model = sagemaker.describe_model(ModelName=name)
    assert model["PrimaryContainer"]["Environment"]["HF_MODEL_QUANTIZE"] == "bitsandbytes"


def test_deploy_refuses_a_model_that_does_not_fit_before_any_call(moto_url: str, sagemaker: Any):
    result = deploy(moto_url, "--endpoint-name", "too-small", instance="ml.g5.2xlarge")
    assert result.exit_code == 1 and isinstance(result.exception, GpuPlanError)
    assert "does not fit ml.g5.2xlarge" in str(result.exception) and "--force" in str(result.exception)
    assert model_names(sagemaker, "too-small") == []
    assert [e for e in sagemaker.list_endpoints()["Endpoints"] if e["EndpointName"] == "too-small"] == []


def test_deploy_force_deploys_what_does_not_fit(moto_url: str, sagemaker: Any):
    data = as_json(deploy(moto_url, "--endpoint-name", "forced", "--force", "--json", instance="ml.g5.2xlarge"))
    assert data["spec"]["environment"]["SM_NUM_GPUS"] == "1"
    assert data["spec"]["notes"][0].startswith("forced")
    assert sagemaker.describe_endpoint(EndpointName="forced")["EndpointName"] == "forced"


def test_deploy_wait_reaches_in_service(moto_url: str, sagemaker: Any):
    result = deploy(moto_url, "--endpoint-name", "falcon-wait", "--wait", "--json")
    assert as_json(result)["status"] == "InService"
    assert sagemaker.describe_endpoint(EndpointName="falcon-wait")["EndpointStatus"] == "InService"


def test_deploy_refuses_an_endpoint_name_in_use(moto_url: str, sagemaker: Any):
    as_json(deploy(moto_url, "--endpoint-name", "taken", "--json"))
    result = deploy(moto_url, "--endpoint-name", "taken")
    assert result.exit_code == 1 and "endpoint taken already exists (InService)" in str(result.exception)
    assert len(model_names(sagemaker, "taken-")) == 1  # nothing new created


def test_deploy_error_names_what_was_already_created(moto_url: str, sagemaker: Any, monkeypatch: pytest.MonkeyPatch):

    def invalid(self: Any, instance_type: str) -> None:
        raise ValidationError(message=f"instance type {instance_type} refused")

    monkeypatch.setattr(FakeEndpointConfig, "validate_instance_type", invalid)
    result = deploy(moto_url, "--endpoint-name", "half")
    assert result.exit_code == 1
    message = str(result.exception)
    assert "ValidationException: instance type ml.g5.12xlarge refused" in message
    assert "aws sagemaker delete-model --model-name half-" in message


def test_deploy_function_without_the_cli(moto_url: str, sagemaker: Any):
    from inhouse_gpu.deploy import client_region, create_endpoint

    p = plan(get_architecture("mistralai/Mistral-7B-Instruct-v0.3"), context=8192, batch=2)
    aws = sagemaker_client(AwsSettings(region=REGION, endpoint_url=moto_url), "SageMaker mistral")
    spec = endpoint_spec(p, choose_option(p, "ml.g6.xlarge"), endpoint_name="mistral", region=client_region(aws), role_arn=ROLE)
    created = create_endpoint(aws, spec)
    aws.close()
    assert set(created) >= {"model_arn", "endpoint_config_arn", "endpoint_arn", "environment", "instance_type"}
    assert created["instance_type"] == "ml.g6.xlarge" and created["environment"]["MAX_TOTAL_TOKENS"] == "8192"
    described = sagemaker.describe_endpoint_config(EndpointConfigName=created["endpoint_config_name"])
    assert described["ProductionVariants"][0]["InstanceType"] == "ml.g6.xlarge"
