"""Embedding in a pool of Ray actors: each builds the configured embedder once (from
``inhouse.engines.EmbedderSpec``, exactly as the assistant builds its own) and embeds batches;
the pool splits a call's texts into batches across its idle actors (every actor gets one when
the call holds enough texts) and reassembles the rows in order, with the usage (tokens sent)
the actors' embedders counted."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import ray
from ray.util import ActorPool

from inhouse.engines import EmbedderSpec
from inhouse.types import Usage
from inhouse_ray.errors import unwrap

#: What an actor's embedder counts, summed into the driver's embedder (``Usage.latency_ms`` is not a count).
COUNTED = ("input_tokens", "output_tokens", "images")


@ray.remote
class EmbedderActor:
    """One embedder in a Ray worker process."""

    def __init__(self, spec: EmbedderSpec):
        self.embedder = spec.build()

    def embed(self, texts: Sequence[str]) -> tuple[np.ndarray, Usage]:
        """The float32 vectors of ``texts`` and the usage this call added to the embedder's counters."""
        before = replace(self.embedder.usage)
        vectors = np.asarray(self.embedder.embed(list(texts)), dtype=np.float32)
        after = self.embedder.usage
        return vectors, Usage(**{name: getattr(after, name) - getattr(before, name) for name in COUNTED})


class EmbedderPool:
    """``workers`` embedder actors of ``num_cpus`` CPUs and ``num_gpus`` GPUs each, spread over
    the cluster; an actor that dies is restarted and its batch sent again."""

    def __init__(self, spec: EmbedderSpec, *, workers: int, batch_size: int, num_cpus: float, num_gpus: float):
        self.batch_size = batch_size
        actor = EmbedderActor.options(
            num_cpus=num_cpus, num_gpus=num_gpus, max_restarts=2, max_task_retries=2, scheduling_strategy="SPREAD"
        )
        self.actors = [actor.remote(spec) for _ in range(workers)]  # the models load while files are parsed
        self.pool = ActorPool(self.actors)

    def embed(self, texts: Sequence[str]) -> tuple[list[np.ndarray], Usage]:
        """The vectors of ``texts`` (one array per batch, in order) and the usage all batches added.
        Batches hold at most ``batch_size`` texts, fewer when that keeps every actor busy."""
        size = max(1, min(self.batch_size, -(-len(texts) // len(self.actors))))
        batches = [list(texts[i : i + size]) for i in range(0, len(texts), size)]
        with unwrap("an embedder actor"):
            results = list(self.pool.map(lambda actor, batch: actor.embed.remote(batch), batches))
        used = Usage(**{name: sum(getattr(u, name) for _, u in results) for name in COUNTED})
        return [vectors for vectors, _ in results], used

    def close(self) -> None:
        """End the actors (their processes, models and clients with them)."""
        for actor in self.actors:
            ray.kill(actor)
        self.actors = []
