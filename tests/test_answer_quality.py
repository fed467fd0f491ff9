"""Answer quality on the sample corpus with the default thresholds: the calibration rule of
``[answer] min_support`` (every answerable question of the sample corpus' two sets answered),
and the figures its question set reached when the defaults were chosen (README, Benchmarks)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from inhouse import Assistant
from inhouse.evaluation import qa
from support import EXAMPLES, write_config

REPO = Path(__file__).resolve().parents[1]
COLLOQUIAL = json.loads((Path(__file__).parent / "e2e_questions.json").read_text())

pytestmark = pytest.mark.model


def test_the_sample_question_set_is_answered_and_its_traps_refused(assistant: Assistant) -> None:
    report = qa.evaluate(assistant.ask, qa.read_questions(REPO / "bench" / "qa" / "examples.jsonl"))
    summary = report["summary"]
    assert summary["answerable"]["wrongly_refused"] == 0.0, [r for r in report["results"] if r["abstained"]]
    assert summary["answerable"]["keyword_accuracy"] >= 0.8
    assert summary["unanswerable"]["refused_unanswerable"] >= 0.5
    assert summary["offtopic"]["refused_unanswerable"] == 1.0


def test_colloquial_questions_the_documents_answer_are_not_refused(assistant: Assistant) -> None:
    # The one that the off-topic gate refuses ("what app do I need to reach internal tools
    # from home?", similarity just under 0.38) is the gate's, not the support check's.
    refused = [
        (q["question"], a.route.get("abstained_because"))
        for q in COLLOQUIAL
        if q["source"] and (a := assistant.ask(q["question"])).abstained
    ]
    assert all("similarity" in (why or "") for _, why in refused), refused
    assert len(refused) <= 1, refused


def test_eval_qa_shows_what_a_stricter_min_support_would_refuse(assistant: Assistant, tmp_path: Path) -> None:
    questions = tmp_path / "questions.jsonl"
    rows = [
        {"question": "How many days of annual leave do employees get?", "answer_keywords": ["26 days"]},
        {"question": "can I bring my dog to the Rotterdam office?", "type": "unanswerable"},  # support about 0.3
    ]
    questions.write_text("".join(json.dumps(row) + "\n" for row in rows))
    config = write_config(tmp_path, EXAMPLES)
    command = [sys.executable, "-m", "inhouse", "--config", str(config), "--home", str(assistant.home), "eval", "qa"]
    command += [str(questions), "--min-support", "0.2", "--json"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    trap = report["results"][1]
    assert not trap["abstained"] and trap["min_support"] == 0.2 and 0.2 <= trap["support"] < 0.42, trap
    stricter = {row["min_support"]: row for row in report["min_support"]}
    assert stricter[0.2]["refused_unanswerable"] == 0.0 and stricter[0.45]["refused_unanswerable"] == 1.0
    answered = report["results"][0]["support"]
    assert all(row["wrongly_refused"] == float(row["min_support"] > answered) for row in stricter.values()), answered
