"""``inhouse eval beir`` on a tiny BEIR folder, and the ranking metrics by hand."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from inhouse.evaluation import qa
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


def _result(kind: str, stated: bool, abstained: bool, support: float | None, min_support: float | None = 0.4) -> qa.Result:
    keywords = ("26 days",) if kind == "fact" else ()
    question = qa.Question(f"{kind}-{support}", "q", keywords, (), kind)
    return qa.Result(question, "a", abstained, stated, stated, stated, 0.1, 10.0, "extractive", support, min_support)


def test_the_trade_off_of_a_stricter_min_support() -> None:
    results = [
        _result("fact", True, False, 0.9),
        _result("fact", True, False, 0.5),  # still answered at 0.5, refused from 0.55
        _result("fact", False, True, 0.3),  # refused by the check: refused at every stricter threshold
        _result("fact", True, False, 0.45, min_support=0.0),  # its use case's own threshold: untouched
        _result("unanswerable", False, False, 0.6),
        _result("unanswerable", False, True, None, None),  # refused before support was judged
    ]
    rows = {row["min_support"]: row for row in qa.trade_off(results, 0.4)}
    assert list(rows) == [0.4, *(round(0.05 * k, 2) for k in range(9, 20))]
    summary = qa.summarise(results)
    assert {k: rows[0.4][k] for k in ("keyword_accuracy", "wrongly_refused", "refused_unanswerable")} == {
        k: summary[k] for k in ("keyword_accuracy", "wrongly_refused", "refused_unanswerable")
    }, "the configured threshold is what the run did"
    assert (rows[0.5]["keyword_accuracy"], rows[0.5]["wrongly_refused"]) == (0.75, 0.25)
    assert (rows[0.55]["keyword_accuracy"], rows[0.55]["wrongly_refused"]) == (0.5, 0.5)
    assert (rows[0.6]["refused_unanswerable"], rows[0.65]["refused_unanswerable"]) == (0.5, 1.0)
    assert (rows[0.95]["keyword_accuracy"], rows[0.95]["wrongly_refused"]) == (0.25, 0.75)
