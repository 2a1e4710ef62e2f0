"""What one event awards: the activity as received, the parts of an award and the result a caller sees."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from services.growth.config import Task
from services.growth.domain import rules

# (kind, points, growth): one reason an award gives something ("base", "first_time", "streak", "referral").
Part = tuple[str, int, int]


@dataclass(frozen=True)
class ActivityIn:
    source: str
    event_id: str
    type: str
    occurred_at: datetime
    attributes: Mapping[str, str]


@dataclass
class AwardOut:
    task_id: str
    customer: str
    points: int
    growth: int
    kind: str
    pending: bool = False
    hold_id: str = ""
    transaction_id: str = ""


@dataclass
class ActivityResult:
    awards: list[AwardOut] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    duplicate: bool = False
    stored_response: bytes | None = None
    level: str = ""


def parts(
    task: Task, attributes: Mapping[str, str], multiplier: float, lifetime: int, streak_completed: bool
) -> list[Part]:
    """The parts a task awards for one event.

    `lifetime` is the task's lifetime count including this event (1: the first time); a streak bonus
    is due when this event completed a streak. The level multiplier applies to points only.
    """
    out: list[Part] = []
    apply = task.apply_level_multiplier
    base = rules.with_multiplier(rules.base_points(task, attributes), multiplier, apply)
    if base or task.growth:
        out.append(("base", base, task.growth))
    if task.first_time_bonus and lifetime == 1:
        bonus = task.first_time_bonus
        out.append(("first_time", rules.with_multiplier(bonus.points, multiplier, apply), bonus.growth))
    if task.streak is not None and streak_completed:
        bonus = task.streak.bonus
        out.append(("streak", rules.with_multiplier(bonus.points, multiplier, apply), bonus.growth))
    return out


def streak_completes(length: int, days: int) -> bool:
    """A streak bonus is due on every `days`-th consecutive day."""
    return length % days == 0


def referrer_for(task: Task, attributes: Mapping[str, str], customer: str, enrolled_referrer: str | None) -> str | None:
    """Who a referral task rewards: the event's referrer attribute, else whoever referred the member at
    enrolment; never the member themselves."""
    assert task.referral is not None
    referrer = attributes.get(task.referral.referrer_attribute) or enrolled_referrer
    if not referrer or referrer == customer:
        return None
    return referrer
