"""What the benchmark runners share: the machine a result was measured on, a summary of timings, writing it."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from rich.console import Console

from inhouse.evaluation.metrics import percentile


def machine(**extra: Any) -> dict[str, Any]:
    """The machine of a measurement: CPUs, Python, platform (and ``extra`` facts)."""
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(), **extra}


def summary(values_ms: list[float]) -> dict[str, float]:
    """n, p50, p95 and max of a list of milliseconds."""
    return {
        "n": len(values_ms),
        "p50": round(percentile(values_ms, 50), 3),
        "p95": round(percentile(values_ms, 95), 3),
        "max": round(max(values_ms), 3),
    }


def save(results: dict[str, Any], out: Path | None, console: Console) -> None:
    """Write ``results`` as indented JSON to ``out`` (its folder made; nothing when None) and say so."""
    if out is None:
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    console.print(f"wrote {out}")
