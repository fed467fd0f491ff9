"""bench/gpu_check.py without a GPU: it skips cleanly, and its plain-torch Falcon on CPU confirms the
planner's activation formula."""

from __future__ import annotations

import dataclasses
import importlib.util
import weakref

import pytest

from inhouse_gpu import get_architecture
from support import REPO


def _gpu_check():
    """bench/gpu_check.py, loaded as a module."""
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "bench" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_check_skips_cleanly_without_a_gpu(monkeypatch, capsys):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _gpu_check().main([]) == 0
    assert "no GPU, skipped" in capsys.readouterr().out


def test_activation_formula_matches_a_tiny_cpu_forward_pass():
    """The plain-torch Falcon of bench/gpu_check.py on CPU, with an allocator stand-in for max_memory_allocated."""
    torch = pytest.importorskip("torch")
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    class PeakBytes(TorchDispatchMode):
        """Bytes of storages created inside the mode and still referenced; the peak of that."""

        def __init__(self, existing):
            super().__init__()
            self.existing = {t.untyped_storage().data_ptr() for t in existing}
            self.refs: dict[int, int] = {}
            self.live = self.peak = 0

        def _release(self, ptr, nbytes):
            self.refs[ptr] -= 1
            if not self.refs[ptr]:
                del self.refs[ptr]
                self.live -= nbytes

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for t in tree_flatten(out)[0]:
                if isinstance(t, torch.Tensor):
                    storage = t.untyped_storage()
                    ptr, nbytes = storage.data_ptr(), storage.nbytes()
                    if ptr in self.existing:
                        continue
                    if ptr not in self.refs:
                        self.refs[ptr] = 0
                        self.live += nbytes
                        self.peak = max(self.peak, self.live)
                    self.refs[ptr] += 1
                    weakref.finalize(t, self._release, ptr, nbytes)
            return out

    check = _gpu_check()
    falcon = get_architecture("falcon-7b")
    for vocab in (4096, 256):  # logits at the peak, then the MLP at the peak
        arch = dataclasses.replace(
            falcon, hidden_size=256, num_attention_heads=4, head_dim=64, intermediate_size=1024, vocab_size=vocab, num_layers=3
        )
        weights = check.torch_falcon_weights(arch, "cpu", torch.bfloat16)
        ids = torch.randint(0, vocab, (2, 64))
        existing = [ids, weights["embed"], *weights["ln_f"]]
        for layer in weights["layers"]:
            existing += [layer["qkv"], layer["dense"], layer["up"], layer["down"]]
            existing += [t for norm in layer["norms"] for t in norm]
        meter = PeakBytes(existing)
        with torch.no_grad(), meter:
            logits, cache = check.torch_falcon_forward(weights, arch, ids)
        assert logits.shape == (2, 64, vocab) and len(cache) == 3 and cache[0][0].shape == (2, 1, 64, 64)
        predicted = check.predict(arch, batch=2, context=64)
        measured = meter.peak + sum(t.numel() * t.element_size() for t in existing[1:])
        assert predicted["total_bytes"] == pytest.approx(measured, rel=0.05)
        assert predicted["kv_cache_bytes"] + predicted["activation_bytes"] == pytest.approx(meter.peak, rel=0.05)
