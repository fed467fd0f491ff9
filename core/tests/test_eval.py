"""``inhouse eval beir`` on a tiny BEIR folder, and the ranking metrics by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from inhouse.evaluation.metrics import mrr_at, ndcg_at, percentile, recall_at


def test_metrics_by_hand() -> None:
    qrels = {"a": 1, "b": 1}
    assert ndcg_at(["a", "b", "x"], qrels) == pytest.approx(1.0)
    assert ndcg_at(["x", "a"], {"a": 1}) == pytest.approx(1 / 1.5849625, rel=1e-6)
    assert recall_at(["a", "x"], qrels, 100) == 0.5
    assert mrr_at(["x", "y", "b"], qrels) == pytest.approx(1 / 3)
    assert mrr_at(["x"], qrels) == 0.0
    assert percentile([1, 2, 3, 4], 50) == 2.5


@pytest.mark.model
def test_eval_beir_cli(tmp_path: Path) -> None:
    folder = tmp_path / "mini"
    (folder / "qrels").mkdir(parents=True)
    docs = {
        "d1": ("Parental leave", "Birth parents receive twenty weeks of paid parental leave."),
        "d2": ("Guest wifi", "Visitors connect to the Lattice-Guest wireless network."),
        "d3": ("Pension", "The company matches pension contributions up to six percent."),
    }
    (folder / "corpus.jsonl").write_text(
        "".join(json.dumps({"_id": k, "title": t, "text": x}) + "\n" for k, (t, x) in docs.items())
    )
    queries = {"q1": "how long is parental leave", "q2": "which wireless network do visitors use"}
    (folder / "queries.jsonl").write_text("".join(json.dumps({"_id": k, "text": v}) + "\n" for k, v in queries.items()))
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t1\n")
    run = subprocess.run(
        [sys.executable, "-m", "inhouse", "--home", str(tmp_path / "home"), "eval", "beir", str(folder), "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    assert (result["queries"], result["documents"]) == (2, 3)
    for method in ("bm25", "dense", "hybrid"):
        assert result["methods"][method]["ndcg@10"] == pytest.approx(1.0), method
        assert result["methods"][method]["recall@100"] == 1.0
