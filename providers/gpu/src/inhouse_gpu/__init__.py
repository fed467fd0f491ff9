"""GPU sizing: will a model fit, on which GPUs and instances, how to launch it, what fine-tuning costs.

Pure Python, no GPU needed::

    from inhouse_gpu import get_architecture, plan, render_plan, train_plan, render_train_plan

    p = plan(get_architecture("falcon-40b-instruct"), dtype="bf16", context=2048, batch=1)
    print(render_plan(p))                       # memory table, options per GPU × count, launch args
    p.option("a10g", 4).fits                    # True: 4 × A10G = ml.g5.12xlarge
    tp = train_plan(get_architecture("llama-3-8b"), tokens=10**9, method="full", gpu="h100", count=8)
    print(render_train_plan(tp))

Models come from a built-in table of published ``config.json`` values (:data:`ARCHITECTURES`)
or any config.json (:func:`from_config_json`). Every figure's formula is stated in the
module docstrings of :mod:`inhouse_gpu.plan` and :mod:`inhouse_gpu.train` and in each
result's ``assumptions``. ``bench/gpu_check.py`` checks the memory formula against a real
forward pass on a GPU.
"""

from inhouse_gpu.architectures import Architecture, GpuPlanError, from_config_dict, from_config_json
from inhouse_gpu.catalog import ARCHITECTURES, get_architecture
from inhouse_gpu.hardware import GB, GPUS, INSTANCES, GiB, Gpu, Instance, Interconnect, get_gpu, get_instance
from inhouse_gpu.launch import launch_config, render_launch, sagemaker_config, tgi_args, vllm_args
from inhouse_gpu.plan import Option, Overhead, Plan, plan, render_plan
from inhouse_gpu.train import TrainMemory, TrainPlan, render_train_plan, train_plan

__all__ = [
    "ARCHITECTURES",
    "GB",
    "GPUS",
    "INSTANCES",
    "Architecture",
    "GiB",
    "Gpu",
    "GpuPlanError",
    "Instance",
    "Interconnect",
    "Option",
    "Overhead",
    "Plan",
    "TrainMemory",
    "TrainPlan",
    "from_config_dict",
    "from_config_json",
    "get_architecture",
    "get_gpu",
    "get_instance",
    "launch_config",
    "plan",
    "render_launch",
    "render_plan",
    "render_train_plan",
    "sagemaker_config",
    "tgi_args",
    "train_plan",
    "vllm_args",
]
