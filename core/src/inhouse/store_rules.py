"""What every store checks the same way (the local store and any ``inhouse.stores`` plugin):
the fields a search filter may name and how its values read, and the vectors of an upsert."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from inhouse.errors import ConfigError, IngestError
from inhouse.plugins import DocumentRecord
from inhouse.types import Chunk

#: The chunk fields ``Store.search(filters=...)`` may name, with the type of their values.
FILTER_FIELDS: dict[str, type] = {
    "id": str,
    "doc_id": str,
    "source": str,
    "title": str,
    "heading": str,
    "page": int,
    "ordinal": int,
}


@dataclass(frozen=True)
class Term:
    """One alternative of a filter: the field equals ``value``, or (``prefix``) starts with it."""

    value: str | int
    prefix: bool = False


def filter_terms(filters: dict[str, Any] | None) -> dict[str, list[Term]]:
    """``filters`` checked, field by field: each value (or list of alternatives) matches exactly,
    or, for text ending in ``*``, as a prefix; a number field takes numbers (or their text).
    Raise ``ConfigError`` naming the field and the value that does not fit."""
    out: dict[str, list[Term]] = {}
    for field, value in (filters or {}).items():
        kind = FILTER_FIELDS.get(field)
        if kind is None:
            raise ConfigError(f"cannot filter on {field!r}; filter on one of: {', '.join(FILTER_FIELDS)}")
        terms = []
        for v in list(value) if isinstance(value, (list, tuple, set)) else [value]:
            if isinstance(v, str) and v.endswith("*"):
                if kind is not str:
                    raise ConfigError(f"filter {field!r} takes a number, not a prefix ({v!r})")
                terms.append(Term(v[:-1], prefix=True))
            else:
                terms.append(Term(_typed(field, kind, v)))
        out[field] = terms
    return out


def _typed(field: str, kind: type, v: Any) -> str | int:
    if kind is int and not isinstance(v, bool):
        try:
            return int(v)
        except (TypeError, ValueError):
            raise ConfigError(f"filter {field!r} takes a number, not {v!r}") from None
    if kind is str and isinstance(v, str):
        return v
    raise ConfigError(f"filter {field!r} takes {'a number' if kind is int else 'text'}, not {v!r}")


def upsert_vectors(doc: DocumentRecord, chunks: Sequence[Chunk], vectors: np.ndarray) -> np.ndarray:
    """The vectors of an upsert of ``doc``'s ``chunks``, checked: float32, one finite row per chunk
    (an empty (0, 0) array for a document without chunks). Raise ``IngestError`` naming the
    document when a chunk belongs to another one or the vectors do not fit."""
    if any(c.doc_id != doc.id for c in chunks):
        raise IngestError(f"every chunk of {doc.source!r} must have doc_id {doc.id!r}")
    vecs = np.asarray(vectors, dtype=np.float32)
    if not chunks:
        return np.zeros((0, 0), dtype=np.float32)
    if vecs.ndim != 2 or len(vecs) != len(chunks):
        raise IngestError(f"{doc.source!r}: expected {len(chunks)} vectors, got shape {vecs.shape}")
    if not np.isfinite(vecs).all():
        raise IngestError(f"{doc.source!r}: the embedder returned NaN or infinite values")
    return vecs
