"""The contact policy: which local day and week a touch falls in, quiet hours, and whether a customer may
be touched now. A touch is counted across all campaigns, so these rules see the customer, not an offer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from services.rewards.config import ContactPolicy, QuietHours

OPTED_OUT = "OPTED_OUT"
QUIET_HOURS = "QUIET_HOURS"
CAP_DAY = "CONTACT_CAP_DAY"
CAP_WEEK = "CONTACT_CAP_WEEK"


@dataclass(frozen=True)
class ContactState:
    """A customer's contact row as seen on one local day and week."""

    opted_out: bool
    day_count: int
    week_count: int


def day_key(now: datetime, tz: ZoneInfo) -> str:
    """Local calendar day, e.g. '2026-01-05'; the daily cap resets at local midnight."""
    return now.astimezone(tz).date().isoformat()


def week_key(now: datetime, tz: ZoneInfo) -> str:
    """Local ISO week (Monday-Sunday), e.g. '2026-W02'; the weekly cap resets Monday 00:00 local."""
    year, week, _ = now.astimezone(tz).date().isocalendar()
    return f"{year}-W{week:02d}"


def state_on(
    opted_out: Any, row_day: Any, day_count: Any, row_week: Any, week_count: Any, day: str, week: str
) -> ContactState:
    """The stored counters as of `day` and `week`: a count kept for another day or week is 0, which is how
    the caps reset without a job rewriting rows at midnight."""
    return ContactState(
        bool(opted_out),
        int(day_count or 0) if row_day == day else 0,
        int(week_count or 0) if row_week == week else 0,
    )


def _hhmm(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def in_quiet_hours(now: datetime, tz: ZoneInfo, quiet: QuietHours | None) -> bool:
    if quiet is None:
        return False
    local = now.astimezone(tz).time()
    start, end = _hhmm(quiet.start), _hhmm(quiet.end)
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end  # wraps midnight


def cap_reached(state: ContactState, policy: ContactPolicy) -> str | None:
    """Which cap leaves no room for one more touch (the day's first), or None."""
    if state.day_count >= policy.per_day:
        return CAP_DAY
    if state.week_count >= policy.per_week:
        return CAP_WEEK
    return None


def refusal(
    state: ContactState, policy: ContactPolicy, now: datetime, tz: ZoneInfo, *, opted_out_by_ops: bool = False
) -> str | None:
    """Why the customer may not be touched now, in the documented order, or None when they may."""
    if state.opted_out or opted_out_by_ops:
        return OPTED_OUT
    if in_quiet_hours(now, tz, policy.quiet_hours):
        return QUIET_HOURS
    return cap_reached(state, policy)


def touch_refused(state: ContactState, policy: ContactPolicy) -> str:
    """Why the atomic touch was refused although the earlier read allowed it: a concurrent call opted the
    customer out or used up a cap meanwhile (`state` is the row read again)."""
    if state.opted_out:
        return OPTED_OUT
    return cap_reached(state, policy) or CAP_WEEK
