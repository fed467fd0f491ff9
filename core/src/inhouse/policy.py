"""Where text may go: sensitivity labels mapped to the residencies allowed to receive them,
and the residency each conversation turn carries.

``[policy] labels`` maps each label (``public``, ``internal``, ``confidential``,
``restricted``) to the residencies (``local``, ``self-hosted``, ``in-account``, ``external``)
that may receive text of that label; a label the table leaves out keeps its default, and a
label nobody configured (a connector's own word) may go nowhere but ``local``: unknown
means fail closed.

Residencies are ordered from the most private to the least: ``local`` (this machine),
``self-hosted``, ``in-account`` (the company's cloud account) and ``external``. A turn of a
conversation carries the residency it was produced under (``{"role", "content",
"residency"}``): its text may have been built from anything that residency was allowed to
receive, so it becomes history only for a provider at least as private. A turn without a
residency is the caller's own text and goes anywhere; a residency this module does not
know counts as ``local``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from inhouse.config import PolicySettings
from inhouse.plugins import Passage

ORDER = ("local", "self-hosted", "in-account", "external")  # the most private first
DEFAULT_LABELS = PolicySettings().labels
Turn = Mapping[str, str]


def privacy_rank(residency: str) -> int:
    """0 for ``local`` up to 3 for ``external``; a residency not in ``ORDER`` ranks as ``local``."""
    return ORDER.index(residency) if residency in ORDER else 0


def may_reach(turn_residency: str | None, target: str) -> bool:
    """Whether text produced under ``turn_residency`` may be sent to ``target``: only to a
    residency at least as private (None: text of no residency, which may go anywhere)."""
    return turn_residency is None or privacy_rank(target) <= privacy_rank(turn_residency)


def most_private(residencies: Iterable[str]) -> str | None:
    """The most private of ``residencies`` (None when there are none)."""
    return min(residencies, key=privacy_rank, default=None)


def history_for(history: Sequence[Turn], target: str | None) -> tuple[list[dict[str, str]], int]:
    """The turns of ``history`` that may go to ``target`` (None: to nowhere outside this
    process, so all of them), as ``{"role", "content"}``, and how many were held back."""
    kept = [
        {"role": turn["role"], "content": turn["content"]}
        for turn in history
        if target is None or may_reach(turn.get("residency"), target)
    ]
    return kept, len(history) - len(kept)


class Policy:
    """``[policy]`` as decisions: which residencies may receive a label, which passages a
    residency may receive, and which residencies get personal data redacted."""

    def __init__(self, settings: PolicySettings | None = None):
        settings = settings or PolicySettings()
        self.labels: dict[str, tuple[str, ...]] = {
            label: tuple(residencies) for label, residencies in {**DEFAULT_LABELS, **settings.labels}.items()
        }
        self.redact = frozenset(settings.redact)
        self.redact_kinds = tuple(settings.redact_kinds)

    def allowed(self, label: str) -> tuple[str, ...]:
        """The residencies that may receive text labelled ``label`` (an unknown label: ``local`` only)."""
        return self.labels.get(label, ("local",))

    def may_send(self, label: str, residency: str) -> bool:
        """Whether text labelled ``label`` may go to a provider or embedder of ``residency``."""
        return residency in self.allowed(label)

    def passages_for(self, passages: Sequence[Passage], residency: str) -> tuple[list[Passage], list[Passage]]:
        """``passages`` split into those ``residency`` may receive and those it may not, each in order."""
        kept = [p for p in passages if self.may_send(p.sensitivity, residency)]
        held = [p for p in passages if not self.may_send(p.sensitivity, residency)]
        return kept, held

    def redacts(self, residency: str) -> bool:
        """Whether calls to ``residency`` get personal data replaced by placeholders first."""
        return residency in self.redact

    def clearance(self, labels: Iterable[str]) -> str | None:
        """The least private residency that text holding all ``labels`` may reach, every more
        private one allowed too (None: any residency may receive it). A label allowing no
        such run of residencies clears only ``local``."""
        widest = len(ORDER)
        for label in labels:
            allowed = self.allowed(label)
            run = next((i for i, r in enumerate(ORDER) if r not in allowed), len(ORDER))
            widest = min(widest, max(run, 1))
        return None if widest == len(ORDER) else ORDER[widest - 1]
