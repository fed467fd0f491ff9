"""``RayEngine``: ``inhouse ingest --ray``. Parsing and chunking run as Ray tasks, embedding in
a pool of batched embedder actors; reading files, access, failures and the store's upsert stay
in the ingester on this machine, so the index is the one a single-process ingest writes.

The core builds it through the ``inhouse.engines`` entry point as
``RayEngine(address, embedder, spec, settings)``; its settings are the ``[ray]`` table
(:mod:`inhouse_ray.settings`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, ClassVar, TypeVar

import numpy as np

from inhouse.engines import EmbedderSpec, Engine
from inhouse.errors import ConfigError
from inhouse_ray import cluster
from inhouse_ray.actors import COUNTED, EmbedderPool
from inhouse_ray.settings import RaySettings
from inhouse_ray.tasks import ordered_map

if TYPE_CHECKING:
    from inhouse.config import Settings
    from inhouse.plugins import Embedder

J = TypeVar("J")
R = TypeVar("R")


class RayEngine(Engine):
    """Ingestion on Ray: the cluster at ``address`` (else ``[ray] address``, else a local Ray
    started here and stopped by ``close``). ``embedder`` is the assistant's own: its ``usage``
    grows by what the actors' embedders sent, so the usage ledger reads as for one process."""

    Config: ClassVar[type[RaySettings]] = RaySettings

    def __init__(self, address: str | None, embedder: Embedder, spec: EmbedderSpec, settings: Settings):
        super().__init__(embedder)
        self.options = RaySettings.from_config(settings)
        self.address = address or self.options.address
        self.pool: EmbedderPool | None = None
        self.started = cluster.connect(self.address, self.options.num_cpus)
        try:
            workers = self._workers(settings.source)
            opts = self.options
            self.pool = EmbedderPool(
                spec, workers=workers, batch_size=opts.batch_size, num_cpus=opts.cpus_per_worker, num_gpus=opts.gpus_per_worker
            )
        except BaseException:
            self.close()
            raise

    def _workers(self, source: str) -> int:
        """How many embedder actors: ``[ray] workers``, else as many as the cluster's GPUs (with
        ``gpus_per_worker``) or CPUs hold beside one parsing task. On a local Ray, which will not
        grow, a number that cannot all start is a configuration error; a cluster's autoscaler may
        add the nodes they wait for."""
        opts = self.options
        cpus, gpus = cluster.cluster_cpus(), cluster.cluster_gpus()
        if opts.workers:
            workers = opts.workers
        elif opts.gpus_per_worker:
            workers = max(1, int(gpus // opts.gpus_per_worker))
        elif opts.cpus_per_worker:
            workers = max(1, int((cpus - opts.parse_cpus) // opts.cpus_per_worker))
        else:
            workers = 1
        if self.address is None:
            if workers * opts.cpus_per_worker + opts.parse_cpus > cpus:
                raise ConfigError(
                    f"{source}: ray.workers: {workers} embedder actors of ray.cpus_per_worker = {opts.cpus_per_worker:g} "
                    f"leave no room for a parsing task (ray.parse_cpus = {opts.parse_cpus:g}) on this Ray's {cpus:g} CPUs: "
                    "lower ray.workers or ray.cpus_per_worker, or raise ray.num_cpus"
                )
            if workers * opts.gpus_per_worker > gpus:
                raise ConfigError(
                    f"{source}: ray.gpus_per_worker: {workers} embedder actors of {opts.gpus_per_worker:g} GPUs "
                    f"need more than this Ray's {gpus:g} GPUs: lower ray.workers or ray.gpus_per_worker"
                )
        return workers

    @property
    def workers(self) -> int:
        """The number of embedder actors."""
        return len(self.pool.actors) if self.pool else 0

    def split(self, work: Callable[[J], R], jobs: Iterable[J]) -> Iterator[R]:
        """``work(job)`` for each job as a Ray task, in job order, ``[ray] in_flight`` ahead."""
        return ordered_map(work, jobs, in_flight=self.options.in_flight, num_cpus=self.options.parse_cpus)

    def embed(self, texts: list[str]) -> np.ndarray:
        """The float32 vectors of ``texts`` from the actors, ``[ray] batch_size`` texts per call,
        rows in the order of ``texts``; the assistant's embedder's ``usage`` grows by what they sent."""
        assert self.pool is not None  # built in __init__; None only after close()
        if not texts:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        parts, used = self.pool.embed(texts)
        usage = self.embedder.usage
        for name in COUNTED:
            setattr(usage, name, getattr(usage, name) + getattr(used, name))
        return np.concatenate(parts)

    def close(self) -> None:
        """End the embedder actors, and leave Ray when this engine joined it (a local Ray it
        started stops). Safe to call twice."""
        if self.pool is not None:
            self.pool.close()
            self.pool = None
        if self.started:
            cluster.disconnect()
            self.started = False
