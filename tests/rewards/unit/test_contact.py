"""The contact policy's pure rules: the local day (also on daylight-saving days), the rolling week of 7
local days, quiet hours (also across midnight), counts of days outside the window reading as zero, and
the order of the refusal reasons."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from services.rewards.config import ContactPolicy, QuietHours
from services.rewards.domain import contact
from services.rewards.domain.contact import ContactState

SHANGHAI = ZoneInfo("Asia/Shanghai")  # no daylight saving
BERLIN = ZoneInfo("Europe/Berlin")  # daylight saving from the last Sunday of March to the last of October
POLICY = ContactPolicy(per_day=3, per_week=5)
NIGHT = QuietHours(start="22:00", end="08:00")


def test_the_day_follows_the_local_calendar() -> None:
    sunday_late = datetime(2026, 1, 11, 15, 59, tzinfo=UTC)  # Sunday 23:59 in Shanghai
    monday = datetime(2026, 1, 11, 16, 0, tzinfo=UTC)  # Monday 00:00 in Shanghai, still Sunday in UTC
    assert contact.day_key(sunday_late, SHANGHAI) == "2026-01-11"
    assert contact.day_key(monday, SHANGHAI) == "2026-01-12"


def test_a_daylight_saving_day_ends_at_local_midnight() -> None:
    # Sunday 2026-03-29 in Berlin has 23 hours: it starts 23:00 UTC (CET) and ends 22:00 UTC (CEST).
    assert contact.day_key(datetime(2026, 3, 28, 22, 59, tzinfo=UTC), BERLIN) == "2026-03-28"
    assert contact.day_key(datetime(2026, 3, 28, 23, 0, tzinfo=UTC), BERLIN) == "2026-03-29"
    assert contact.day_key(datetime(2026, 3, 29, 21, 59, tzinfo=UTC), BERLIN) == "2026-03-29"
    assert contact.day_key(datetime(2026, 3, 29, 22, 0, tzinfo=UTC), BERLIN) == "2026-03-30"
    # Sunday 2026-10-25 has 25 hours: 22:00 UTC (CEST) to 23:00 UTC (CET).
    assert contact.day_key(datetime(2026, 10, 25, 22, 59, tzinfo=UTC), BERLIN) == "2026-10-25"
    assert contact.day_key(datetime(2026, 10, 25, 23, 0, tzinfo=UTC), BERLIN) == "2026-10-26"


def test_the_week_is_any_seven_consecutive_local_days() -> None:
    # Saturday 3, Sunday 2 (2026-01-10/11): the rolling week holds 5 until the Saturday after leaves it.
    row = ("2026-01-11", "2,3")
    assert contact.state_on(False, *row, "2026-01-11") == ContactState(False, 2, 5)
    assert contact.state_on(False, *row, "2026-01-12") == ContactState(False, 0, 5)  # a new ISO week, same count
    assert contact.state_on(False, *row, "2026-01-16") == ContactState(False, 0, 5)
    assert contact.state_on(False, *row, "2026-01-17") == ContactState(False, 0, 2)
    assert contact.state_on(False, *row, "2026-01-18") == ContactState(False, 0, 0)


def test_a_touch_shifts_the_ledger_to_its_day() -> None:
    assert contact.after_touch("", "", "2026-01-05") == ("2026-01-05", "1,0,0,0,0,0,0")
    assert contact.after_touch("2026-01-05", "1,0,0,0,0,0,0", "2026-01-05") == ("2026-01-05", "2,0,0,0,0,0,0")
    assert contact.after_touch("2026-01-05", "2,0,0,0,0,0,0", "2026-01-07") == ("2026-01-07", "1,0,2,0,0,0,0")
    # Days that left the window are forgotten.
    assert contact.after_touch("2026-01-05", "2,0,0,0,0,0,1", "2026-01-12") == ("2026-01-12", "1,0,0,0,0,0,0")
    assert contact.after_touch("2026-01-05", "2,1", "2026-01-20") == ("2026-01-20", "1,0,0,0,0,0,0")


def test_the_week_counts_local_days_not_hours_across_a_daylight_saving_change() -> None:
    # Touched on Berlin's 23-hour Sunday; it leaves the window at the end of the following Saturday, local.
    touched = contact.day_key(datetime(2026, 3, 29, 21, 30, tzinfo=UTC), BERLIN)
    row = contact.after_touch("", "", touched)
    sat_late = contact.day_key(datetime(2026, 4, 4, 21, 59, tzinfo=UTC), BERLIN)
    sun = contact.day_key(datetime(2026, 4, 4, 22, 0, tzinfo=UTC), BERLIN)  # less than 168 hours after
    assert contact.state_on(False, *row, sat_late).week_count == 1
    assert contact.state_on(False, *row, sun).week_count == 0


def test_quiet_hours_wrapping_midnight() -> None:
    def local(hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 1, 5, hour, minute, tzinfo=SHANGHAI)

    assert contact.in_quiet_hours(local(22), SHANGHAI, NIGHT)
    assert contact.in_quiet_hours(local(3), SHANGHAI, NIGHT)
    assert contact.in_quiet_hours(local(7, 59), SHANGHAI, NIGHT)
    assert not contact.in_quiet_hours(local(8), SHANGHAI, NIGHT)
    assert not contact.in_quiet_hours(local(21, 59), SHANGHAI, NIGHT)


def test_quiet_hours_within_a_day_and_empty_windows() -> None:
    lunch = QuietHours(start="12:00", end="13:00")
    assert contact.in_quiet_hours(datetime(2026, 1, 5, 12, 30, tzinfo=SHANGHAI), SHANGHAI, lunch)
    assert not contact.in_quiet_hours(datetime(2026, 1, 5, 13, 0, tzinfo=SHANGHAI), SHANGHAI, lunch)
    assert not contact.in_quiet_hours(datetime(2026, 1, 5, 12, 0, tzinfo=SHANGHAI), SHANGHAI, None)
    same = QuietHours(start="09:00", end="09:00")
    assert not contact.in_quiet_hours(datetime(2026, 1, 5, 9, 0, tzinfo=SHANGHAI), SHANGHAI, same)


def test_counters_of_another_day_read_as_zero() -> None:
    assert contact.state_on(None, "2026-01-05", "2,2", "2026-01-05") == ContactState(False, 2, 4)
    assert contact.state_on(1, "2026-01-04", "2,2", "2026-01-05") == ContactState(True, 0, 4)
    assert contact.state_on(0, "", "", "2026-01-05") == ContactState(False, 0, 0)


def test_refusal_reasons_come_in_the_documented_order() -> None:
    quiet = ContactPolicy(per_day=3, per_week=5, quiet_hours=NIGHT)
    night = datetime(2026, 1, 5, 23, 0, tzinfo=SHANGHAI)
    noon = datetime(2026, 1, 5, 12, 0, tzinfo=SHANGHAI)
    full = ContactState(True, 3, 5)
    assert contact.refusal(full, quiet, night, SHANGHAI) == contact.OPTED_OUT
    assert contact.refusal(ContactState(False, 3, 5), quiet, night, SHANGHAI) == contact.QUIET_HOURS
    assert contact.refusal(ContactState(False, 3, 5), quiet, noon, SHANGHAI) == contact.CAP_DAY
    assert contact.refusal(ContactState(False, 2, 5), quiet, noon, SHANGHAI) == contact.CAP_WEEK
    assert contact.refusal(ContactState(False, 2, 4), quiet, noon, SHANGHAI) is None


def test_ops_opt_out_counts_like_the_customers_own() -> None:
    noon = datetime(2026, 1, 5, 12, 0, tzinfo=SHANGHAI)
    fresh = ContactState(False, 0, 0)
    assert contact.refusal(fresh, POLICY, noon, SHANGHAI, opted_out_by_ops=True) == contact.OPTED_OUT
    assert contact.refusal(fresh, POLICY, noon, SHANGHAI) is None


def test_cap_reached_names_the_day_cap_first() -> None:
    assert contact.cap_reached(ContactState(False, 3, 5), POLICY) == contact.CAP_DAY
    assert contact.cap_reached(ContactState(False, 0, 5), POLICY) == contact.CAP_WEEK
    assert contact.cap_reached(ContactState(False, 2, 4), POLICY) is None
