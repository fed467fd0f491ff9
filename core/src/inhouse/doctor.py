"""``inhouse doctor`` and ``inhouse plugins``: what is installed, configured and working."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from inhouse import config as config_mod
from inhouse import registry
from inhouse.errors import InhouseError


@dataclass
class Check:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str


def plugin_rows() -> list[dict[str, object]]:
    """Every installed plugin with its declared capabilities and residency (imports each one)."""
    rows: list[dict[str, object]] = []
    for info in registry.describe_installed():
        row: dict[str, object] = {
            "kind": info.kind[:-1],
            "name": info.name,
            "distribution": info.distribution,
            "version": info.version,
            "capabilities": [],
            "residency": "?",
            "status": "ok",
        }
        try:
            cls = registry.load_class(info.kind, info.name)
            row["capabilities"] = sorted(cls.capabilities)
            row["residency"] = cls.residency
        except InhouseError as exc:
            row["status"] = f"broken: {exc}"
        rows.append(row)
    return rows


def run_checks(config: Path | None, home: Path | None) -> list[Check]:
    """Check the configuration, build every configured plugin, and try the data folder."""
    checks: list[Check] = []
    try:
        settings = config_mod.load(config)
    except InhouseError as exc:
        return [Check("configuration", False, str(exc))]
    checks.append(Check("configuration", True, settings.source))
    home_dir = config_mod.home_path(home)
    try:
        home_dir.mkdir(parents=True, exist_ok=True)
        probe = home_dir / ".doctor"
        probe.write_text("ok")
        probe.unlink()
        checks.append(Check("data folder", True, f"{home_dir} (writable)"))
    except OSError as exc:
        checks.append(Check("data folder", False, f"{home_dir}: {exc.strerror or exc}; set --home or $INHOUSE_HOME"))
    specs = [("embedders", settings.embedder, "embedder"), ("stores", settings.store, "store")]
    specs += [("connectors", s, f"connectors.{n}") for n, s in settings.connectors.items()]
    specs += [("providers", s, f"providers.{n}") for n, s in settings.providers.items()]
    for kind, spec, where in specs:
        try:
            plugin = registry.build(kind, spec, where, home=home_dir, base_dir=settings.base_dir, source=settings.source)
            detail = f"{spec['use']} ({plugin.residency})"
            check = getattr(plugin, "check", None)
            if callable(check):
                detail += f": {check()}"
            plugin.close()
            checks.append(Check(where, True, detail))
        except InhouseError as exc:
            checks.append(Check(where, False, str(exc)))
        except Exception as exc:  # doctor reports, never crashes
            checks.append(Check(where, False, f"{type(exc).__name__}: {exc}"))
    omp = os.environ.get("OMP_WAIT_POLICY", "")
    checks.append(Check("OMP_WAIT_POLICY", True, omp or "unset (the local plugins set PASSIVE themselves)"))
    return checks
