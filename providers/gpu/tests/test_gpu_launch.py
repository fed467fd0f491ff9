"""Launch settings from a plan (TGI, vLLM and SageMaker), against AWS's Falcon-40B example on ml.g5.12xlarge
(see the Falcon-40B notes in test_gpu_plan.py); no GPU, no network."""

from __future__ import annotations

import pytest

from inhouse_gpu import GpuPlanError, get_architecture, launch_config, plan, sagemaker_config, tgi_args, vllm_args


def test_launch_args_for_falcon_40b_on_g5_12xlarge():
    p = plan(get_architecture("falcon-40b-instruct"), context=2048, batch=1)
    option = p.option("a10g", 4)
    tgi = tgi_args(p, option)
    assert tgi[tgi.index("--num-shard") + 1] == "4"
    assert tgi[tgi.index("--max-total-tokens") + 1] == "2048"
    assert tgi[tgi.index("--max-input-tokens") + 1] == "1024"
    assert tgi[tgi.index("--dtype") + 1] == "bfloat16"
    assert "--num-shard 4" in " ".join(tgi)
    sm = sagemaker_config(p, option)
    assert sm["deploy"]["instance_type"] == "ml.g5.12xlarge"
    assert sm["env"]["SM_NUM_GPUS"] == "4" and sm["env"]["HF_MODEL_ID"] == "tiiuae/falcon-40b-instruct"
    assert sm["env"]["MAX_INPUT_TOKENS"] == "1024"
    assert "MAX_INPUT_LENGTH" not in sm["env"]  # TGI >= 2.0 refuses to start when both names are set
    assert sm["env"]["MAX_TOTAL_TOKENS"] == "2048"
    assert sm["deploy"]["container_startup_health_check_timeout"] == 600  # 82.6 GB of weights
    assert sm["production_variant"]["ModelDataDownloadTimeoutInSeconds"] == 600
    vllm = vllm_args(p, option)
    assert vllm[0] == "tiiuae/falcon-40b-instruct" and vllm[vllm.index("--tensor-parallel-size") + 1] == "4"
    assert all(isinstance(v, str) for v in sm["env"].values())


def test_quantized_launch_args():
    p = plan(get_architecture("falcon-40b"), quantize="int8")
    config = launch_config(p, p.option("a10g", 4))
    assert config["tgi"][config["tgi"].index("--quantize") + 1] == "bitsandbytes"
    assert "--dtype" not in config["tgi"]
    assert config["sagemaker"]["env"]["HF_MODEL_QUANTIZE"] == "bitsandbytes"
    assert config["vllm"][config["vllm"].index("--quantization") + 1] == "fp8"
    p4 = plan(get_architecture("llama-3-70b"), quantize="int4")
    assert tgi_args(p4, p4.option("a100-80gb", 1))[-2:] == ["--quantize", "awq"]
    with pytest.raises(GpuPlanError, match="not an int4 method"):
        tgi_args(p4, p4.option("a100-80gb", 1), quantize_method="eetq")


def test_launch_refuses_an_option_that_does_not_fit():
    p = plan(get_architecture("falcon-40b"))
    with pytest.raises(GpuPlanError, match="does not fit"):
        tgi_args(p, p.option("a10g", 1))
