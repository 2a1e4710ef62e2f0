"""Contact-policy calendar: which local day and week a touch falls in, and quiet hours."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from services.rewards.config import QuietHours


def day_key(now: datetime, tz: ZoneInfo) -> str:
    """Local calendar day, e.g. '2026-01-05'; the daily cap resets at local midnight."""
    return now.astimezone(tz).date().isoformat()


def week_key(now: datetime, tz: ZoneInfo) -> str:
    """Local ISO week (Monday-Sunday), e.g. '2026-W02'; the weekly cap resets Monday 00:00 local."""
    year, week, _ = now.astimezone(tz).date().isocalendar()
    return f"{year}-W{week:02d}"


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
