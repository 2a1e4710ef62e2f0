"""Local-calendar arithmetic: period keys, expiry instants, level windows and review dates.

Pure functions: the caller passes the instant and the programme's time zone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.growth.config import ExpiryPolicy, Levels


def local_day(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


def period_key(period: str, at: datetime, tz: ZoneInfo) -> str:
    """Key of the calendar period containing `at`: caps and quotas count per key."""
    day = local_day(at, tz)
    if period == "day":
        return f"d:{day.isoformat()}"
    if period == "week":
        iso = day.isocalendar()
        return f"w:{iso.year}-W{iso.week:02d}"
    if period == "month":
        return f"m:{day.year}-{day.month:02d}"
    if period == "year":
        return f"y:{day.year}"
    return "life"


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def expiry_for(policy: ExpiryPolicy, credited_at: datetime, tz: ZoneInfo) -> datetime | None:
    """When points credited at `credited_at` expire (exclusive end instant), or None for never."""
    if policy.mode == "never":
        return None
    if policy.mode == "after_days":
        return credited_at + timedelta(days=policy.days)
    day = local_day(credited_at, tz)
    if policy.mode == "end_of_month":
        year, month = _add_months(day.year, day.month, policy.offset + 1)
        return _local_midnight(date(year, month, 1), tz)
    return _local_midnight(date(day.year + policy.offset + 1, 1, 1), tz)


def _review_instants_around(levels: Levels, at: datetime, tz: ZoneInfo) -> list[datetime]:
    year = local_day(at, tz).year
    out = []
    for y in (year - 1, year, year + 1):
        for md in levels.review_dates:
            month, dom = (int(p) for p in md.split("-"))
            try:
                out.append(_local_midnight(date(y, month, dom), tz))
            except ValueError:  # 02-30 and friends: skip in that year
                continue
    return sorted(out)


def previous_review(levels: Levels, at: datetime, tz: ZoneInfo) -> datetime:
    """The latest review instant at or before `at`."""
    return max(r for r in _review_instants_around(levels, at, tz) if r <= at)


def next_review(levels: Levels, at: datetime, tz: ZoneInfo) -> datetime:
    return min(r for r in _review_instants_around(levels, at, tz) if r > at)


def window_start(levels: Levels, end: datetime, tz: ZoneInfo, *, at_review: bool = False) -> date:
    """First local day counted by the level window that ends at `end`.

    At a review (`at_review`), calendar and review-period windows are the period that just ended.
    """
    day = local_day(end, tz)
    if levels.window == "rolling_12_months":
        try:
            return day.replace(year=day.year - 1) + timedelta(days=1)
        except ValueError:  # 29 February
            return day.replace(year=day.year - 1, day=28) + timedelta(days=1)
    probe = end - timedelta(microseconds=1) if at_review else end
    if levels.window == "calendar_year":
        return date(local_day(probe, tz).year, 1, 1)
    return local_day(previous_review(levels, probe, tz), tz)


def review_window(
    levels: Levels, review_at: datetime, now: datetime, tz: ZoneInfo, *, grace_ended: bool
) -> tuple[date, date | None]:
    """First and last local day (None: up to today) whose growth a review of one member counts.

    A plain review counts the window that ended at the review instant. When a grace period ends, a
    rolling window is counted up to now, and calendar or review-period windows are the period that
    ended at the review.
    """
    if grace_ended and levels.window != "rolling_12_months":
        return window_start(levels, review_at, tz, at_review=True), None
    if grace_ended:
        return window_start(levels, now, tz), None
    start = window_start(levels, review_at, tz, at_review=True)
    return start, local_day(review_at, tz) - timedelta(days=1)
