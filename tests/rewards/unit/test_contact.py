"""The contact policy's pure rules: local day and ISO week keys, quiet hours (also across midnight),
counters of another day or week reading as zero, and the order of the refusal reasons."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from services.rewards.config import ContactPolicy, QuietHours
from services.rewards.domain import contact
from services.rewards.domain.contact import ContactState

SHANGHAI = ZoneInfo("Asia/Shanghai")
POLICY = ContactPolicy(per_day=3, per_week=5)
NIGHT = QuietHours(start="22:00", end="08:00")


def test_day_and_week_keys_follow_the_local_calendar() -> None:
    sunday_late = datetime(2026, 1, 11, 15, 59, tzinfo=UTC)  # Sunday 23:59 in Shanghai
    monday = datetime(2026, 1, 11, 16, 0, tzinfo=UTC)  # Monday 00:00 in Shanghai, still Sunday in UTC
    assert contact.day_key(sunday_late, SHANGHAI) == "2026-01-11"
    assert contact.day_key(monday, SHANGHAI) == "2026-01-12"
    assert contact.week_key(sunday_late, SHANGHAI) == "2026-W02"
    assert contact.week_key(monday, SHANGHAI) == "2026-W03"


def test_iso_week_of_the_first_days_of_a_year_can_belong_to_the_previous_year() -> None:
    assert contact.week_key(datetime(2027, 1, 1, 4, 0, tzinfo=UTC), SHANGHAI) == "2026-W53"


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


def test_counters_of_another_day_or_week_read_as_zero() -> None:
    assert contact.state_on(None, "2026-01-05", 2, "2026-W02", 4, "2026-01-05", "2026-W02") == ContactState(False, 2, 4)
    assert contact.state_on(1, "2026-01-04", 2, "2026-W02", 4, "2026-01-05", "2026-W02") == ContactState(True, 0, 4)
    assert contact.state_on(0, "2026-01-04", 2, "2026-W01", 4, "2026-01-05", "2026-W02") == ContactState(False, 0, 0)


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


def test_a_refused_touch_is_explained_by_the_row_read_again() -> None:
    assert contact.touch_refused(ContactState(True, 0, 0), POLICY) == contact.OPTED_OUT
    assert contact.touch_refused(ContactState(False, 3, 3), POLICY) == contact.CAP_DAY
    assert contact.touch_refused(ContactState(False, 1, 5), POLICY) == contact.CAP_WEEK
