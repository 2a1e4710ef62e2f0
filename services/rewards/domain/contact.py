"""The contact policy: which local day a touch falls in, the rolling 7 local days it counts against, quiet
hours, and whether a customer may be touched now. A touch is counted across all campaigns and every way a
touch is made (requested offers, fallback waves), so these rules see the customer, not an offer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.rewards.config import ContactPolicy, QuietHours

OPTED_OUT = "OPTED_OUT"
QUIET_HOURS = "QUIET_HOURS"
CAP_DAY = "CONTACT_CAP_DAY"
CAP_WEEK = "CONTACT_CAP_WEEK"


WINDOW_DAYS = 7  # the weekly cap counts the touches of any 7 consecutive local days


@dataclass(frozen=True)
class ContactState:
    """A customer's contact row as seen on one local day: touches that day and in the 7 local days ending
    with it (the rolling week)."""

    opted_out: bool
    day_count: int
    week_count: int


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def zone_of(kept: Any, default: ZoneInfo) -> ZoneInfo:
    """The customer's own time zone (kept from their outside events' `time_zone`), else the config zone:
    the customer's local day and quiet hours are the customer's, wherever they live."""
    if not kept:
        return default
    try:
        return _zone(str(kept))
    except (ZoneInfoNotFoundError, ValueError):
        return default


def day_key(now: datetime, tz: ZoneInfo) -> str:
    """Local calendar day, e.g. '2026-01-05'; the daily cap resets at local midnight (23 or 25 hours apart
    on a daylight-saving change)."""
    return now.astimezone(tz).date().isoformat()


def recent_counts(row_day: Any, recent: Any) -> dict[date, int]:
    """The stored ledger as touches per local day. The row keeps the last touched day and the counts of the
    7 days ending with it, newest first ('2,0,1,0,0,0,0'); days before that window no longer count."""
    if not row_day or not recent:
        return {}
    last = date.fromisoformat(str(row_day))
    counts = {last - timedelta(days=i): int(n) for i, n in enumerate(str(recent).split(",")) if n and int(n)}
    return counts


def _window(counts: dict[date, int], day: date) -> int:
    return sum(n for d, n in counts.items() if day - timedelta(days=WINDOW_DAYS - 1) <= d <= day)


def state_on(opted_out: Any, row_day: Any, recent: Any, day: str) -> ContactState:
    """The stored ledger as of local `day`: its count and the rolling 7 days' ending with it. Counts of
    days that left the window read as 0, which is how the caps reset without a job rewriting rows."""
    counts, today = recent_counts(row_day, recent), date.fromisoformat(day)
    return ContactState(bool(opted_out), counts.get(today, 0), _window(counts, today))


def after_touch(row_day: Any, recent: Any, day: str) -> tuple[str, str]:
    """The ledger row (last day, counts newest first) once one more touch is counted on local `day`."""
    counts, today = recent_counts(row_day, recent), date.fromisoformat(day)
    counts[today] = counts.get(today, 0) + 1
    last = max(counts)
    return last.isoformat(), ",".join(str(counts.get(last - timedelta(days=i), 0)) for i in range(WINDOW_DAYS))


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
