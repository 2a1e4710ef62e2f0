"""Local-calendar arithmetic in the programme's time zone: period keys, expiry instants, review dates
and level windows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from services.growth.config import ExpiryPolicy, Level, Levels
from services.growth.domain import calendar

TZ = ZoneInfo("Asia/Shanghai")  # UTC+8: local midnight is 16:00 UTC the day before


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local_midnight(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=TZ).astimezone(UTC)


def levels(window: str = "rolling_12_months", review_dates: list[str] | None = None) -> Levels:
    return Levels(
        window=window,  # type: ignore[arg-type]
        review_dates=review_dates or ["01-01", "07-01"],
        tiers=[Level(id="l0", threshold=0), Level(id="l1", threshold=100)],
    )


def test_period_keys_follow_the_local_day_not_utc() -> None:
    monday_local = utc(2026, 1, 4, 17)  # 01:00 on Monday 5 January in Shanghai
    assert calendar.local_day(monday_local, TZ) == date(2026, 1, 5)
    assert calendar.period_key("day", monday_local, TZ) == "d:2026-01-05"
    assert calendar.period_key("week", monday_local, TZ) == "w:2026-W02"
    assert calendar.period_key("week", utc(2026, 1, 4, 15, 59), TZ) == "w:2026-W01"
    assert calendar.period_key("month", monday_local, TZ) == "m:2026-01"
    assert calendar.period_key("year", monday_local, TZ) == "y:2026"


def test_lifetime_and_unknown_periods_share_one_key() -> None:
    assert calendar.period_key("lifetime", utc(2026, 1, 5), TZ) == "life"
    assert calendar.period_key("decade", utc(2030, 1, 5), TZ) == "life"


def test_expiry_after_days_counts_from_the_credit_instant() -> None:
    credited = utc(2026, 1, 5, 9, 30)
    assert calendar.expiry_for(ExpiryPolicy(mode="after_days", days=30), credited, TZ) == credited + timedelta(days=30)
    assert calendar.expiry_for(ExpiryPolicy(mode="never"), credited, TZ) is None


def test_expiry_at_end_of_month_or_year_is_local_midnight_after_it() -> None:
    credited = utc(2026, 1, 15, 9)
    assert calendar.expiry_for(ExpiryPolicy(mode="end_of_month"), credited, TZ) == local_midnight(2026, 2, 1)
    december = utc(2026, 12, 15, 9)
    assert calendar.expiry_for(ExpiryPolicy(mode="end_of_month", offset=1), december, TZ) == local_midnight(2027, 2, 1)
    assert calendar.expiry_for(ExpiryPolicy(mode="end_of_year"), credited, TZ) == local_midnight(2027, 1, 1)
    assert calendar.expiry_for(ExpiryPolicy(mode="end_of_year", offset=2), credited, TZ) == local_midnight(2029, 1, 1)


def test_reviews_before_and_after_an_instant() -> None:
    lv = levels()
    assert calendar.previous_review(lv, utc(2026, 3, 1), TZ) == local_midnight(2026, 1, 1)
    assert calendar.next_review(lv, utc(2026, 3, 1), TZ) == local_midnight(2026, 7, 1)
    at_review = local_midnight(2026, 7, 1)
    assert calendar.previous_review(lv, at_review, TZ) == at_review
    assert calendar.next_review(lv, at_review, TZ) == local_midnight(2027, 1, 1)


def test_a_review_date_a_year_lacks_is_skipped_that_year() -> None:
    lv = levels(review_dates=["02-29", "06-01"])
    assert calendar.previous_review(lv, utc(2026, 3, 1), TZ) == local_midnight(2025, 6, 1)
    assert calendar.previous_review(lv, utc(2028, 3, 1), TZ) == local_midnight(2028, 2, 29)


@pytest.mark.parametrize(
    ("dates", "named"),
    [
        (["02-30"], "review date '02-30' is not a day of the year"),
        (["04-31", "06-01"], "review date '04-31' is not a day of the year"),
        (["02-29"], "at least one review date must be a day of every year"),
    ],
)
def test_review_dates_no_year_has_are_refused(dates: list[str], named: str) -> None:
    # A calendar of only such dates had no review in reach: `maintenance` failed with INTERNAL.
    with pytest.raises(ValidationError, match=named):
        levels(review_dates=dates)


def test_rolling_window_is_the_last_twelve_months() -> None:
    assert calendar.window_start(levels(), utc(2026, 3, 10, 4), TZ) == date(2025, 3, 11)
    assert calendar.window_start(levels(), utc(2028, 2, 29, 4), TZ) == date(2027, 3, 1)  # no 29 February in 2027


def test_calendar_year_window_at_a_review_is_the_year_that_ended() -> None:
    lv = levels("calendar_year")
    assert calendar.window_start(lv, utc(2026, 5, 5), TZ) == date(2026, 1, 1)
    new_year = local_midnight(2026, 1, 1)
    assert calendar.window_start(lv, new_year, TZ) == date(2026, 1, 1)
    assert calendar.window_start(lv, new_year, TZ, at_review=True) == date(2025, 1, 1)


def test_review_period_window_starts_at_the_previous_review() -> None:
    lv = levels("review_period")
    assert calendar.window_start(lv, utc(2026, 3, 1), TZ) == date(2026, 1, 1)
    assert calendar.window_start(lv, local_midnight(2026, 7, 1), TZ, at_review=True) == date(2026, 1, 1)


@pytest.mark.parametrize(
    ("window", "grace_ended", "expected"),
    [
        ("rolling_12_months", False, (date(2025, 7, 2), date(2026, 6, 30))),
        ("rolling_12_months", True, (date(2025, 8, 16), None)),  # counted up to now
        ("calendar_year", False, (date(2026, 1, 1), date(2026, 6, 30))),
        ("calendar_year", True, (date(2026, 1, 1), None)),
    ],
)
def test_review_window_counts_the_period_that_ended(
    window: str, grace_ended: bool, expected: tuple[date, date | None]
) -> None:
    review_at, now = local_midnight(2026, 7, 1), utc(2026, 8, 15, 4)
    assert calendar.review_window(levels(window), review_at, now, TZ, grace_ended=grace_ended) == expected
