"""The SDK: ``Assistant`` ties configuration, plugins, ingestion, retrieval and answering."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from inhouse import access, provisioning, registry
from inhouse import config as config_mod
from inhouse.answering import Pipeline, Request
from inhouse.answering.draft import Services
from inhouse.answering.evidence import EvidenceScorer, VectorCache
from inhouse.audit import AuditLog
from inhouse.budgets import Budgets
from inhouse.engines import Engine
from inhouse.errors import AccessDenied, IngestError
from inhouse.failures import FailureLog
from inhouse.ingest import Ingester, ProgressCallback, path_connectors
from inhouse.ledger import Call, Ledger, PriceTable
from inhouse.plugins import Connector, DocumentRecord, Embedder, Provider, SearchMode, Store
from inhouse.policy import Policy
from inhouse.route import Router
from inhouse.sdk import History, LocalSDK, as_messages, final_answer
from inhouse.store.snapshots import Tokenizer
from inhouse.tracing import Tracing
from inhouse.types import Answer, Hit, IngestReport, Usage
from inhouse.usecase import LanguageDetector

PathsOrConnector = str | os.PathLike[str] | Connector | Iterable[str | os.PathLike[str]] | None


class Assistant(LocalSDK):
    """Ask questions about your documents.

    >>> assistant = Assistant.from_config()          # ./plugins.toml or the packaged default
    >>> assistant.ingest("examples/handbook")
    >>> answer = assistant.ask("How many vacation days do I get?")
    >>> answer.text, [c.source for c in answer.citations]

    Plugins are built on first use, so creating an Assistant is cheap. The async variants
    (``aask``, ``astream``, ``asearch``) and ``conversation()`` come from ``inhouse.sdk``;
    ``inhouse.Client`` has the same methods over the HTTP API.
    """

    def __init__(self, settings: config_mod.Settings, home: str | os.PathLike[str] | None = None):
        self.settings = settings
        self.home = config_mod.home_path(home)
        self._lock = threading.Lock()
        self._embedder: Embedder | None = None
        self._store: Store | None = None
        self._embedder_checked = False
        self._ledger: Ledger | None = None
        self._audit: AuditLog | None = None
        self._pipeline: Pipeline | None = None
        self._sentence_vectors: VectorCache | None = None
        self._terms = Tokenizer("english", "en")  # the question words evidence looks for
        self.languages = LanguageDetector()
        core = settings.core
        self._connectors: dict[str, Connector] = {}  # by root: the connectors seen, for open_document
        self._configured_built = False
        self.vouched = access.Vouched()  # the groups a sign-in (the UI's OpenID Connect) vouches each user is in
        self.tracing = Tracing(core.tracing)  # spans of answers and ingestion ([tracing]); off unless configured
        prices = PriceTable(core.prices)
        self.router = Router(core.routing, self._build_provider, core.router, prices, lambda: self.ledger, tracing=self.tracing)
        self.budgets = Budgets(core.budgets, lambda: self.directory, lambda: self.ledger)  # checked before a user's model calls

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
        """The usage ledger (``<home>/usage.sqlite3``): every model call with tokens and cost;
        calls that send text out of the process also go to the audit log."""
        audit = self.audit
        with self._lock:
            if self._ledger is None:
                self._ledger = Ledger(self.home / "usage.sqlite3", audit)
            return self._ledger

    @property
    def audit(self) -> AuditLog | None:
        """The audit log (``<home>/audit.jsonl``), pruned to ``[audit] retention_days`` when
        first opened; None when ``[audit] enabled = false``."""
        settings = self.settings.core.audit
        if not settings.enabled:
            return None
        with self._lock:
            if self._audit is None:
                self._audit = AuditLog(self.home / "audit.jsonl", settings.retention_days)
                self._audit.prune()
            return self._audit

    def _record_embedding(self, before: Usage, started: float, user: str = "", request: str = "") -> None:
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
                request=request,
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

    def connectors(self, names: Sequence[str] | None = None) -> list[Connector]:
        """The connectors of the configuration's ``[connectors.NAME]`` tables (those of ``names`` only, when given)."""
        tables = [(name, spec) for name, spec in self.settings.connectors.items() if names is None or name in names]
        built = [self._remember(self._build("connectors", spec, f"connectors.{name}")) for name, spec in tables]
        self._configured_built = self._configured_built or names is None
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

    @property
    def directory(self) -> access.Directory:
        """The configured, signed-in and provisioned users and groups, afresh on each call (applies to the next query)."""
        return access.Directory(self.settings.core.users, self.vouched, provisioning.Provisioning(self.home).roster())

    def principals(self, user: str | None) -> list[str] | None:
        """The principals a request by ``user`` runs as (None: the trusted local caller)."""
        return self.directory.principals(user)

    def open_document(self, doc_id: str, user: str | None = None) -> tuple[DocumentRecord, bytes]:
        """The stored record and original bytes of document ``doc_id``, when ``user`` may read it.

        Raises ``AccessDenied`` alike for an unknown id, a document the user may not read and
        one whose original cannot be opened any more, so the answer says nothing about what
        exists. The bytes come from the connector that yielded the document."""
        record = self.store.document(doc_id)
        if record is None or not access.readable(record.acl, self.principals(user)):
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
        engine: Engine | None = None,
    ) -> IngestReport:
        """Ingest paths (files or folders), a connector, or (with None) every configured connector.

        ``rebuild`` empties the index first (after changing the embedder, for example).
        ``acl`` gives documents from paths these principals (``["user:NAME"]``, ``["*"]``; a plain
        name is a group); without it, access comes as ``inhouse.ingest.path_connectors`` says.
        ``engine`` runs parsing and embedding elsewhere (``inhouse.engines.open_engine``: Ray)."""
        if paths_or_connector is None:
            connectors = self.connectors()
        elif isinstance(paths_or_connector, Connector):
            connectors = [paths_or_connector]
        else:
            items = [paths_or_connector] if isinstance(paths_or_connector, str | os.PathLike) else list(paths_or_connector)
            configured = [] if acl else list(zip(self.settings.connectors.items(), self.connectors(), strict=True))
            build = lambda spec, where: self._build("connectors", spec, where)  # noqa: E731
            connectors = path_connectors([Path(p).resolve() for p in items], acl, configured, build)
        for connector in connectors:
            self._remember(connector)
        failures = FailureLog(self.home)
        if rebuild:
            self.store.reset()
            failures.clear()
        self._check_embedder()
        rules = access.Rules(self.settings.core.access, self.directory.configured)
        policy, residency = Policy(self.settings.core.policy), self.embedder.residency
        ingester = Ingester(
            self.embedder,
            self.store,
            self.settings.core.ingest,
            rules,
            lambda label: policy.may_send(label, residency),
            failures,
            engine,
            self.tracing,
        )
        before, started = replace(self.embedder.usage), time.perf_counter()
        try:
            return ingester.run(connectors, show_progress=progress, on_progress=on_progress)
        finally:
            self._record_embedding(before, started, request=ingester.request)

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
        acl = self.principals(user)
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
        profile: str | None = None,
    ) -> Answer:
        """Answer ``question`` from the documents ``user`` may read, with citations.

        ``mode`` picks a use case of ``[routing]`` (``reasoning``, ``multilingual``, ``image``,
        ``private``, ...); None or ``auto`` lets the router choose. ``images`` go to an
        image-to-image model; ``profile`` answers with one provider profile alone."""
        return final_answer(self.stream(question, user=user, history=history, mode=mode, images=images, profile=profile))

    def stream(
        self,
        question: str,
        user: str | None = None,
        history: History = (),
        mode: str | None = None,
        images: Sequence[bytes] = (),
        profile: str | None = None,
    ) -> Iterator[str | Answer]:
        """Yield the answer's text as it is generated, then the final ``Answer``.

        Give each ``history`` turn the ``"residency"`` of the answer it belongs to
        (``answer.route["history_residency"]``) so a private turn never reaches a less private
        model. ``profile`` answers with that provider profile alone; over ``[budgets]``: ``BudgetExceeded``."""
        self.budgets.check(user)
        request = Request(question, user, tuple(as_messages(history)), mode, tuple(bytes(b) for b in images), profile)
        for item in self.pipeline.stream(request):
            if isinstance(item, Answer) and self.audit is not None:
                self.audit.record_question(question, user, item, self.settings.core.audit.question_text)
            yield item

    @property
    def pipeline(self) -> Pipeline:
        """The answer pipeline (``inhouse.answering``), built on first use."""
        if self._pipeline is None:
            services = Services(
                settings=self.settings,
                search=self.search,
                store=self.store,
                router=self.router,
                languages=self.languages,
                scorer=self._scorer,
                embedder_residency=self.embedder.residency,
            )
            with self._lock:
                self._pipeline = self._pipeline or Pipeline(services, tracing=self.tracing)
        return self._pipeline

    def _scorer(self, dense: bool) -> EvidenceScorer:
        """An evidence scorer: the store's word stemming, and this embedder when ``dense``
        (its sentence vectors kept across questions: the same passages come back often)."""
        if not dense:
            return EvidenceScorer(self._terms.query)
        if self._sentence_vectors is None:
            self._sentence_vectors = VectorCache(self.embed)
        return EvidenceScorer(self._terms.query, self._sentence_vectors)

    def embed(self, texts: Sequence[str], user: str | None = None) -> np.ndarray:
        """The configured embedder's vectors of ``texts`` (one row each), recording in the
        ledger and the audit log what a remote embedder received, and for whom (``[budgets]`` first)."""
        self.budgets.check(user)
        embedder = self.embedder
        before, started = replace(embedder.usage), time.perf_counter()
        try:
            return embedder.embed(list(texts))
        finally:
            self._record_embedding(before, started, user or "")

    def warm_up(self, mode: str | None = None) -> None:
        """Load the embedder, the index and the first provider of ``mode``'s chain now, so the
        first question does not wait for them (the chat calls it while you type)."""
        self.embedder.embed_query("warm up")
        self.store.search(None, "warm up", k=1, mode="bm25")
        if any(self.settings.use_case(name).detect == "language" for name in self.settings.core.routing):
            self.languages.load()
        _ = self.pipeline
        chain = self.router.chain(mode or "default")
        if chain:
            self.router.provider(chain[0]).warm_up()

    def close(self) -> None:
        """Release the models and the store."""
        self.router.close()
        self.tracing.close()
        for plugin in (self._embedder, self._store, self.budgets, self._ledger):
            if plugin is not None:
                plugin.close()
        self._embedder = self._store = self._ledger = None

    def __enter__(self) -> Assistant:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
