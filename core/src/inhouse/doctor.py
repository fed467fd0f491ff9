"""``inhouse doctor`` and ``inhouse plugins``: what is installed, configured and working."""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from inhouse import access, registry
from inhouse import config as config_mod
from inhouse.errors import InhouseError


@dataclass
class Check:
    """One line of the doctor's report."""

    name: str
    ok: bool
    detail: str


def plugin_rows() -> list[dict[str, object]]:
    """Every installed plugin with its declared capabilities and residency (imports each one).
    Entry points of one kind that name the same class (a parser's suffixes and media types)
    share one row, their names joined."""
    rows: dict[tuple[str, str], dict[str, object]] = {}
    for info in registry.describe_installed():
        key = (info.kind, info.target)
        if key in rows:
            rows[key]["name"] = f"{rows[key]['name']}, {info.name}"
            continue
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
        rows[key] = row
    return list(rows.values())


def profile_rows(config: Path | None, home: Path | None) -> list[dict[str, str]]:
    """Each configured embedder, connector and provider profile (the store is left out: building
    it opens the index) with the residency its
    instance reports and why (a server's address decides it for some plugins)."""
    try:
        settings = config_mod.load(config)
    except InhouseError as exc:
        return [{"profile": "configuration", "plugin": "", "residency": "?", "why": str(exc)}]
    home_dir = config_mod.home_path(home)
    rows = []
    for kind, spec, where in _configured(settings, store=False):
        try:
            plugin = registry.build(kind, spec, where, home=home_dir, base_dir=settings.base_dir, source=settings.source)
            row = {"profile": where, "plugin": spec["use"], "residency": plugin.residency, "why": plugin.residency_note}
            plugin.close()
        except InhouseError as exc:
            row = {"profile": where, "plugin": spec["use"], "residency": "?", "why": f"broken: {exc}"}
        rows.append(row)
    return rows


def _configured(settings: config_mod.Settings, store: bool = True) -> list[tuple[str, dict[str, Any], str]]:
    """(kind, table, TOML path) of every plugin the configuration names (the store's
    only when ``store``: building it opens the index)."""
    specs = [("embedders", settings.embedder, "embedder")] + ([("stores", settings.store, "store")] if store else [])
    specs += [("connectors", s, f"connectors.{n}") for n, s in settings.connectors.items()]
    specs += [("providers", s, f"providers.{n}") for n, s in settings.providers.items()]
    return specs


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
    for kind, spec, where in _configured(settings, store=False):
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
    checks.append(_access_check(settings, home_dir))
    checks.append(key_check(settings, home_dir))
    checks += sync_checks(settings, home_dir)
    checks += _table_checks(settings)
    omp = os.environ.get("OMP_WAIT_POLICY", "")
    checks.append(Check("OMP_WAIT_POLICY", True, omp or "unset (the local plugins default it to PASSIVE when they load)"))
    return checks


def _access_check(settings: config_mod.Settings, home: Path) -> Check:
    """Who may read what: without ``[users.NAME]`` everything is readable by the one local
    user; with users, sources nobody granted are visible to nobody, and the index's public
    and unreadable-by-anyone documents are counted."""
    users = settings.core.users
    if not users:
        return Check("access", True, "no [users] configured: everything is readable by the one local user")
    groups = sorted({g for u in users.values() for g in u.groups})
    detail = f"{len(users)} users, groups {', '.join(groups) or 'none'}; sources nobody granted are visible to nobody"
    try:
        store = registry.build("stores", settings.store, "store", home=home, base_dir=settings.base_dir, source=settings.source)
        try:
            records = store.documents().values()
        finally:
            store.close()
    except Exception as exc:  # the counts are extra: doctor reports, never crashes
        return Check("access", True, f"{detail} (documents not counted: {exc})")
    public = sum(1 for r in records if access.PUBLIC in r.acl)
    nobody = sum(1 for r in records if not r.acl)
    return Check("access", True, f"{detail}; stored: {len(records)} documents, {public} public, {nobody} visible to nobody")


def key_check(settings: config_mod.Settings, home: Path) -> Check:
    """The HTTP API's keys: with none, only this machine is served (as the local user); a key
    whose user is no longer in ``[users]`` fails the check (its requests would see nothing)."""
    from inhouse.keys import KeyStore

    try:
        active = [k for k in KeyStore(home).list() if not k.revoked]
    except Exception as exc:  # doctor reports, never crashes
        return Check("API keys", False, f"{home / 'api-keys.sqlite3'}: {exc}")
    if not active:
        return Check("API keys", True, "none: the HTTP API serves this machine only (loopback), as the local user")
    orphans = sorted({k.user for k in active if k.user not in settings.core.users})
    if orphans:
        names = ", ".join(orphans)
        return Check("API keys", False, f"{len(active)} active; keys of users not in [users]: {names} (revoke or add them)")
    return Check("API keys", True, f"{len(active)} active, for {len({k.user for k in active})} users")


def sync_checks(settings: config_mod.Settings, home: Path) -> list[Check]:
    """Each configured connector's last sync (``inhouse sync`` or the server's schedule): a
    sync that failed as a whole fails its check; items that failed are counted."""
    from inhouse.sync import SyncLog

    try:
        records = SyncLog(home).records()
    except Exception as exc:  # doctor reports, never crashes
        return [Check("sync", False, f"{home / 'sync.sqlite3'}: {exc}")]
    checks = []
    for name in settings.connectors:
        every = settings.schedules.get(name)
        schedule = (
            f"every {config_mod.duration_text(every)} while `inhouse serve` runs" if every else "no schedule: `inhouse sync`"
        )
        record = records.get(name)
        summary = record.summary() if record else "never synced"
        checks.append(Check(f"connectors.{name} sync", record is None or record.state != "failed", f"{summary} ({schedule})"))
    return checks


def _table_checks(settings: config_mod.Settings) -> list[Check]:
    """Each table another distribution owns (``[ui]``), validated by that distribution's model."""
    owners = {ep.name: ep for ep in entry_points(group=config_mod.SETTINGS_GROUP)}
    checks = []
    for name in settings.tables:
        try:
            settings.table(name, owners[name].load())
            checks.append(Check(f"[{name}]", True, f"read by {owners[name].dist.name if owners[name].dist else '?'}"))
        except Exception as exc:
            checks.append(Check(f"[{name}]", False, str(exc)))
    return checks
