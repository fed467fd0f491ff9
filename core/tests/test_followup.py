"""Follow-up questions are searched together with the question they follow."""

from __future__ import annotations

import pytest

from inhouse import Assistant
from inhouse.followup import is_follow_up, standalone

HISTORY = [
    {"role": "user", "content": "How many vacation days do I get?"},
    {"role": "assistant", "content": "Every full-time employee receives 26 days. [1]"},
]


@pytest.mark.parametrize(
    "question", ["and for contractors?", "what about part-time staff?", "can I carry them over?", "Why?", "Contractors?"]
)
def test_follow_ups_are_recognised(question: str) -> None:
    assert is_follow_up(question)
    assert standalone(question, HISTORY) == f"How many vacation days do I get? {question}"


@pytest.mark.parametrize(
    "question",
    [
        "Which wifi network should my visitors join when they come to the office?",
        "How do I request a new laptop for work?",
        "who painted the Mona Lisa?",  # a new topic: the chat must still say it is not in the documents
    ],
)
def test_questions_that_stand_alone_are_searched_as_asked(question: str) -> None:
    assert standalone(question, HISTORY) == question


def test_without_history_nothing_changes() -> None:
    assert standalone("and for contractors?", []) == "and for contractors?"


@pytest.mark.model
def test_a_follow_up_retrieves_the_topic_of_the_conversation(assistant: Assistant) -> None:
    question = "and for contractors?"
    alone = [h.chunk.source for h in assistant.search(question, k=3)]
    assert alone.count("people/annual-leave.md") < 3  # on its own the question drifts to other documents
    *_, answer = assistant.stream(question, history=HISTORY)
    assert answer.route["search_query"] == "How many vacation days do I get? and for contractors?"
    assert answer.citations and all(c.source == "people/annual-leave.md" for c in answer.citations)
    assert all(c.doc_id for c in answer.citations)
