"""Award caps: which period counters an event counts against, and which tasks a full counter refuses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from services.growth.config import Task
from services.growth.domain import calendar, rules

# The calendar key every lifetime counter is kept under (calendar.period_key of "lifetime").
LIFETIME_KEY = "life"


@dataclass(frozen=True)
class Counter:
    """One counter an award counts against: per task, period kind and calendar key."""

    task_id: str
    period: str  # day, week, month or lifetime
    key: str
    cap: int | None


@dataclass(frozen=True)
class CapOutcome:
    """Per task: why it is refused (None: it awards) and its lifetime count after this award."""

    refusals: dict[str, tuple[str | None, int]]
    # (task id, key) of counters a refused task already counted and must take back.
    undo: list[tuple[str, str]]


def counters(tasks: Sequence[Task], occurred_at: datetime, tz: ZoneInfo) -> list[Counter]:
    """Every counter of every task, in task order: the order the store counts them in."""
    return [
        Counter(task.id, period, calendar.period_key(period, occurred_at, tz), cap)
        for task in tasks
        for period, cap in rules.cap_periods(task)
    ]


def refusal_reason(period: str) -> str:
    """The skip reason a full counter of `period` gives (CAP_PER_DAY, …, CAP_LIFETIME)."""
    return f"CAP_{'LIFETIME' if period == 'lifetime' else 'PER_' + period.upper()}"


def decide(tasks: Sequence[Task], wanted: Sequence[Counter], counted: Mapping[tuple[str, str], int]) -> CapOutcome:
    """Which tasks award, given the counters that took the count (`counted`: (task id, key) → new count).

    A counter at its cap did not count, so it is missing from `counted`; its task is refused and its
    other counters are taken back, so a refused award leaves every count as it was.
    """
    refusals: dict[str, tuple[str | None, int]] = {}
    undo: list[tuple[str, str]] = []
    for task in tasks:
        mine = [(c.period, c.key) for c in wanted if c.task_id == task.id]
        refused = next((period for period, key in mine if (task.id, key) not in counted), None)
        if refused is None:
            refusals[task.id] = (None, counted[(task.id, LIFETIME_KEY)])
            continue
        refusals[task.id] = (refusal_reason(refused), 0)
        undo += [(task.id, key) for _, key in mine if (task.id, key) in counted]
    return CapOutcome(refusals, undo)
