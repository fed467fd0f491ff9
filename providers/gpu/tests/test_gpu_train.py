"""The fine-tuning planner: FLOPs, time, cost, memory per GPU and communication per step, checked by hand."""

from __future__ import annotations

import pytest

from inhouse_gpu import GpuPlanError, get_architecture, render_train_plan, train_plan


def test_train_plan_llama_3_8b_full_on_8_h100():
    tp = train_plan(get_architecture("llama-3-8b"), tokens=10**9, method="full", gpu="h100", count=8, utilisation=0.4)
    n = 8_030_261_248
    assert tp.flops == 6 * n * 10**9
    # By hand: 6 × 8.03e9 × 1e9 = 4.818e19 FLOPs; 8 × 989e12 × 0.4 = 3.1648e15 FLOP/s → 15,224 s ≈ 4.2 h.
    assert tp.seconds == pytest.approx(15_224.2, abs=1)
    assert tp.instance == "p5.48xlarge" and tp.instances_needed == 1
    assert tp.cost_usd == pytest.approx(98.32 * 15_224.2 / 3600, rel=1e-4)
    # 16 bytes per parameter: 128 GB unsharded does not fit 80 GB; ZeRO-3 over 8 leaves 16 GB + activations.
    assert tp.unsharded.weights + tp.unsharded.gradients + tp.unsharded.optimizer == 16 * n
    assert tp.fits_sharded and not tp.fits_unsharded
    assert tp.comm_seconds_per_step < tp.compute_seconds_per_step
    assert "6 × N × tokens" in render_train_plan(tp)


def test_pcie_4090s_spend_18x_longer_communicating_than_nvlink_h100s():
    arch = get_architecture("llama-3-8b")
    h100 = train_plan(arch, tokens=10**9, gpu="h100", count=8)
    rtx = train_plan(arch, tokens=10**9, gpu="rtx4090", count=8)
    assert rtx.comm_bytes_per_gpu_per_step == h100.comm_bytes_per_gpu_per_step
    # NVLink 4: 900 GB/s counting both directions = 450 GB/s each way; 4090s: ~25 GB/s over PCIe, no P2P.
    assert rtx.comm_seconds_per_step / h100.comm_seconds_per_step == pytest.approx(450 / 25)
    assert rtx.cost_usd is None


def test_train_plan_lora_and_across_nodes():
    arch = get_architecture("llama-3-70b")
    lora = train_plan(arch, tokens=10**8, method="lora", gpu="h100", count=16, lora_rank=16)
    assert lora.trainable_params < 0.01 * lora.params
    assert lora.flops == (4 * lora.active_params + 6 * lora.trainable_params) * 10**8
    assert lora.instances_needed == 2 and lora.link_gb_s == 3200 / 8 / 8  # EFA: 400 GB/s per node
    assert lora.unsharded.optimizer == 12 * lora.trainable_params
    with pytest.raises(GpuPlanError, match="method"):
        train_plan(arch, tokens=1, method="qlora")
