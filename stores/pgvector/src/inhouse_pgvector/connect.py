"""Connecting to PostgreSQL: the libpq parameters of the settings, RDS/Aurora IAM tokens, the
connection pool, and what the address says about residency.

With ``iam_auth`` every new connection gets a fresh token (tokens last 15 minutes; the pool
calls ``Connection.password`` each time it opens one). boto3 signs it locally from the AWS
credentials (no network call) and is imported only then.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool

from inhouse.errors import ConfigError
from inhouse.plugins import Residency
from inhouse_pgvector.settings import Settings


def conninfo(cfg: Settings) -> str:
    """The libpq connection string of the settings (without an IAM token: see :func:`password`)."""
    base = cfg.dsn.get_secret_value() if cfg.dsn is not None else ""
    fields: dict[str, Any] = {"host": cfg.host, "dbname": cfg.dbname, "user": cfg.user, "sslmode": cfg.sslmode}
    if cfg.host is not None:
        fields["port"] = cfg.port
    if cfg.password is not None:
        fields["password"] = cfg.password.get_secret_value()
    if cfg.sslrootcert is not None:
        fields["sslrootcert"] = str(cfg.sslrootcert)
    extra = {k: v for k, v in fields.items() if v is not None}
    try:
        return make_conninfo(base, connect_timeout=cfg.connect_timeout, application_name="inhouse", **extra)
    except psycopg.ProgrammingError as e:
        raise ConfigError(f"store.dsn: not a libpq connection string or URI ({e})") from None


def target(info: str) -> dict[str, Any]:
    """Host, port, database and user a connection string points at (never its password)."""
    params = conninfo_to_dict(info)
    return {k: params.get(k) for k in ("host", "port", "dbname", "user")}


def where(info: str) -> str:
    """``user@host:port/dbname`` for messages (no password)."""
    t = target(info)
    return f"{t['user'] or '(default user)'}@{t['host'] or '(local socket)'}:{t['port'] or 5432}/{t['dbname'] or '(default)'}"


def iam_token(host: str, port: int, user: str, region: str, profile: str | None = None) -> str:
    """An RDS/Aurora IAM authentication token for ``user`` at ``host:port``, signed locally by
    boto3 with the AWS credentials of ``profile`` (default chain when None)."""
    try:
        import boto3
    except ImportError:
        raise ConfigError("store.iam_auth needs boto3: pip install 'inhouse-pgvector[iam]'") from None
    client = boto3.Session(profile_name=profile, region_name=region).client("rds")
    return client.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user, Region=region)


def password(cfg: Settings, info: str) -> Callable[[], dict[str, Any]] | None:
    """For ``iam_auth``: a function giving each new connection ``{"password": <fresh token>}``."""
    if not cfg.iam_auth:
        return None
    t = target(info)
    if not t["host"] or not t["user"]:
        raise ConfigError("store.iam_auth: the token is signed for a host and a user: set host and user (or put them in dsn)")
    host, port, user, region = t["host"], int(t["port"] or 5432), t["user"], str(cfg.region)
    return lambda: {"password": iam_token(host, port, user, region, cfg.aws_profile)}


def judge(info: str, declared: Residency | None) -> tuple[Residency, str]:
    """``(residency, why)`` of a database at the connection string's host: ``local`` for loopback
    and Unix sockets, ``self-hosted`` for private addresses, else ``in-account`` (a managed
    database such as RDS/Aurora in the company's cloud account). ``declared`` wins."""
    if declared is not None:
        return declared, f"declared in the configuration (residency = {declared!r})"
    hosts = [h.strip() for h in str(target(info)["host"] or "").split(",")]
    if all(not h or h.startswith("/") or h == "localhost" or _address(h, "is_loopback") for h in hosts):
        return "local", "the database is on this machine (loopback or a Unix socket)"
    if all(_address(h, "is_private") for h in hosts):
        return "self-hosted", "the database is on a private network"
    return "in-account", 'a managed database in the company\'s account; set residency = "self-hosted" if it is yours'


def _address(host: str, kind: str) -> bool:
    try:
        return bool(getattr(ipaddress.ip_address(host), kind))
    except ValueError:
        return False


def open_pool(cfg: Settings, info: str, configure: Callable[[psycopg.Connection], None]) -> ConnectionPool:
    """A connection pool of ``pool_min`` to ``pool_max`` connections, each set up by ``configure``.

    Raises ``ConfigError`` (naming the server, never the password) when no connection opens."""
    pool = ConnectionPool(
        info,
        min_size=cfg.pool_min,
        max_size=cfg.pool_max,
        timeout=cfg.pool_timeout,
        kwargs=password(cfg, info),
        configure=configure,
        check=ConnectionPool.check_connection,  # a connection the server dropped (restart, failover) is replaced
        open=False,
        name=f"inhouse-pgvector {where(info)}",
    )
    pool.open()
    return pool


def first_connection(cfg: Settings, info: str) -> psycopg.Connection:
    """One connection outside the pool (for migrations), or a ``ConfigError`` saying what to check."""
    extra = password(cfg, info)
    try:
        return psycopg.connect(info, **(extra() if extra is not None else {}))
    except psycopg.OperationalError as e:
        reason = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise ConfigError(
            f"cannot connect to PostgreSQL at {where(info)}: {reason}. Check store.dsn (or host, port, dbname, user, "
            "password), that the server runs and accepts this client, and sslmode/sslrootcert."
        ) from None
