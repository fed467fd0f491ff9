"""The SDK: ``Assistant`` ties configuration, plugins, ingestion, retrieval and answering."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from inhouse import access, followup, registry, usecase
from inhouse import config as config_mod
from inhouse.answer import NOT_FOUND, build_prompt, cite, is_refusal
from inhouse.errors import AccessDenied, IngestError, ProviderError
from inhouse.ingest import Ingester, ProgressCallback
from inhouse.ledger import Call, Ledger, PriceTable
from inhouse.plugins import Artifact, Connector, DocumentRecord, Embedder, Prompt, Provider, SearchMode, Store
from inhouse.route import Router, RouteResult
from inhouse.types import Answer, Hit, IngestReport, Usage
from inhouse.usecase import LanguageDetector

# The connector plugin that ``ingest(paths)`` reads files and folders with.
PATH_CONNECTOR = "filesystem"
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
        self._ledger: Ledger | None = None
        self.languages = LanguageDetector()
        core = settings.core
        self._connectors: dict[str, Connector] = {}  # by root: the connectors seen, for open_document
        self._configured_built = False
        self.router = Router(core.routing, self._build_provider, core.router, PriceTable(core.prices), lambda: self.ledger)

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

    @property
    def ledger(self) -> Ledger:
        """The usage ledger (``<home>/usage.sqlite3``): every model call with tokens and cost."""
        with self._lock:
            if self._ledger is None:
                self._ledger = Ledger(self.home / "usage.sqlite3")
            return self._ledger

    def _record_embedding(self, before: Usage, started: float, user: str = "") -> None:
        """Ledger row for text an embedder sent to a remote model (local embedders send nothing)."""
        embedder = self.embedder
        if embedder.residency == "local":
            return
        sent = Usage(input_tokens=embedder.usage.input_tokens - before.input_tokens)
        model = embedder.model_id
        self.ledger.record(
            Call(
                kind="embed",
                profile="embedder",
                plugin=embedder.use,
                model=model,
                residency=embedder.residency,
                ok=True,
                usage=sent,
                user=user,
                cost_usd=self.router.prices.cost(embedder, model, sent),
                ms=(time.perf_counter() - started) * 1000,
            )
        )

    def _check_embedder(self, dimension: int | None = None) -> None:
        """Once per assistant: the store refuses vectors from a different embedder."""
        if not self._embedder_checked:
            embedder = self.embedder
            self.store.check_embedder(embedder.model_id, dimension or embedder.dimension)
            self._embedder_checked = True

    def connectors(self) -> list[Connector]:
        """The connectors of the configuration's ``[connectors.NAME]`` tables."""
        tables = self.settings.connectors.items()
        built = [self._remember(self._build("connectors", spec, f"connectors.{name}")) for name, spec in tables]
        self._configured_built = True
        return built

    def _remember(self, connector: Connector) -> Connector:
        with self._lock:
            self._connectors[str(connector.root)] = connector
        return connector

    def _connector_for(self, record: DocumentRecord) -> Connector | None:
        """The connector that can open ``record``: one this assistant has built with its root
        (the configured ones, those ``ingest`` used), else one its plugin rebuilds from the
        root alone (``Connector.reopen``), or None."""
        with self._lock:
            known = self._connectors.get(record.root)
        if known is None and not self._configured_built:
            self.connectors()
            with self._lock:
                known = self._connectors.get(record.root)
        if known is None and record.connector:
            cls = registry.load_class("connectors", record.connector)
            reopened = cls.reopen(record.root)  # type: ignore[attr-defined]
            known = self._remember(reopened) if reopened is not None else None
        return known

    def open_document(self, doc_id: str, user: str | None = None) -> tuple[DocumentRecord, bytes]:
        """The stored record and original bytes of document ``doc_id``, when ``user`` may read it.

        Raises ``AccessDenied`` alike for an unknown id, a document the user may not read and
        one whose original cannot be opened any more, so the answer says nothing about what
        exists. The bytes come from the connector that yielded the document."""
        record = self.store.document(doc_id)
        if record is None or not access.readable(record.acl, access.principals(user)):
            raise AccessDenied("no such document")
        connector = self._connector_for(record)
        try:
            if connector is None:
                raise IngestError(f"no connector can open documents of {record.root}")
            return record, connector.open(record.source)
        except IngestError as exc:  # the reason stays in the chain: it may name server paths
            raise AccessDenied("no such document") from exc

    # ingest ------------------------------------------------------------------------------

    def ingest(
        self,
        paths_or_connector: PathsOrConnector = None,
        *,
        rebuild: bool = False,
        progress: bool = False,
        on_progress: ProgressCallback | None = None,
        acl: Sequence[str] | None = None,
    ) -> IngestReport:
        """Ingest paths (files or folders), a connector, or (with None) every configured connector.

        ``rebuild`` empties the index first (after changing the embedder, for example).
        ``acl`` restricts documents ingested from paths to these principals (a user's own
        uploads: ``acl=[user]``); None or empty means everyone may read them."""
        if paths_or_connector is None:
            connectors = self.connectors()
        elif isinstance(paths_or_connector, Connector):
            connectors = [paths_or_connector]
        else:
            items = [paths_or_connector] if isinstance(paths_or_connector, str | os.PathLike) else list(paths_or_connector)
            spec: dict[str, Any] = {"use": PATH_CONNECTOR, "acl": list(acl or [])}
            connectors = [self._build("connectors", {**spec, "path": str(Path(p).resolve())}, "connectors.cli") for p in items]
        for connector in connectors:
            self._remember(connector)
        if rebuild:
            self.store.reset()
        self._check_embedder()
        ingester = Ingester(self.embedder, self.store, self.settings.core.ingest)
        before, started = replace(self.embedder.usage), time.perf_counter()
        try:
            return ingester.run(connectors, show_progress=progress, on_progress=on_progress)
        finally:
            self._record_embedding(before, started)

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
        vector = None
        if mode != "bm25":
            before, started = replace(self.embedder.usage), time.perf_counter()
            vector = self.embedder.embed_query(query)
            self._record_embedding(before, started, user or "")
            self._check_embedder(len(vector))
        acl = access.principals(user)
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

    def ask(
        self,
        question: str,
        user: str | None = None,
        history: History = (),
        mode: str | None = None,
        images: Sequence[bytes] = (),
    ) -> Answer:
        """Answer ``question`` from the documents ``user`` may read, with citations.

        ``mode`` picks a use case of ``[routing]`` (``reasoning``, ``multilingual``, ``image``,
        ``private``, ...); None or ``auto`` lets the router choose. ``images`` go to an
        image-to-image model."""
        answer = None
        for item in self.stream(question, user=user, history=history, mode=mode, images=images):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def stream(
        self,
        question: str,
        user: str | None = None,
        history: History = (),
        mode: str | None = None,
        images: Sequence[bytes] = (),
    ) -> Iterator[str | Answer]:
        """Yield the answer's text as it is generated, then the final ``Answer``."""
        t0 = time.perf_counter()
        core = self.settings.core
        choice = usecase.choose(question, mode, core.routing, core.router, self.languages, has_images=bool(images))
        result = RouteResult(
            use_case=choice.use_case,
            chain=self.router.chain(choice.use_case),
            reason=choice.reason,
            language=choice.language,
            user=user or "",
        )
        if choice.use_case == "image":
            answer = self._image(question, images, result, t0)
            yield answer.text
            yield answer
            return
        # A private question is not even embedded by a model outside private_residency: BM25 only.
        keep_in = choice.use_case == "private" and self.embedder.residency not in core.router.private_residency
        turns = _as_messages(history)
        query = followup.standalone(question, turns)
        if query != question:
            result.search_query = query
        hits = self.search(query, k=core.retrieval.k, user=user, mode="bm25" if keep_in else None)
        timings = {"retrieval_ms": (time.perf_counter() - t0) * 1000}
        best = max((h.dense for h in hits if h.dense is not None), default=None)
        # The similarity threshold is calibrated on English: a question in another language
        # is left to the model's own "not found" (a multilingual embedder is the real fix).
        calibrated = choice.use_case != "multilingual"
        if not hits or (calibrated and best is not None and best < core.retrieval.min_similarity):
            timings["first_token_ms"] = timings["total_ms"] = (time.perf_counter() - t0) * 1000
            yield NOT_FOUND
            yield Answer(NOT_FOUND, [], True, None, timings=timings, route=result.route(), cost_usd=0.0)
            return
        context = hits[: core.answer.context_passages]
        prompt = build_prompt(question, context, turns, core.answer)
        pieces: list[str] = []
        for piece in self.router.generate(prompt, result):
            if not pieces:
                timings["first_token_ms"] = (time.perf_counter() - t0) * 1000
            pieces.append(piece)
            yield piece
        timings["total_ms"] = (time.perf_counter() - t0) * 1000
        raw = "".join(pieces).strip()
        text, citations, abstained = (NOT_FOUND, [], True) if is_refusal(raw) else (*cite(raw, context), False)
        yield Answer(
            text,
            citations,
            abstained,
            result.provider,
            result.usage,
            timings,
            result.attempts,
            route=result.route(),
            cost_usd=result.cost_usd,
        )

    def _image(self, question: str, images: Sequence[bytes], result: RouteResult, t0: float) -> Answer:
        """An image request: no retrieval (documents never reach the image model)."""
        prompt = Prompt(system="", messages=[{"role": "user", "content": question}], images=[_as_image(b) for b in images])
        try:
            text = "".join(self.router.generate(prompt, result, need="image"))
        except ProviderError as exc:
            if exc.code != "content-filtered":
                raise
            text = str(exc)
        if result.artifacts and not text:
            text = f"Here is the image ({result.provider})." if len(result.artifacts) == 1 else "Here are the images."
        total = (time.perf_counter() - t0) * 1000
        return Answer(
            text,
            [],
            not result.artifacts,
            result.provider,
            result.usage,
            {"first_token_ms": total, "total_ms": total},
            result.attempts,
            route=result.route(),
            artifacts=result.artifacts,
            cost_usd=result.cost_usd,
        )

    def warm_up(self, mode: str | None = None) -> None:
        """Load the embedder, the index and the first provider of ``mode``'s chain now, so the
        first question does not wait for them (the chat calls it while you type)."""
        self.embedder.embed_query("warm up")
        self.store.search(None, "warm up", k=1, mode="bm25")
        if "multilingual" in self.settings.core.routing:
            self.languages.load()
        chain = self.router.chain(mode or "default")
        if chain:
            self.router.provider(chain[0]).warm_up()

    def close(self) -> None:
        """Release the models and the store."""
        self.router.close()
        for plugin in (self._embedder, self._store, self._ledger):
            if plugin is not None:
                plugin.close()
        self._embedder = self._store = self._ledger = None

    def __enter__(self) -> Assistant:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _as_image(data: bytes) -> Artifact:
    kinds = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"RIFF": "image/webp"}
    mime = next((m for magic, m in kinds.items() if data.startswith(magic)), "application/octet-stream")
    return Artifact(data=bytes(data), mime=mime)


def _as_messages(history: History) -> list[dict[str, str]]:
    out = []
    for turn in history:
        if isinstance(turn, dict):
            out.append({"role": turn["role"], "content": turn["content"]})
        else:
            role, content = turn
            out.append({"role": role, "content": content})
    return out
