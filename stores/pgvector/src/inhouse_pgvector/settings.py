"""The settings of the ``pgvector`` store: where the database is, how to connect, how to index and rank.

Every check names its key (``store.hnsw_ef_construction: ...``): the registry prefixes the
location of each error with the configuration table.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from inhouse.plugins import ConfigPath, PluginConfig, Residency

SSLMode = Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]
IterativeScan = Literal["relaxed_order", "strict_order", "off"]
IDENTIFIER = r"^[a-z_][a-z0-9_]*$"
ENCRYPTED = ("require", "verify-ca", "verify-full")


class Settings(PluginConfig):
    """Settings of the ``pgvector`` store (the plugin's ``Config``)."""

    dsn: SecretStr | None = Field(
        None, description='libpq connection string or URI; write { env = "NAME" } when it holds a password'
    )
    host: str | None = Field(None, validate_default=True, description="server address (instead of dsn)")
    port: int = Field(5432, ge=1, le=65535)
    dbname: str | None = Field(None, description="database name (default: the user's name)")
    user: str | None = None
    password: SecretStr | None = Field(None, description='write { env = "NAME" }; not with iam_auth')
    iam_auth: bool = Field(False, description="sign an RDS/Aurora IAM token (boto3) as the password of each connection")
    region: str | None = Field(None, validate_default=True, description="AWS region of the database, for iam_auth")
    aws_profile: str | None = Field(None, description="AWS profile signing the IAM token (default: boto3's chain)")
    sslmode: SSLMode | None = Field(None, validate_default=True, description="libpq sslmode; verify-full for RDS/Aurora")
    sslrootcert: ConfigPath | None = Field(None, description="CA bundle the server's certificate is verified against")
    connect_timeout: int = Field(10, ge=1, description="seconds to wait for a connection")
    residency: Residency | None = Field(None, description="where the data lives, when the address does not tell")
    db_schema: str = Field("public", pattern=IDENTIFIER, max_length=63, description="PostgreSQL schema of the tables")
    table_prefix: str = Field("inhouse_", pattern=r"^[a-z_][a-z0-9_]*$|^$", max_length=32, description="table name prefix")
    pool_min: int = Field(1, ge=0, description="connections kept open")
    pool_max: int = Field(8, ge=1, description="most connections open at once")
    pool_timeout: float = Field(30.0, gt=0, description="seconds to wait for a free connection")
    hnsw_m: int = Field(16, ge=2, le=100, description="HNSW links per node (index size against recall)")
    hnsw_ef_construction: int = Field(64, ge=4, le=1000, description="HNSW build candidate list (>= 2 * hnsw_m)")
    maintenance_work_mem: str | None = Field(None, description='memory for building the HNSW index, e.g. "2GB"')
    ef_search: int = Field(
        200, ge=1, le=1000, description="HNSW search candidate list (1M chunks: 128 → recall@10 0.89, 256 → 0.965)"
    )
    iterative_scan: IterativeScan = Field("relaxed_order", description="pgvector 0.8 iterative index scans for filtered search")
    max_scan_tuples: int = Field(20000, ge=1, description="most index tuples an iterative scan visits")
    text_search: str = Field("english", pattern=IDENTIFIER, description="PostgreSQL text search configuration")
    candidates: int = Field(100, ge=1, description="per-method candidate depth before fusion")
    rrf_k: int = Field(60, ge=1, description="the k of reciprocal rank fusion")
    alpha: float = Field(0.5, ge=0, le=1, description="weight of dense against full-text search in the fusion")

    @field_validator("host")
    @classmethod
    def _one_address(cls, host: str | None, info: ValidationInfo) -> str | None:
        if "dsn" not in info.data:
            return host  # the dsn itself was invalid: that error is reported
        if host is None and info.data["dsn"] is None:
            raise ValueError("set dsn (a connection string) or host (with port, dbname, user, password)")
        if host is not None and info.data["dsn"] is not None:
            raise ValueError("give dsn or host, not both")
        return host

    @field_validator("region")
    @classmethod
    def _region_for_iam(cls, region: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("iam_auth") and not region:
            raise ValueError('iam_auth signs a token for one region: set region (e.g. "eu-west-1")')
        return region

    @field_validator("iam_auth")
    @classmethod
    def _no_password_with_iam(cls, iam: bool, info: ValidationInfo) -> bool:
        if iam and info.data.get("password") is not None:
            raise ValueError("with iam_auth the password is a signed token: remove password")
        return iam

    @field_validator("sslmode")
    @classmethod
    def _tls_for_iam(cls, mode: SSLMode | None, info: ValidationInfo) -> SSLMode | None:
        if info.data.get("iam_auth") and mode not in ENCRYPTED:
            raise ValueError('RDS/Aurora accept IAM tokens over TLS only: set sslmode = "verify-full" (and sslrootcert)')
        return mode

    @field_validator("pool_max")
    @classmethod
    def _pool_bounds(cls, most: int, info: ValidationInfo) -> int:
        if most < info.data.get("pool_min", 0):
            raise ValueError(f"must be at least pool_min ({info.data['pool_min']})")
        return most

    @field_validator("hnsw_ef_construction")
    @classmethod
    def _ef_construction(cls, ef: int, info: ValidationInfo) -> int:
        m = info.data.get("hnsw_m")
        if m is not None and ef < 2 * m:
            raise ValueError(f"pgvector needs hnsw_ef_construction >= 2 * hnsw_m ({2 * m})")
        return ef
