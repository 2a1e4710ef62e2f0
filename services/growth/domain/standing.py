"""A member's standing: the effective level (an override is a floor), progress towards the next level
and whether a review is still due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from services.growth.config import GrowthConfig
from services.growth.domain import calendar, levels


class Standing(Protocol):
    """What decides a member's effective level: a member row, a balance row or a MemberState."""

    @property
    def level(self) -> str: ...
    @property
    def override_level(self) -> str | None: ...
    @property
    def override_until(self) -> datetime | None: ...


class Member(Standing, Protocol):
    """A member's standing with its grace period and override note, as progress reports them."""

    @property
    def grace_until(self) -> datetime | None: ...
    @property
    def override_reason(self) -> str | None: ...


@dataclass
class MemberState:
    """The member fields the activity path needs, read with one SELECT (no ORM object)."""

    customer: str
    level: str
    referrer: str | None
    override_level: str | None
    override_until: datetime | None
    growth_total: int  # all-time growth value (the balance row), an upper bound of any window's growth


def effective_index(cfg: GrowthConfig, member: Standing, now: datetime) -> int:
    override = cfg.level_index(member.override_level) if member.override_level else None
    return levels.effective(cfg.level_index(member.level), override, member.override_until, now)


def effective_level(cfg: GrowthConfig, member: Standing, now: datetime) -> str:
    return cfg.levels.tiers[effective_index(cfg, member, now)].id


def multiplier(cfg: GrowthConfig, member: Standing, now: datetime) -> float:
    """The points multiplier of the member's effective level."""
    return cfg.levels.tiers[effective_index(cfg, member, now)].points_multiplier


@dataclass(frozen=True)
class Progress:
    level: str
    earned_level: str
    window_growth: int
    next_level: str
    growth_to_next: int
    growth_to_keep: int
    next_review_at: datetime
    grace_until: datetime | None
    override_level: str
    override_until: datetime | None
    override_reason: str


def progress(cfg: GrowthConfig, member: Member, window_growth: int, now: datetime) -> Progress:
    """Where the member stands, given the growth value of the current level window."""
    tz = ZoneInfo(cfg.timezone)
    tiers = cfg.levels.tiers
    earned = cfg.level_index(member.level)
    eff = effective_index(cfg, member, now)
    nxt = tiers[eff + 1] if eff + 1 < len(tiers) else None
    active_override = member.override_until is not None and member.override_until > now
    return Progress(
        level=tiers[eff].id,
        earned_level=tiers[earned].id,
        window_growth=window_growth,
        next_level=nxt.id if nxt else "",
        growth_to_next=max(0, nxt.threshold - window_growth) if nxt else 0,
        growth_to_keep=max(0, tiers[eff].threshold - window_growth),
        next_review_at=calendar.next_review(cfg.levels, now, tz),
        grace_until=member.grace_until,
        override_level=(member.override_level or "") if active_override else "",
        override_until=member.override_until if active_override else None,
        override_reason=(member.override_reason or "") if active_override else "",
    )


def review_due(grace_until: datetime | None, reviewed_at: datetime | None, review_at: datetime, now: datetime) -> bool:
    """A grace period that has ended, or the review instant not yet applied: what a review pass lists,
    and re-checks under the member's row lock so that a concurrent pass does not review twice."""
    if grace_until is not None and grace_until <= now:
        return True
    return reviewed_at is None or reviewed_at < review_at
