"""GPUs, their links, and the EC2/SageMaker instances that carry them.

Units. ``GB`` is the decimal gigabyte (10⁹ bytes): disk, network, AWS and this planner's "GB"
columns. ``GiB`` is the binary gibibyte (2³⁰ bytes). GPU memory is sold in binary sizes under
a "GB" label: an "80GB" H100 has 80 GiB = 85.9 GB of HBM, of which the driver reports
81559 MiB (79.6 GiB) usable; an A10G's "24 GB" is 24 GiB, of which nvidia-smi reports
23028 MiB (22.5 GiB) with ECC on. ``Gpu.memory_bytes`` is the marketed figure read as GiB;
the planner's utilisation factor (0.9 by default) keeps the budget below what the driver
reports.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from inhouse_gpu.architectures import GpuPlanError

GB = 10**9
GiB = 2**30

PRICE_NOTE = (
    "hourly_usd: EC2 us-east-1 on-demand Linux list price as of 2025, check before relying "
    "(AWS cut P4/P5 on-demand prices by up to 45% in June 2025; SageMaker ml.* instances cost more than EC2)"
)


def format_bytes(n: float) -> str:
    """``82.6 GB (76.9 GiB)``: both units, because GPU memory is marketed in one and measured in the other."""
    return f"{n / GB:,.1f} GB ({n / GiB:,.1f} GiB)"


@dataclass(frozen=True)
class Interconnect:
    """A GPU-to-GPU link. ``per_direction_gb_s`` (GB/s one way) is what a ring collective step sees."""

    name: str
    per_direction_gb_s: float
    marketed: str
    source: str


PCIE_GEN4 = Interconnect(
    "PCIe Gen4 x16",
    32.0,
    "64 GB/s both directions: 16 GT/s × 16 lanes × 128b/130b ≈ 31.5 GB/s each way",
    "PCI-SIG PCI Express 4.0 base specification",
)
PCIE_GEN4_NO_P2P = Interconnect(
    "PCIe Gen4 x16, no peer-to-peer",
    25.0,
    "32 GB/s each way nominal; ~25 GB/s effective assumed",
    "GeForce RTX 40-series drivers do not enable GPU peer-to-peer, so NCCL stages every transfer "
    "through host memory; 25 GB/s is an assumption, measure with nccl-tests all_reduce_perf",
)
NVLINK_3 = Interconnect(
    "NVLink 3 + NVSwitch",
    300.0,
    "600 GB/s per GPU counting both directions (12 links × 50 GB/s)",
    "NVIDIA A100 Tensor Core GPU datasheet",
)
NVLINK_4 = Interconnect(
    "NVLink 4 + NVSwitch",
    450.0,
    "900 GB/s per GPU counting both directions (18 links × 50 GB/s)",
    "NVIDIA H100 Tensor Core GPU datasheet (H200: same NVLink 4)",
)


@dataclass(frozen=True)
class Gpu:
    """One GPU model. ``memory_gb`` is the marketed size; ``bf16_tflops`` the dense (no-sparsity) peak."""

    key: str
    name: str
    memory_gb: int
    bf16_tflops: float
    interconnect: Interconnect
    tflops_source: str
    aliases: tuple[str, ...] = ()

    @property
    def memory_bytes(self) -> int:
        """The marketed "GB" read as GiB (see the module docstring)."""
        return self.memory_gb * GiB


GPUS: dict[str, Gpu] = {
    g.key: g
    for g in (
        Gpu(
            "a10g",
            "NVIDIA A10G 24GB",
            24,
            70.0,
            PCIE_GEN4,
            "AWS-only variant of the A10 (125 TFLOPS); NVIDIA publishes no A10G sheet, 70 TFLOPS dense "
            "bf16 is the figure AWS partners quote (e.g. Baseten, 'NVIDIA A10 vs A10G')",
        ),
        Gpu("l4", "NVIDIA L4 24GB", 24, 121.0, PCIE_GEN4, "NVIDIA L4 datasheet: 242 TFLOPS bf16 with sparsity"),
        Gpu("l40s", "NVIDIA L40S 48GB", 48, 362.0, PCIE_GEN4, "NVIDIA L40S datasheet: 733 TFLOPS bf16 with sparsity"),
        Gpu("a100-40gb", "NVIDIA A100 SXM 40GB", 40, 312.0, NVLINK_3, "NVIDIA A100 datasheet", aliases=("a100-40", "a100_40gb")),
        Gpu("a100-80gb", "NVIDIA A100 SXM 80GB", 80, 312.0, NVLINK_3, "NVIDIA A100 datasheet", aliases=("a100-80", "a100_80gb")),
        Gpu(
            "h100",
            "NVIDIA H100 SXM 80GB",
            80,
            989.0,
            NVLINK_4,
            "NVIDIA H100 datasheet: 1979 TFLOPS bf16 with sparsity",
            aliases=("h100-80gb", "h100-sxm"),
        ),
        Gpu(
            "h200",
            "NVIDIA H200 SXM 141GB",
            141,
            989.0,
            NVLINK_4,
            "NVIDIA H200 datasheet: 1979 TFLOPS bf16 with sparsity",
            aliases=("h200-141gb",),
        ),
        Gpu(
            "rtx4090",
            "NVIDIA GeForce RTX 4090 24GB (prosumer, PCIe only, no NVLink)",
            24,
            165.2,
            PCIE_GEN4_NO_P2P,
            "NVIDIA Ada Lovelace architecture whitepaper: 165.2 TFLOPS bf16 with FP32 accumulate (330 with FP16 accumulate)",
            aliases=("4090", "rtx-4090", "geforce-rtx-4090"),
        ),
    )
}


@dataclass(frozen=True)
class Instance:
    """An EC2 instance type; SageMaker's name for it is ``ml.`` + the EC2 name."""

    name: str
    gpu: str
    gpu_count: int
    vcpus: int
    hourly_usd: float | None = None
    network_gbps: float | None = None

    @property
    def sagemaker_name(self) -> str:
        """The SageMaker hosting/training instance type."""
        return f"ml.{self.name}"


def _family(prefix: str, gpu: str, prices: dict[str, float], network: dict[str, float]) -> list[Instance]:
    # Every G5/G6/G6e size: vCPUs and GPU count follow the same pattern across the three families.
    sizes = {
        "xlarge": (4, 1),
        "2xlarge": (8, 1),
        "4xlarge": (16, 1),
        "8xlarge": (32, 1),
        "16xlarge": (64, 1),
        "12xlarge": (48, 4),
        "24xlarge": (96, 4),
        "48xlarge": (192, 8),
    }
    return [
        Instance(f"{prefix}.{size}", gpu, count, vcpus, prices.get(size), network.get(size))
        for size, (vcpus, count) in sizes.items()
    ]


INSTANCES: dict[str, Instance] = {
    i.name: i
    for i in (
        *_family(
            "g5",
            "a10g",
            {
                "xlarge": 1.006,
                "2xlarge": 1.212,
                "4xlarge": 1.624,
                "8xlarge": 2.448,
                "16xlarge": 4.096,
                "12xlarge": 5.672,
                "24xlarge": 8.144,
                "48xlarge": 16.288,
            },
            {"12xlarge": 40, "24xlarge": 50, "48xlarge": 100},
        ),
        *_family(
            "g6",
            "l4",
            {"xlarge": 0.8048, "12xlarge": 4.6016, "48xlarge": 13.3504},
            {"12xlarge": 40, "24xlarge": 50, "48xlarge": 100},
        ),
        *_family(
            "g6e",
            "l40s",
            {"xlarge": 1.861, "12xlarge": 10.49264, "48xlarge": 30.13118},
            {"12xlarge": 100, "24xlarge": 200, "48xlarge": 400},
        ),
        Instance("p4d.24xlarge", "a100-40gb", 8, 96, 32.7726, 400),
        Instance("p4de.24xlarge", "a100-80gb", 8, 96, None, 400),
        Instance("p5.48xlarge", "h100", 8, 192, 98.32, 3200),
        Instance("p5e.48xlarge", "h200", 8, 192, None, 3200),
    )
}


def get_gpu(name: str) -> Gpu:
    """A GPU by key or alias (``h100``, ``a100-80gb``, ``4090``…); unknown names list the known ones."""
    key = name.strip().lower().removeprefix("nvidia-").replace(" ", "-")
    for gpu in GPUS.values():
        if key == gpu.key or key in gpu.aliases:
            return gpu
    close = difflib.get_close_matches(key, list(GPUS), n=3, cutoff=0.4)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise GpuPlanError(f"unknown GPU {name!r}: {hint}known GPUs: {', '.join(GPUS)}")


def get_instance(name: str) -> Instance:
    """An instance by EC2 or SageMaker name (``g5.12xlarge`` or ``ml.g5.12xlarge``)."""
    key = name.strip().lower().removeprefix("ml.")
    if key in INSTANCES:
        return INSTANCES[key]
    close = difflib.get_close_matches(key, list(INSTANCES), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    raise GpuPlanError(f"unknown instance type {name!r}: {hint}known: {', '.join(INSTANCES)}")


def smallest_instance(gpu: str, count: int) -> Instance | None:
    """The cheapest-looking instance carrying at least ``count`` of ``gpu``: fewest GPUs, then fewest vCPUs."""
    fitting = [i for i in INSTANCES.values() if i.gpu == gpu and i.gpu_count >= count]
    return min(fitting, key=lambda i: (i.gpu_count, i.vcpus), default=None)
