"""The configuration: errors that name their key, host/port/user with a password read from the
environment (a real scram-sha-256 login), RDS/Aurora IAM tokens signed offline by boto3, and the
residency each address implies."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from inhouse import config, registry
from inhouse.errors import ConfigError
from inhouse_pgvector.connect import conninfo, iam_token, judge, password
from inhouse_pgvector.store import PgvectorStore


def build(spec: dict, tmp_path: Path) -> PgvectorStore:
    return registry.build("stores", {"use": "pgvector", **spec}, "store", home=tmp_path, base_dir=tmp_path)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, r"store.host: Value error, set dsn \(a connection string\) or host"),
        ({"dsn": "postgresql://h/db", "host": "h"}, "store.host: Value error, give dsn or host, not both"),
        ({"host": "h", "hnsw_m": 32, "hnsw_ef_construction": 40}, "store.hnsw_ef_construction: .* >= 2 \\* hnsw_m \\(64\\)"),
        ({"host": "h", "pool_min": 4, "pool_max": 2}, "store.pool_max: .*at least pool_min \\(4\\)"),
        ({"host": "h", "iam_auth": True, "sslmode": "verify-full"}, "store.region: .*signs a token for one region"),
        ({"host": "h", "iam_auth": True, "region": "eu-west-1"}, 'store.sslmode: .*over TLS only: set sslmode = "verify-full"'),
        ({"host": "h", "password": "x", "iam_auth": True}, "store.iam_auth: .*remove password"),
        ({"host": "h", "table_prefix": "Bad-Name"}, "store.table_prefix: String should match pattern"),
        ({"host": "h", "db_schema": "x; drop"}, "store.db_schema: String should match pattern"),
        ({"host": "h", "iterative_scan": "sometimes"}, "store.iterative_scan: Input should be"),
        ({"host": "h", "ef_serach": 10}, "store.ef_serach: unknown key \\(did you mean 'ef_search'\\?\\)"),
    ],
)
def test_a_bad_setting_is_an_error_naming_its_key(spec: dict, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message):
        build(spec, tmp_path)


def test_host_port_user_and_a_password_from_the_environment(postgres: str, tmp_path: Path, monkeypatch) -> None:
    """``password = { env = "NAME" }`` is read at load time and logs in (the test server checks
    scram-sha-256 passwords); a wrong one is an error that names the server, not the password."""
    url = urlsplit(postgres)
    monkeypatch.setenv("INHOUSE_TEST_PG_PASSWORD", unquote(url.password or ""))
    file = tmp_path / "plugins.toml"
    file.write_text(
        '[embedder]\nuse = "minilm"\n\n[store]\nuse = "pgvector"\n'
        f'host = "{url.hostname}"\nport = {url.port}\ndbname = "postgres"\nuser = "postgres"\n'
        'password = { env = "INHOUSE_TEST_PG_PASSWORD" }\ndb_schema = "settings_env"\n'
    )
    settings = config.load(file)
    store = registry.build("stores", settings.store, "store", home=tmp_path, base_dir=tmp_path)
    assert store.count() == 0 and "postgres@127.0.0.1" in store.check()
    assert "INHOUSE_TEST_PG_PASSWORD" not in repr(store.config) and unquote(url.password or "") not in repr(store.config)
    store.close()
    monkeypatch.setenv("INHOUSE_TEST_PG_PASSWORD", "wrong-password")
    with pytest.raises(ConfigError, match=r"cannot connect to PostgreSQL at postgres@127.0.0.1:\d+/postgres: .*password") as err:
        registry.build("stores", config.load(file).store, "store", home=tmp_path, base_dir=tmp_path)
    assert "wrong-password" not in str(err.value)
    monkeypatch.delenv("INHOUSE_TEST_PG_PASSWORD")
    with pytest.raises(ConfigError, match=r"store\.password: set the environment variable INHOUSE_TEST_PG_PASSWORD"):
        config.load(file)


def test_a_malformed_dsn_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"store\.dsn: not a libpq connection string"):
        build({"dsn": "host=h port"}, tmp_path)


def test_tls_settings_reach_libpq(tmp_path: Path) -> None:
    cfg = PgvectorStore.Config.model_validate(
        {"host": "db.example.com", "sslmode": "verify-full", "sslrootcert": "certs/rds.pem"}, context={"base_dir": tmp_path}
    )
    info = conninfo(cfg)
    assert "sslmode=verify-full" in info and f"sslrootcert={tmp_path / 'certs' / 'rds.pem'}" in info


@pytest.mark.usefixtures("aws_credentials")
def test_iam_auth_signs_a_fresh_token_per_connection_offline() -> None:
    """boto3 signs the RDS token locally (no endpoint is called): host, port, user, region and an
    AWS signature, given to each new connection as its password."""
    cfg = PgvectorStore.Config(
        host="mydb.cluster-abc.eu-west-1.rds.amazonaws.com", port=5433, user="inhouse_app", dbname="rag",
        iam_auth=True, region="eu-west-1", sslmode="verify-full",
    )  # fmt: skip
    token = password(cfg, conninfo(cfg))()["password"]
    assert token.startswith("mydb.cluster-abc.eu-west-1.rds.amazonaws.com:5433/?Action=connect&DBUser=inhouse_app")
    assert "X-Amz-Signature=" in token and "eu-west-1%2Frds-db%2Faws4_request" in token and "AKIDTESTING" in token
    assert iam_token("h", 5432, "u", "us-east-1") != iam_token("h", 5432, "v", "us-east-1")
    no_user = PgvectorStore.Config(host="h", iam_auth=True, region="eu-west-1", sslmode="require")
    with pytest.raises(ConfigError, match=r"store\.iam_auth: the token is signed for a host and a user"):
        password(no_user, conninfo(no_user))


@pytest.mark.parametrize(
    ("dsn", "declared", "residency"),
    [
        ("postgresql://u@127.0.0.1/db", None, "local"),
        ("postgresql://u@localhost/db", None, "local"),
        ("host=/var/run/postgresql dbname=db", None, "local"),
        ("postgresql://u@10.0.3.7/db", None, "self-hosted"),
        ("postgresql://u@db.cluster-x.eu-west-1.rds.amazonaws.com/db", None, "in-account"),
        ("postgresql://u@db.cluster-x.eu-west-1.rds.amazonaws.com/db", "self-hosted", "self-hosted"),
    ],
)
def test_residency_follows_the_address(dsn: str, declared, residency: str) -> None:
    assert judge(dsn, declared)[0] == residency
