"""``[budgets]``: the limits :mod:`inhouse.budgets` enforces before any model call.

- ``[budgets.default]`` applies to every configured user on their own;
- ``[budgets.users.NAME]`` to one user (its keys replace the default's, the others stay);
- ``[budgets.groups.NAME]`` to the members of a group together (their summed use).

A user in several groups is held to every limit that applies. Tokens are input plus output
tokens of every model call in the usage ledger; cost is its estimated USD. Days and months
are UTC calendar days and months; ``requests_per_minute`` counts requests over the last 60 s.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

#: Each limit with the window it is counted over and how a message names it.
LIMITS: dict[str, tuple[str, str]] = {
    "tokens_per_day": ("day", "daily budget"),
    "tokens_per_month": ("month", "monthly budget"),
    "cost_per_day": ("day", "daily budget"),
    "cost_per_month": ("month", "monthly budget"),
    "requests_per_minute": ("minute", "limit of requests a minute"),
}


class BudgetLimits(BaseModel):
    """One subject's limits; a limit left out (None) does not apply."""

    model_config = ConfigDict(extra="forbid")

    tokens_per_day: int | None = Field(None, ge=0, description="input + output tokens per UTC day")
    tokens_per_month: int | None = Field(None, ge=0, description="input + output tokens per UTC calendar month")
    cost_per_day: float | None = Field(None, ge=0, description="estimated USD per UTC day")
    cost_per_month: float | None = Field(None, ge=0, description="estimated USD per UTC calendar month")
    requests_per_minute: int | None = Field(None, ge=0, description="requests over any 60 seconds")

    def given(self) -> dict[str, float]:
        """The limits set here, by name."""
        return {name: value for name, value in self.model_dump().items() if value is not None}


class BudgetSettings(BaseModel):
    """``[budgets]``: ``default`` for every user, ``users.NAME`` for one, ``groups.NAME`` for a group's members together."""

    model_config = ConfigDict(extra="forbid")

    default: BudgetLimits = Field(default_factory=BudgetLimits)
    users: dict[str, BudgetLimits] = Field(default_factory=dict)
    groups: dict[str, BudgetLimits] = Field(default_factory=dict)

    def for_user(self, user: str) -> dict[str, float]:
        """The limits of ``user`` on their own: the default's, with their own table's over them."""
        own = self.users.get(user)
        return {**self.default.given(), **(own.given() if own else {})}

    @property
    def configured(self) -> bool:
        """Whether any limit is set at all."""
        return bool(self.default.given() or any(v.given() for v in (*self.users.values(), *self.groups.values())))
