"""Copying an index from one store to another without re-embedding (``inhouse migrate``).

The source's ``Store.export()`` gives every document with its chunks and vectors; the target's
``upsert`` takes them as they are, and ``check_embedder`` tells the target which embedder made
them (``Store.embedder_of()`` of the source). Each document is written in one atomic upsert, so
an interrupted copy resumes where it stopped: a document already in the target with the same
record (hash, title, ACL, label, ...) is skipped, one whose ACL or label alone differs gets
``set_access``, anything else is written again (all of them with ``force``).

``verify`` then compares the two stores: chunk and document counts, every document's record,
and the top hit of a sample of dense searches (each with a copied chunk's own vector, once with
no ACL and once as the chunk's own principals), which must agree in both.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from inhouse.errors import ConfigError
from inhouse.plugins import DocumentRecord, Store
from inhouse.types import Chunk, Hit

#: Called after each document: (documents done, documents in all, chunks written so far).
MigrateProgress = Callable[[int, int, int], None]
SAMPLES = 20  # searches compared by verify (each twice: no ACL, then the chunk's own principals)
TIE = 1e-4  # two top hits with dense scores this close are a tie: either is the same answer


@dataclass
class Verification:
    """What ``verify`` found: equal counts and records, and the searches whose top hit agreed."""

    documents: tuple[int, int]  # (source, target)
    chunks: tuple[int, int]
    missing: list[str] = field(default_factory=list)  # document ids the target lacks
    differing: list[str] = field(default_factory=list)  # in both, with another record (hash, ACL, label, ...)
    extra: list[str] = field(default_factory=list)  # only in the target
    searches: int = 0
    agreed: int = 0
    disagreements: list[str] = field(default_factory=list)  # one line per search that did not agree

    @property
    def ok(self) -> bool:
        """Whether the target holds exactly the source's index."""
        same = self.documents[0] == self.documents[1] and self.chunks[0] == self.chunks[1]
        return same and not (self.missing or self.differing or self.extra) and self.agreed == self.searches


@dataclass
class MigrationReport:
    """The counts of one copy: documents written, updated in access only, skipped as already there."""

    documents: int = 0  # in the source
    copied: int = 0
    access: int = 0
    unchanged: int = 0
    chunks: int = 0  # chunks written
    extra: int = 0  # documents only in the target (removed when ``prune``)
    pruned: bool = False
    dry_run: bool = False
    seconds: float = 0.0
    embedder: tuple[str | None, int | None] = (None, None)  # the source's (model id, dimension)
    verification: Verification | None = None

    @property
    def chunks_per_second(self) -> float:
        """Chunks written per second of the copy (0 when none)."""
        return self.chunks / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``inhouse migrate --json``."""
        data = asdict(self)
        data["embedder"] = {"model": self.embedder[0], "dimension": self.embedder[1]}
        data["chunks_per_second"] = round(self.chunks_per_second, 1)
        if self.verification is not None:
            data["verification"]["ok"] = self.verification.ok
        return data


def check_compatible(source: Store, target: Store, source_name: str = "source", target_name: str = "target") -> None:
    """Raise ``ConfigError`` when the target already holds vectors of another embedder or
    dimension than the source's: they cannot be searched together. Reads only."""
    model, dim = source.embedder_of()
    held_model, held_dim = target.embedder_of()
    if not target.count():
        return
    if dim is not None and held_dim is not None and dim != held_dim:
        raise ConfigError(
            f"the {target_name} store holds {held_dim}-d vectors but the {source_name} store's are {dim}-d "
            f"(embedder {model or 'unknown'!r}): they cannot share an index. Migrate into an empty store."
        )
    if model is not None and held_model is not None and model != held_model:
        raise ConfigError(
            f"the {target_name} store holds vectors of embedder {held_model!r} but the {source_name} store's "
            f"come from {model!r}: they cannot share an index. Migrate into an empty store."
        )


def migrate(
    source: Store,
    target: Store,
    *,
    force: bool = False,
    dry_run: bool = False,
    prune: bool = False,
    verify_after: bool = True,
    on_progress: MigrateProgress | None = None,
    names: tuple[str, str] = ("source", "target"),
) -> MigrationReport:
    """Copy every document of ``source`` into ``target`` (see the module's docstring).

    ``dry_run`` counts what would be written and writes nothing; ``prune`` removes documents
    only the target holds; ``verify_after`` compares the stores at the end (not in a dry run).
    ``names`` name the two stores in errors."""
    check_compatible(source, target, *names)
    started = time.perf_counter()
    model, dim = source.embedder_of()
    report = MigrationReport(dry_run=dry_run, embedder=(model, dim))
    held = target.documents()
    wanted = source.documents()
    report.documents = len(wanted)
    if model is not None and dim is not None and not dry_run:
        target.check_embedder(model, dim)
    every = max(1, len(wanted) // SAMPLES)
    samples: list[tuple[Chunk, np.ndarray]] = []
    for done, (record, chunks, vectors) in enumerate(source.export(), 1):
        if (done - 1) % every == 0 and chunks and len(samples) < SAMPLES:
            middle = len(chunks) // 2
            samples.append((chunks[middle], np.array(vectors[middle], dtype=np.float32)))
        old = held.get(record.id)
        if old == record and not force:
            report.unchanged += 1
        elif old is not None and not force and replace(old, acl=record.acl, sensitivity=record.sensitivity) == record:
            report.access += 1
            if not dry_run:
                _set_access(target, record, chunks, vectors)
        else:
            report.copied += 1
            report.chunks += len(chunks)
            if not dry_run:
                target.upsert(record, chunks, vectors)
        if on_progress is not None:
            on_progress(done, report.documents, report.chunks)
    extra = [doc_id for doc_id in held if doc_id not in wanted]
    report.extra = len(extra)
    if not dry_run:
        if prune and extra:
            target.delete(extra)
            report.pruned = True
        target.flush()
    report.seconds = time.perf_counter() - started
    if verify_after and not dry_run:
        report.verification = verify(source, target, samples)
    return report


def _set_access(target: Store, record: DocumentRecord, chunks: list[Chunk], vectors: np.ndarray) -> None:
    """The new ACL and label alone; written whole when the target cannot change access alone."""
    try:
        target.set_access(record.id, record.acl, record.sensitivity)
    except NotImplementedError:
        target.upsert(record, chunks, vectors)


def verify(source: Store, target: Store, samples: list[tuple[Chunk, np.ndarray]], k: int = 5) -> Verification:
    """Compare the stores: counts, every document's record, and the top hit of a dense search
    with each sample's vector (no ACL, then as the sample chunk's own principals) in both."""
    ours, theirs = source.documents(), target.documents()
    result = Verification(documents=(len(ours), len(theirs)), chunks=(source.count(), target.count()))
    result.missing = sorted(doc_id for doc_id in ours if doc_id not in theirs)
    result.differing = sorted(doc_id for doc_id, record in ours.items() if doc_id in theirs and theirs[doc_id] != record)
    result.extra = sorted(doc_id for doc_id in theirs if doc_id not in ours)
    for chunk, vector in samples:
        for acl in (None, list(chunk.acl)) if chunk.acl else (None,):
            result.searches += 1
            a = source.search(vector, "", k=k, acl=acl, mode="dense")
            b = target.search(vector, "", k=k, acl=acl, mode="dense")
            if _same_top(a, b):
                result.agreed += 1
            else:
                as_whom = "no ACL" if acl is None else f"ACL {acl}"
                result.disagreements.append(f"chunk {chunk.id} with {as_whom}: source {_top(a)}, target {_top(b)}")
    return result


def _top(hits: list[Hit]) -> str:
    return f"{hits[0].chunk.id} (cosine {hits[0].dense})" if hits else "nothing"


def _same_top(a: list[Hit], b: list[Hit]) -> bool:
    """The same top hit (or a tie: equal dense scores), with the same ACL and label."""
    if not a or not b:
        return not a and not b
    x, y = a[0], b[0]
    same = x.chunk.id == y.chunk.id or (x.dense is not None and y.dense is not None and abs(x.dense - y.dense) <= TIE)
    return same and (x.chunk.acl, x.chunk.sensitivity) == (y.chunk.acl, y.chunk.sensitivity)
