"""The SDK: ``Assistant`` ties configuration, plugins, ingestion, retrieval and answering."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from inhouse import config as config_mod
from inhouse import registry
from inhouse.answer import NOT_FOUND, build_prompt, cite, is_refusal
from inhouse.ingest import Ingester, ProgressCallback
from inhouse.plugins import Connector, Embedder, Provider, SearchMode, Store
from inhouse.route import Router, RouteResult
from inhouse.types import Answer, Hit, IngestReport

PathsOrConnector = str | os.PathLike[str] | Connector | Iterable[str | os.PathLike[str]] | None
History = Sequence[dict[str, str]] | Sequence[tuple[str, str]]


class Assistant:
    """Ask questions about your documents.

    >>> assistant = Assistant.from_config()          # ./plugins.toml or the packaged default
    >>> assistant.ingest("examples/handbook")
    >>> answer = assistant.ask("How many vacation days do I get?")
    >>> answer.text, [c.source for c in answer.citations]

    Plugins are built on first use, so creating an Assistant is cheap.
    """

    def __init__(self, settings: config_mod.Settings, home: str | os.PathLike[str] | None = None):
        self.settings = settings
        self.home = config_mod.home_path(home)
        self._lock = threading.Lock()
        self._embedder: Embedder | None = None
        self._store: Store | None = None
        self._embedder_checked = False
        self.router = Router(settings.core.routing, self._build_provider)

    @classmethod
    def from_config(cls, path: str | os.PathLike[str] | None = None, home: str | os.PathLike[str] | None = None) -> Assistant:
        """Load ``path`` (else ``$INHOUSE_CONFIG``, ``./plugins.toml``, the packaged default)."""
        return cls(config_mod.load(path), home)

    # plugins -----------------------------------------------------------------------------

    def _build(self, kind: str, spec: dict[str, Any], where: str) -> Any:
        self.home.mkdir(parents=True, exist_ok=True)
        return registry.build(kind, spec, where, home=self.home, base_dir=self.settings.base_dir, source=self.settings.source)

    @property
    def embedder(self) -> Embedder:
        """The configured embedder (built on first use)."""
        with self._lock:
            if self._embedder is None:
                self._embedder = self._build("embedders", self.settings.embedder, "embedder")
            return self._embedder

    @property
    def store(self) -> Store:
        """The configured store (built on first use)."""
        with self._lock:
            if self._store is None:
                self._store = self._build("stores", self.settings.store, "store")
            return self._store

    def _build_provider(self, profile: str) -> Provider:
        return self._build("providers", self.settings.providers[profile], f"providers.{profile}")

    def _check_embedder(self, dimension: int | None = None) -> None:
        """Once per assistant: the store refuses vectors from a different embedder."""
        if not self._embedder_checked:
            embedder = self.embedder
            self.store.check_embedder(embedder.model_id, dimension or embedder.dimension)
            self._embedder_checked = True

    def connectors(self) -> list[Connector]:
        """The connectors of the configuration's ``[connectors.NAME]`` tables."""
        return [self._build("connectors", spec, f"connectors.{name}") for name, spec in self.settings.connectors.items()]

    # ingest ------------------------------------------------------------------------------

    def ingest(
        self,
        paths_or_connector: PathsOrConnector = None,
        *,
        rebuild: bool = False,
        progress: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """Ingest paths (files or folders), a connector, or (with None) every configured connector.

        ``rebuild`` empties the index first (after changing the embedder, for example)."""
        if paths_or_connector is None:
            connectors = self.connectors()
        elif isinstance(paths_or_connector, Connector):
            connectors = [paths_or_connector]
        else:
            items = [paths_or_connector] if isinstance(paths_or_connector, str | os.PathLike) else list(paths_or_connector)
            connectors = [
                self._build("connectors", {"use": "filesystem", "path": str(Path(p).resolve())}, "connectors.cli") for p in items
            ]
        if rebuild:
            self.store.reset()
        self._check_embedder()
        ingester = Ingester(self.embedder, self.store, self.settings.core.ingest)
        return ingester.run(connectors, show_progress=progress, on_progress=on_progress)

    # retrieve ----------------------------------------------------------------------------

    def search(
        self,
        query: str,
        k: int = 5,
        user: str | None = None,
        *,
        filters: dict[str, Any] | None = None,
        mode: SearchMode | None = None,
    ) -> list[Hit]:
        """The ``k`` best passages for ``query`` that ``user`` may read (at most
        ``[retrieval] per_document`` from any one document, when set)."""
        mode = mode or self.settings.core.retrieval.mode  # type: ignore[assignment]
        vector = None if mode == "bm25" else self.embedder.embed_query(query)
        if vector is not None:
            self._check_embedder(len(vector))
        acl = [user] if user else None
        per_doc = self.settings.core.retrieval.per_document
        raw = self.store.search(vector, query, k=k if per_doc is None else k * 4, acl=acl, filters=filters, mode=mode)
        if per_doc is None:
            return raw
        counts: dict[str, int] = {}
        hits = []
        for hit in raw:
            seen = counts.get(hit.chunk.doc_id, 0)
            if seen < per_doc:
                counts[hit.chunk.doc_id] = seen + 1
                hits.append(hit)
            if len(hits) == k:
                break
        return hits

    # answer ------------------------------------------------------------------------------

    def ask(self, question: str, user: str | None = None, history: History = (), mode: str | None = None) -> Answer:
        """Answer ``question`` from the documents ``user`` may read, with citations."""
        answer = None
        for item in self.stream(question, user=user, history=history, mode=mode):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def stream(
        self, question: str, user: str | None = None, history: History = (), mode: str | None = None
    ) -> Iterator[str | Answer]:
        """Yield the answer's text as it is generated, then the final ``Answer``."""
        t0 = time.perf_counter()
        settings = self.settings.core
        hits = self.search(question, k=settings.retrieval.k, user=user)
        t_retrieved = time.perf_counter()
        timings = {"retrieval_ms": (t_retrieved - t0) * 1000}
        best = max((h.dense for h in hits if h.dense is not None), default=None)
        use_case = mode or "default"
        if not hits or (best is not None and best < settings.retrieval.min_similarity):
            timings["first_token_ms"] = timings["total_ms"] = (time.perf_counter() - t0) * 1000
            yield NOT_FOUND
            yield Answer(NOT_FOUND, [], True, None, timings=timings)
            return
        context = hits[: settings.answer.context_passages]
        prompt = build_prompt(question, context, _as_messages(history), settings.answer)
        result = RouteResult(use_case=use_case, chain=self.router.chain(use_case))
        pieces: list[str] = []
        for piece in self.router.generate(use_case, prompt, result):
            if not pieces:
                timings["first_token_ms"] = (time.perf_counter() - t0) * 1000
            pieces.append(piece)
            yield piece
        timings["total_ms"] = (time.perf_counter() - t0) * 1000
        raw = "".join(pieces).strip()
        if is_refusal(raw):
            yield Answer(NOT_FOUND, [], True, result.provider, result.usage, timings, result.attempts)
            return
        text, citations = cite(raw, context)
        yield Answer(text, citations, False, result.provider, result.usage, timings, result.attempts)

    def warm_up(self, mode: str | None = None) -> None:
        """Load the embedder, the index and the first provider of ``mode``'s chain now, so the
        first question does not wait for them (the chat calls it while you type)."""
        self.embedder.embed_query("warm up")
        self.store.search(None, "warm up", k=1, mode="bm25")
        chain = self.router.chain(mode or "default")
        if chain:
            self.router.provider(chain[0]).warm_up()

    def close(self) -> None:
        """Release the models and the store."""
        self.router.close()
        for plugin in (self._embedder, self._store):
            if plugin is not None:
                plugin.close()
        self._embedder = self._store = None

    def __enter__(self) -> Assistant:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _as_messages(history: History) -> list[dict[str, str]]:
    out = []
    for turn in history:
        if isinstance(turn, dict):
            out.append({"role": turn["role"], "content": turn["content"]})
        else:
            role, content = turn
            out.append({"role": role, "content": content})
    return out
