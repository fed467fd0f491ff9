"""Helpers of this folder's tests: a whole index read back, a report without its duration, and
the comparison of two indexes."""

from __future__ import annotations

from typing import Any

import numpy as np


def index(assistant: Any) -> dict[str, tuple[list[str], list[str], np.ndarray]]:
    """Every stored document of ``assistant``'s store: its chunk ids, texts and vectors."""
    stored = assistant.store.export()
    return {record.id: ([c.id for c in chunks], [c.text for c in chunks], vectors) for record, chunks, vectors in stored}


def report_dict(report: Any) -> dict[str, Any]:
    """An ingest report without its duration."""
    data = report.to_dict() if hasattr(report, "to_dict") else dict(report)
    data.pop("seconds", None)
    return data


def assert_same_index(expected: dict, actual: dict) -> None:
    """Same documents, same chunk ids and texts, vectors equal within 1e-5."""
    assert sorted(actual) == sorted(expected)
    for doc_id, (ids, texts, vectors) in expected.items():
        got_ids, got_texts, got_vectors = actual[doc_id]
        assert got_ids == ids, doc_id
        assert got_texts == texts, doc_id
        assert got_vectors.dtype == np.float32 and got_vectors.shape == vectors.shape, doc_id
        np.testing.assert_allclose(got_vectors, vectors, atol=1e-5, rtol=0, err_msg=doc_id)
