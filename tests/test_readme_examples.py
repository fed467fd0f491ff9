"""Every question the README offers to try answers correctly with the configuration ``make run``
uses (./plugins.toml) on the sample corpus: the README's promises, checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from inhouse import Assistant
from support import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
#: (question, the question before it in the conversation, what a right answer states; None: it abstains)
EXAMPLES = [
    ("how much can I spend on food per day when travelling?", None, ["EUR 48"]),
    ("which wifi should my visitors join?", None, ["Lattice-Guest"]),
    ("and what is the password?", "which wifi should my visitors join?", ["reception"]),
    ("How many days of annual leave do employees get?", None, ["26 days"]),
    ("who painted the Mona Lisa?", None, None),
]

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def default(tmp_path_factory: pytest.TempPathFactory):
    """The assistant of ./plugins.toml, the README's configuration, on a fresh data folder."""
    with Assistant.from_config(REPO / "plugins.toml", tmp_path_factory.mktemp("readme") / "home") as assistant:
        report = assistant.ingest()
        assert not report.failed, report.failed
        yield assistant


@pytest.mark.parametrize(("question", "before", "expected"), EXAMPLES, ids=[q for q, _, _ in EXAMPLES])
def test_each_readme_example_answers_right(
    default: Assistant, question: str, before: str | None, expected: list[str] | None
) -> None:
    assert question in README, "the README no longer offers this example: update EXAMPLES"
    history = []
    if before is not None:
        history = [{"role": "user", "content": before}, {"role": "assistant", "content": default.ask(before).text}]
    answer = default.ask(question, history=history)
    if expected is None:
        assert answer.abstained and not answer.citations
        return
    assert not answer.abstained and all(fact in answer.text for fact in expected), answer.text
    assert answer.citations and answer.kind in ("quoted", "generated")


def test_the_readme_says_the_offline_default_quotes(default: Assistant) -> None:
    """The README describes the configuration it ships: the extractive answerer by default."""
    assert default.router.chain("default")[0] == "extractive"
    assert "extractive" in (Path(REPO) / "plugins.toml").read_text(encoding="utf-8")
