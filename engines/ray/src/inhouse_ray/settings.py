"""The ``[ray]`` table of plugins.toml: where ``inhouse ingest --ray`` runs and how wide.

```toml
[ray]
address = "ray://head:10001"   # the cluster to join when --ray-address is not given (default: a local Ray)
num_cpus = 8                   # CPUs of a local Ray (default: this machine's)
workers = 4                    # embedder actors (default: as many as fit beside the parsing tasks)
cpus_per_worker = 1            # CPUs each embedder actor reserves (its model's threads)
gpus_per_worker = 0            # GPUs each embedder actor reserves (0.5: two actors share one)
parse_cpus = 1                 # CPUs each parsing task reserves
batch_size = 64                # texts per call of an embedder actor, at most (fewer so that every actor gets some)
in_flight = 16                 # parsing tasks submitted ahead of the ingester
```

Every key is optional; an unknown one is an error that names it (``ray.wokers``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from inhouse.plugins import PluginConfig


class RaySettings(PluginConfig):
    """The validated ``[ray]`` table (see the module's docstring for each key)."""

    address: str | None = Field(None, min_length=1, description="the Ray cluster to join; None: a local Ray")
    num_cpus: int | None = Field(None, ge=1, description="CPUs of a local Ray (default: this machine's)")
    workers: int | None = Field(None, ge=1, le=1024, description="embedder actors (default: as many as fit)")
    cpus_per_worker: float = Field(1.0, ge=0, description="CPUs each embedder actor reserves")
    gpus_per_worker: float = Field(0.0, ge=0, description="GPUs each embedder actor reserves")
    parse_cpus: float = Field(1.0, gt=0, description="CPUs each parsing task reserves")
    batch_size: int = Field(64, ge=1, le=8192, description="texts per embedder actor call, at most")
    in_flight: int = Field(16, ge=1, le=4096, description="parsing tasks submitted ahead")

    @classmethod
    def from_config(cls, settings: Any) -> RaySettings:
        """The ``[ray]`` table of a loaded configuration (``inhouse.config.Settings``)."""
        return settings.table("ray", cls)
