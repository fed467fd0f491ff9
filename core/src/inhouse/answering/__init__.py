"""Answering a question from the documents: a pipeline of small stages (see ``pipeline``).

``understand`` → ``retrieve`` → ``gate`` → ``expand`` → ``score`` → ``check`` → generate →
cite: each stage a class with one ``run`` method and its own settings, the routing outcome a
typed ``Routed`` result, and the context packed to each model's own budget.
"""

from inhouse.answering.draft import Request
from inhouse.answering.pipeline import Pipeline
from inhouse.answering.prompting import NOT_FOUND

__all__ = ["NOT_FOUND", "Pipeline", "Request"]
