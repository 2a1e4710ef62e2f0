"""Level arithmetic: which level a growth value earns and what a review does (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.growth.config import Levels


def level_for(levels: Levels, growth: int) -> int:
    """Index of the highest level whose threshold the growth value reaches."""
    index = 0
    for i, tier in enumerate(levels.tiers):
        if growth >= tier.threshold:
            index = i
    return index


def effective(earned: int, override: int | None, override_until: datetime | None, now: datetime) -> int:
    """An active override is a floor: the member keeps at least that level until its end."""
    if override is not None and override_until is not None and override_until > now:
        return max(earned, override)
    return earned


@dataclass(frozen=True)
class ReviewOutcome:
    level: int
    grace_until: datetime | None
    changed: bool
    grace_started: bool


def review(levels: Levels, current: int, qualified: int, grace_until: datetime | None, at: datetime) -> ReviewOutcome:
    """Decide a member's level at a review (or at the end of a grace period).

    Qualifying keeps (or raises) the level and ends any grace. Falling short first opens a grace
    period if one is configured; when the grace is over and the member still falls short, the level
    drops — one level at most when `one_down` is set.
    """
    if qualified >= current:
        return ReviewOutcome(qualified, None, qualified != current, False)
    if levels.grace_days and grace_until is None:
        return ReviewOutcome(current, at + timedelta(days=levels.grace_days), False, True)
    if grace_until is not None and grace_until > at:
        return ReviewOutcome(current, grace_until, False, False)
    target = max(qualified, current - 1) if levels.one_down else qualified
    return ReviewOutcome(target, None, True, False)
