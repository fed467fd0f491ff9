"""What the benchmark runners share: the machine a result was measured on, and writing it."""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from rich.console import Console


def machine(**extra: Any) -> dict[str, Any]:
    """The machine of a measurement: CPUs, Python, platform (and ``extra`` facts)."""
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(), **extra}


def save(results: dict[str, Any], out: Path | None, console: Console) -> None:
    """Write ``results`` as indented JSON to ``out`` (its folder made; nothing when None) and say so."""
    if out is None:
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    console.print(f"wrote {out}")
