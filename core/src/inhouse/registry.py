"""Finding plugins through entry points, loading only those the configuration names."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from inhouse.config import describe
from inhouse.errors import ConfigError, PluginError
from inhouse.plugins import GROUPS, Connector, Embedder, Parser, Plugin, Provider, Store

BASES: dict[str, type[Plugin]] = {
    "connectors": Connector,
    "embedders": Embedder,
    "stores": Store,
    "providers": Provider,
    "parsers": Parser,
}
CORE_DISTRIBUTION = "inhouse"
P = TypeVar("P", bound=Plugin)


@dataclass(frozen=True)
class PluginInfo:
    """An installed plugin as entry-point metadata says (nothing imported)."""

    kind: str
    name: str
    distribution: str
    version: str
    target: str


def installed(kind: str) -> dict[str, EntryPoint]:
    """Entry points of one kind (``connectors``, ``embedders``, ``stores``, ``providers``,
    ``parsers``) by name. When two distributions register one name, a third party's wins
    over the core's built-in (so a better PDF parser replaces ours by being installed)."""
    found: dict[str, EntryPoint] = {}
    for ep in entry_points(group=GROUPS[kind]):
        if ep.name not in found or _distribution(found[ep.name]) == CORE_DISTRIBUTION:
            found[ep.name] = ep
    return found


def _distribution(ep: EntryPoint) -> str:
    return ep.dist.name if ep.dist else "?"


def describe_installed() -> list[PluginInfo]:
    """Every installed plugin of every kind, without importing any."""
    out = []
    for kind in GROUPS:
        for name, ep in sorted(installed(kind).items()):
            dist = ep.dist
            out.append(PluginInfo(kind, name, dist.name if dist else "?", dist.version if dist else "?", ep.value))
    return out


def load_class(kind: str, name: str, where: str = "") -> type[Plugin]:
    """Import the plugin class behind entry point ``name`` of ``kind`` and check its base class."""
    eps = installed(kind)
    if name not in eps:
        known = sorted(eps)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        listed = ", ".join(known) or "none"
        raise ConfigError(
            f"{where + ': ' if where else ''}no {kind[:-1]} plugin named '{name}' is installed "
            f"(installed: {listed}).{hint} Install the package that provides it, then check `inhouse plugins`."
        )
    ep = eps[name]
    origin = f"entry point '{name}' ({GROUPS[kind]}) of distribution '{ep.dist.name if ep.dist else '?'}'"
    try:
        cls = ep.load()
    except Exception as exc:  # a broken third-party package must say who is broken
        raise PluginError(
            f"{origin} failed to import: {type(exc).__name__}: {exc}. "
            "Reinstall or upgrade that distribution, or stop using it in the configuration."
        ) from exc
    base = BASES[kind]
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise PluginError(f"{origin} points to {ep.value}, which is not a subclass of inhouse.plugins.{base.__name__}")
    return cls


def build(kind: str, spec: dict[str, Any], where: str, *, home: Path, base_dir: Path, source: str = "") -> Any:
    """Build a plugin from a configuration table (``use`` plus the plugin's own keys)."""
    options = {k: v for k, v in spec.items() if k != "use"}
    cls = load_class(kind, spec["use"], f"{source}: {where}.use" if source else f"{where}.use")
    try:
        config = cls.Config.model_validate(options, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError(describe(exc, where, source or "configuration", cls.Config)) from None
    plugin = cls(config, name=where.rsplit(".", 1)[-1], home=home)
    plugin.use = spec["use"]
    return plugin
