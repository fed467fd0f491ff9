"""Ingestion: connector -> parse -> chunk -> embed (batched) -> store, incrementally.

Unchanged files (same content hash) are skipped, changed ones replaced, deleted ones
removed. Each document is committed on its own, so a crash loses at most the batch in
flight, and one bad file never stops the run: it is reported with its reason.

Every source gets its ACL and sensitivity label here: what the connector says (its
configuration, a ``.inhouse-acl`` file), else ``[[access.rules]]`` and the defaults
(``inhouse.access.Rules``). A stored document whose ACL or label differs from the resolved
one is updated in the store before anything else, content changed or not, so a tightened
permission never waits for the file to change; a source the connector could not read (nor
its access file) is hidden (empty ACL) until it reads again.

An item that failed after it was read (parse error, no text, unsupported type) is kept in
``inhouse.failures`` and, while its hash stays the same, reported failed again without ``open``.

Files are read here; parsing with chunking and embedding run where the ``engine`` says
(:mod:`inhouse.engines`: this process by default, a Ray cluster with ``inhouse-ray``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from opentelemetry import trace
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from inhouse.access import Rules
from inhouse.chunking import Chunker
from inhouse.config import IngestSettings
from inhouse.engines import Engine
from inhouse.errors import IngestError
from inhouse.failures import Failure, FailureLog, setup_fingerprint
from inhouse.parsing import UnsupportedType
from inhouse.parsing.sandbox import parse_sandboxed
from inhouse.plugins import Connector, DocumentRecord, Embedder, Store
from inhouse.providerkit.retry import Backoff, call_with_retries
from inhouse.tracing import REQUEST_ID, Tracing
from inhouse.types import Chunk, IngestReport, Source

ProgressCallback = Callable[[int, int, str], None]


@dataclass
class _Parsed:
    source: Source
    record: DocumentRecord | None
    chunks: list[Chunk]
    status: str  # "added" | "updated" | "failed" | "skipped"
    reason: str = ""
    lasting: bool = False  # failed after it was read: fails again until its content changes
    known: bool = False  # a kept failure, reported without reading it again


@dataclass
class _Read:
    """A file read and waiting to be parsed and chunked (by ``_Split``, wherever the engine runs it)."""

    source: Source
    data: bytes
    status: str  # "added" | "updated"
    connector: str  # its connector's entry-point name


class _Split:
    """Parses and chunks one file that was read (``_Read``), or passes on what stopped it
    before (``_Parsed``); never raises for a bad file. Picklable, so an engine may run it elsewhere."""

    def __init__(self, settings: IngestSettings):
        self.settings = settings
        self.chunker = Chunker(settings.chunk_size, settings.chunk_overlap)

    def __call__(self, job: _Read | _Parsed) -> _Parsed:
        if isinstance(job, _Parsed):
            return job
        src = job.source
        try:
            doc = parse_sandboxed(job.data, src.path, src.media_type, self.settings)
            assert src.acl is not None and src.sensitivity is not None  # set by Ingester._resolve
            chunks = self.chunker.split(doc, doc_id=src.id, source=src.path, acl=src.acl)
            if not chunks:
                raise IngestError("no text found")
            for chunk in chunks:
                chunk.sensitivity = src.sensitivity
        except Exception as exc:
            return _failed(src, exc, read=bool(src.hash))
        record = DocumentRecord(
            src.id, src.path, src.root, doc.title, src.hash, src.modified, src.acl, job.connector, src.sensitivity
        )
        return _Parsed(src, record, chunks, job.status)


class _TracedSplit:
    """``_Split`` with an ``inhouse.ingest.parse`` span per file, for the engine that runs it in this process."""

    def __init__(self, split: _Split, tracing: Tracing, parent: trace.Span | None):
        self.split, self.tracing, self.parent = split, tracing, parent

    def __call__(self, job: _Read | _Parsed) -> _Parsed:
        if isinstance(job, _Parsed):
            return job
        with self.tracing.span("inhouse.ingest.parse", self.parent, {"inhouse.media_type": job.source.media_type or ""}) as span:
            parsed = self.split(job)
            span.set_attributes({"inhouse.status": parsed.status, "inhouse.chunks": len(parsed.chunks)})
        return parsed


def _failed(src: Source, exc: Exception, read: bool) -> _Parsed:
    """What ``exc`` makes of ``src`` (``read``: its bytes were read, so a failure lasts until they change)."""
    if isinstance(exc, UnsupportedType):
        return _Parsed(src, None, [], "skipped", str(exc), lasting=read)
    if isinstance(exc, IngestError):
        return _Parsed(src, None, [], "failed", str(exc), lasting=read and not exc.retryable)
    if isinstance(exc, OSError):
        return _Parsed(src, None, [], "failed", f"unreadable: {exc.strerror or exc}")
    # a parser bug must not stop the run; report it
    return _Parsed(src, None, [], "failed", f"{type(exc).__name__}: {exc}", lasting=read)


class Ingester:
    """Runs ingestion for connectors into one store with one embedder."""

    def __init__(
        self,
        embedder: Embedder,
        store: Store,
        settings: IngestSettings,
        rules: Rules,
        may_embed: Callable[[str], bool],
        failures: FailureLog,
        engine: Engine | None = None,
        tracing: Tracing | None = None,
    ):
        self.embedder = embedder
        self.engine = engine or Engine(embedder)  # where parsing and embedding run
        self.store = store
        self.settings = settings
        self.rules = rules
        self.may_embed = may_embed  # whether the embedder may receive text of this label ([policy])
        self.split = _Split(settings)
        self.backoff = Backoff(settings.open_backoff_s, cap=30.0)
        self.retried = 0  # open() calls tried again (counted in the parsing thread)
        self.failures = failures
        self.setup = setup_fingerprint(settings)
        self.tracing = tracing or Tracing()
        self.request = uuid.uuid4().hex  # this run's id: its spans and the ledger row of its embedding
        self._span: trace.Span | None = None  # the run's ``inhouse.ingest`` span, while it runs

    def run(
        self,
        connectors: Iterable[Connector],
        *,
        show_progress: bool = False,
        on_progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """Ingest every connector; returns the combined report. Spans (when tracing):
        ``inhouse.ingest`` over ``inhouse.ingest.connector`` of each connector, ``inhouse.ingest.read``
        and (in this process) ``inhouse.ingest.parse`` of each file, ``inhouse.ingest.embed`` and
        ``inhouse.ingest.upsert`` of each batch."""
        started = time.perf_counter()
        report = IngestReport()
        with self.tracing.span("inhouse.ingest", attributes={REQUEST_ID: self.request}) as self._span:
            with _progress(show_progress) as bar:
                for connector in connectors:
                    with self.tracing.span("inhouse.ingest.connector", self._span, {"inhouse.connector": connector.use}):
                        self._one(connector, report, bar, on_progress)
            self.store.flush()
            self._span.set_attributes({"inhouse.chunks": report.chunks, "inhouse.failed": len(report.failed)})
        report.retried = self.retried
        report.seconds = time.perf_counter() - started
        return report

    def _one(self, connector: Connector, report: IngestReport, bar: Progress | None, cb: ProgressCallback | None) -> None:
        root = str(connector.root)
        stored = self.store.documents(root)
        known = self.failures.load(root)
        sources = [self._resolve(s) for s in connector.fetch()]  # an unreachable root raises before anything is removed
        seen = {s.id for s in sources}
        todo = []
        for src in sources:
            old = stored.get(src.id)
            access_changed = old is not None and (old.acl, old.sensitivity) != (src.acl, src.sensitivity)
            if access_changed and not self._set_access(old, src):
                old = None  # the store cannot change access alone: the document is indexed again
            # An index written before documents recorded their connector re-reads them once.
            same_connector = old is not None and (old.connector == connector.use or not connector.use)
            if old is not None and old.hash == src.hash and not src.error and same_connector:
                if access_changed:
                    report.updated += 1
                else:
                    report.unchanged += 1
            else:
                todo.append(src)
        gone = [doc_id for doc_id, record in stored.items() if doc_id not in seen and connector.covers(record.source)]
        if gone:
            self.store.delete(gone)
            report.removed += len(gone)
        forget = {i for i, f in known.items() if i not in seen and connector.covers(f.path)} | {s.id for s in todo}
        keep: dict[str, Failure] = {}
        task = bar.add_task(f"{root}", total=len(todo)) if bar is not None else None
        done = 0

        def advance(items: list[_Parsed]) -> None:
            nonlocal done
            for item in items:
                done += 1
                if bar is not None:
                    bar.update(task, advance=1, description=item.source.path[-40:])
                if cb is not None:
                    cb(done, len(todo), item.source.path)

        batch: list[_Parsed] = []
        pending = 0
        traced = self.tracing.active and type(self.engine) is Engine  # another engine parses elsewhere: not traced
        split = _TracedSplit(self.split, self.tracing, self._span) if traced else self.split
        for item in self.engine.split(split, (self._read(connector, src, stored, known) for src in todo)):
            if item.status in ("failed", "skipped"):
                getattr(report, item.status).append({"path": item.source.path, "reason": item.reason})
                src = item.source
                if item.known:
                    forget.discard(src.id)
                    report.failed_unchanged += 1
                elif item.lasting:
                    keep[src.id] = Failure(src.path, src.hash, item.status, item.reason, self.setup)
                advance([item])
                continue
            batch.append(item)
            pending += len(item.chunks)
            if pending >= self.settings.batch_size:
                self._commit(batch, report)
                advance(batch)
                batch, pending = [], 0
        self._commit(batch, report)
        advance(batch)
        self.failures.save(root, forget, keep)

    def _resolve(self, src: Source) -> Source:
        """``src`` with its final ACL and label; an unreadable one with an empty ACL (nobody)."""
        if src.error:
            return replace(src, acl=(), sensitivity=src.sensitivity or self.rules.default_label)
        acl, label = self.rules.resolve(src.path, src.acl, src.sensitivity)
        return replace(src, acl=acl, sensitivity=label)

    def _set_access(self, old: DocumentRecord, src: Source) -> bool:
        """Give a stored document ``src``'s ACL and label without re-embedding; False when the
        store cannot (then it is indexed again)."""
        assert src.acl is not None and src.sensitivity is not None
        try:
            self.store.set_access(old.id, src.acl, src.sensitivity)
        except NotImplementedError:
            return False
        return True

    def _read(
        self, connector: Connector, src: Source, stored: dict[str, DocumentRecord], known: dict[str, Failure]
    ) -> _Read | _Parsed:
        """``src`` read and ready to parse, or why not (an error, over the size limit, a kept failure)."""
        try:
            if src.error:
                raise IngestError(src.error)
            limit = self.settings.max_file_mb * 1024 * 1024
            if src.size > limit:
                raise IngestError(
                    f"file is {src.size / 1048576:.1f} MB, over the {self.settings.max_file_mb:g} MB limit ([ingest] max_file_mb)"
                )
            kept = known.get(src.id)
            if kept is not None and (kept.hash, kept.setup) == (src.hash, self.setup):
                return _Parsed(src, None, [], kept.status, f"{kept.reason} (unchanged since it failed)", known=True)
            with self.tracing.span("inhouse.ingest.read", self._span, {"inhouse.bytes": src.size}):
                data = self._open(connector, src.path)
        except Exception as exc:
            return _failed(src, exc, read=False)
        return _Read(src, data, "updated" if src.id in stored else "added", connector.use)

    def _open(self, connector: Connector, path: str) -> bytes:
        """``connector.open(path)``, tried again after a backoff while it fails with an
        ``IngestError(retryable=True)``, ``[ingest] open_attempts`` tries in all."""
        tries = 0

        def once() -> bytes:
            nonlocal tries
            tries += 1
            self.retried += tries > 1
            return connector.open(path)

        try:
            return call_with_retries(once, _retryable, self.settings.open_attempts, self.backoff)
        except IngestError as exc:
            if tries > 1:
                raise IngestError(f"{exc} (tried {tries} times)") from exc
            raise

    def _commit(self, batch: list[_Parsed], report: IngestReport) -> None:
        if not batch:
            return
        allowed = [item for item in batch if self.may_embed(item.source.sensitivity or self.rules.default_label)]
        texts = [c.embed_text() for item in allowed for c in item.chunks]
        with self.tracing.span("inhouse.ingest.embed", self._span, {"inhouse.texts": len(texts)}):
            vectors = self.engine.embed(texts) if texts else None
        with self.tracing.span("inhouse.ingest.upsert", self._span, {"inhouse.documents": len(batch)}):
            self._upsert(batch, allowed, vectors, report)

    def _upsert(self, batch: list[_Parsed], allowed: list[_Parsed], vectors: np.ndarray | None, report: IngestReport) -> None:
        """Store each parsed document of ``batch`` with its vectors (zeros for those not ``allowed`` to be embedded)."""
        offset = 0
        for item in batch:
            n = len(item.chunks)
            assert item.record is not None
            if vectors is not None and item in allowed:
                block, offset = vectors[offset : offset + n], offset + n
            else:  # its label may not reach this embedder: found by its words (BM25) only
                block = np.zeros((n, self.embedder.dimension), dtype=np.float32)
                report.not_embedded += 1
            self.store.upsert(item.record, item.chunks, block)
            report.chunks += n
            setattr(report, item.status, getattr(report, item.status) + 1)


# The connector plugin that reads paths given to ``Assistant.ingest``.
PATH_CONNECTOR = "filesystem"


def path_connectors(
    paths: list[Path],
    acl: Sequence[str] | None,
    configured: Sequence[tuple[tuple[str, dict[str, Any]], Connector]],
    build: Callable[[dict[str, Any], str], Connector],
) -> list[Connector]:
    """The connectors that ingest ``paths`` (resolved): a path inside the folder of a configured
    filesystem connector (``configured``: its table's name and spec, and the built connector)
    is ingested by that connector limited to it (``within``), so the ids, the ACL, the label,
    the ``.inhouse-acl`` files and the rules' paths are those of the whole folder; any other
    path, or any path given an explicit ``acl``, by a connector on the path itself."""
    chosen = []
    for path in paths:
        owner = next(((n, spec, Path(c.root).resolve()) for (n, spec), c in configured if _holds(c, path)), None)
        if owner is not None:
            name, spec, root = owner
            within = path.relative_to(root).as_posix()
            chosen.append(build({**spec, "within": "" if within == "." else within}, f"connectors.{name}"))
        else:
            chosen.append(build({"use": PATH_CONNECTOR, "path": str(path), "acl": list(acl or [])}, "connectors.cli"))
    return chosen


def _holds(connector: Connector, path: Path) -> bool:
    return connector.use == PATH_CONNECTOR and path.is_relative_to(Path(connector.root).resolve())


def _retryable(exc: Exception) -> tuple[Exception, bool]:
    """Whether the connector said retrying ``exc`` may help (it is raised as it is when not)."""
    return exc, isinstance(exc, IngestError) and exc.retryable


class _progress:
    """A rich progress bar, or nothing."""

    def __init__(self, show: bool):
        self.bar = (
            Progress(
                TextColumn("[bold]ingest[/]"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.description}"),
                transient=False,
            )
            if show
            else None
        )

    def __enter__(self) -> Progress | None:
        if self.bar is not None:
            self.bar.__enter__()
        return self.bar

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
