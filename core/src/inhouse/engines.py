"""Ingestion engines: where the two heavy stages of :mod:`inhouse.ingest` run, parsing with
chunking and embedding.

The default :class:`Engine` runs them in this process, as ingestion always has: files are
read and parsed (in the sandboxed parser pool, :mod:`inhouse.parsing.sandbox`) in a thread
ahead of the embedding, which calls the configured embedder. Everything else (which sources
changed, access, failures, the store's upsert: the one commit point) stays in the ingester,
so an engine changes where the work runs, never what is indexed.

Another engine comes from a distribution through the ``inhouse.engines`` entry-point group
(``inhouse-ray``: ``inhouse ingest --ray``): the entry point names a subclass of
:class:`Engine`, built with ``cls(address, embedder, spec, settings)`` (see :func:`open_engine`).
The core never imports it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from inhouse.errors import InhouseError, PluginError

if TYPE_CHECKING:
    from inhouse.assistant import Assistant
    from inhouse.config import Settings
    from inhouse.plugins import Embedder

ENGINES_GROUP = "inhouse.engines"
#: Engines other distributions provide: asking for one that is not installed names the package.
OPTIONAL_ENGINES = {"ray": "inhouse-ray"}

J = TypeVar("J")
R = TypeVar("R")


@dataclass(frozen=True)
class EmbedderSpec:
    """How to build the configured embedder in another process (a Ray actor): its
    ``[embedder]`` table and where the configuration's relative paths resolve."""

    spec: dict[str, Any]
    home: Path
    base_dir: Path
    source: str = ""

    def build(self) -> Embedder:
        """A new embedder from the table, exactly as the assistant builds its own."""
        from inhouse import registry

        return registry.build("embedders", self.spec, "embedder", home=self.home, base_dir=self.base_dir, source=self.source)


class Engine:
    """Runs parsing and embedding in this process (the default). A subclass may run them
    anywhere, returning the same results: ``split`` in the order of its jobs, ``embed`` one
    row per text."""

    def __init__(self, embedder: Embedder):
        self.embedder = embedder

    def split(self, work: Callable[[J], R], jobs: Iterable[J]) -> Iterator[R]:
        """``work(job)`` for each job, in order. ``jobs`` is lazy (taking one may read a file);
        ``work`` is a picklable callable that never raises for a bad file (its result says)."""
        return _prefetch(work(job) for job in jobs)

    def embed(self, texts: list[str]) -> np.ndarray:
        """The embedder's float32 vectors of ``texts`` (its ``usage`` grows by what was sent)."""
        return np.asarray(self.embedder.embed(texts), dtype=np.float32)

    def close(self) -> None:
        """Release what the engine started (nothing here)."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_engine(name: str, address: str | None, assistant: Assistant) -> Engine:
    """Build engine ``name`` of the ``inhouse.engines`` group for ``assistant``'s embedder and
    settings (``address``: a cluster to join; None: the engine's own default, such as a local
    Ray). Raises ``InhouseError`` naming the package to install when none provides it."""
    found = [ep for ep in entry_points(group=ENGINES_GROUP) if ep.name == name]
    if not found:
        package = OPTIONAL_ENGINES.get(name)
        hint = f"pip install {package}" if package else f"install a package with an '{name}' entry point in {ENGINES_GROUP}"
        raise InhouseError(f"the '{name}' ingestion engine is not installed: {hint}")
    ep = found[0]
    try:
        cls = ep.load()
    except Exception as exc:  # a broken package must say who is broken
        dist = ep.dist.name if ep.dist else "?"
        raise PluginError(f"engine '{name}' of {dist} failed to import: {type(exc).__name__}: {exc}") from exc
    if not (isinstance(cls, type) and issubclass(cls, Engine)):
        raise PluginError(f"entry point '{name}' ({ENGINES_GROUP}) points to {ep.value}, which is not an inhouse.engines.Engine")
    settings: Settings = assistant.settings
    spec = EmbedderSpec(dict(settings.embedder), assistant.home, settings.base_dir, settings.source)
    return cls(address, assistant.embedder, spec, settings)


def _prefetch(items: Iterator[R], depth: int = 32) -> Iterator[R]:
    """Run ``items`` ahead in a thread, so parsing overlaps with embedding."""
    q: queue.Queue[object] = queue.Queue(maxsize=depth)
    end = object()

    def work() -> None:
        try:
            for item in items:
                q.put(item)
        except BaseException as exc:  # surfaced in the consumer
            q.put(exc)
        q.put(end)

    threading.Thread(target=work, daemon=True, name="inhouse-parse").start()
    while (item := q.get()) is not end:
        if isinstance(item, BaseException):
            raise item
        yield item  # type: ignore[misc]
