"""The ``[ray]`` table: a bad key is an error that names it, before any Ray is joined; embedder
actors that cannot all start on a local Ray are refused up front instead of waiting forever."""

from __future__ import annotations

from pathlib import Path

import pytest
import ray

from inhouse import Assistant
from inhouse.engines import open_engine
from inhouse.errors import ConfigError
from inhouse_ray.engine import RayEngine
from inhouse_ray.settings import RaySettings

# A store and an embedder that build without a model: the engine reads [ray] before anything else.
BASE = '[embedder]\nuse = "minilm"\n[store]\nuse = "local"\n'


def _assistant(folder: Path, ray_table: str) -> Assistant:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "plugins.toml"
    path.write_text(f"{BASE}\n[ray]\n{ray_table}\n")
    return Assistant.from_config(path, home=folder / "home")


@pytest.mark.parametrize(
    ("table", "key"),
    [("workers = 0", "ray.workers"), ("wokers = 2", "ray.wokers"), ("batch_size = -1", "ray.batch_size")],
)
def test_a_bad_ray_key_is_named_before_ray_is_joined(tmp_path: Path, table: str, key: str) -> None:
    was_connected = ray.is_initialized()
    with _assistant(tmp_path, table) as assistant, pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        open_engine("ray", None, assistant)
    assert ray.is_initialized() == was_connected


def test_the_engine_is_the_ray_entry_point_and_reads_the_ray_table(tmp_path: Path) -> None:
    assert RayEngine.Config is RaySettings
    with _assistant(tmp_path, 'address = "ray://head:10001"\nin_flight = 3') as assistant:
        options = RaySettings.from_config(assistant.settings)
    assert (options.address, options.in_flight, options.workers) == ("ray://head:10001", 3, None)


def test_more_actors_than_a_local_ray_holds_is_refused(tmp_path: Path, ray_address: str) -> None:
    refused = pytest.raises(ConfigError, match=r"ray\.workers: 2 embedder actors .* on this Ray's 2 CPUs")
    with _assistant(tmp_path / "two", "workers = 2") as assistant, refused:  # 2 actors of 1 CPU + a parsing task > 2 CPUs
        open_engine("ray", None, assistant)
    with _assistant(tmp_path / "default", "") as assistant, open_engine("ray", None, assistant) as engine:
        assert engine.workers == 1  # the default: as many as fit beside a parsing task
    assert ray.is_initialized()
