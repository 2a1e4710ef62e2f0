"""The pure rules of triggered journeys: event names, the due time in the customer's local window (also on
a daylight-saving day), re-entry and the risk screen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from services.rewards.config import LocalWindow, RiskScreen, Trigger
from services.rewards.domain import journey

SHANGHAI, BERLIN = ZoneInfo("Asia/Shanghai"), ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


def trigger(**fields: object) -> Trigger:
    return Trigger.model_validate({"id": "t", "campaign": "c", "event": "outside.payroll_credited", **fields})


def test_event_names_map_to_streams_and_back() -> None:
    assert journey.qualified("rewards", "outside.payroll_credited") == "outside.payroll_credited"
    assert journey.qualified("rewards", "coupon_redeemed") == "rewards.coupon_redeemed"
    assert journey.stream_of("outside.payroll_credited") == ("rewards", "outside.payroll_credited")
    assert journey.stream_of("growth.level_changed") == ("growth", "level_changed")
    wanted = journey.listens_to([trigger(exit_on=["rewards.coupon_redeemed"], risk={"flags": ["risk_flagged"]})])
    assert wanted == {"rewards": {"outside.payroll_credited", "coupon_redeemed", "outside.risk_flagged"}}


def test_bad_triggers_are_refused_with_the_reason() -> None:
    with pytest.raises(ValidationError, match=r"<source>\.<type>"):
        trigger(event="payroll")
    with pytest.raises(ValidationError, match="next_product"):
        trigger(wave=2)
    with pytest.raises(ValidationError, match="growth_levels"):
        trigger(when={"age": {"min": 18}})


def test_the_touch_is_due_after_the_delay_inside_the_local_window() -> None:
    window = LocalWindow(start="09:00", end="20:00")
    evening = datetime(2026, 1, 5, 12, 30, tzinfo=UTC)  # 20:30 in Shanghai
    assert journey.due_at(trigger(window=window), evening, SHANGHAI) == datetime(2026, 1, 6, 1, 0, tzinfo=UTC)
    assert journey.due_at(trigger(window=window, delay_minutes=30), NOW, SHANGHAI) == NOW + timedelta(minutes=30)
    early = datetime(2026, 1, 4, 23, 0, tzinfo=UTC)  # 07:00 in Shanghai: later the same local day
    assert journey.due_at(trigger(window=window), early, SHANGHAI) == NOW


def test_the_window_opens_at_local_time_on_a_daylight_saving_day() -> None:
    window = LocalWindow(start="09:00", end="20:00")
    saturday_night = datetime(2026, 3, 28, 21, 0, tzinfo=UTC)  # 22:00 CET
    # Sunday 09:00 in Berlin is CEST (UTC+2) after the 02:00 change.
    assert journey.due_at(trigger(window=window), saturday_night, BERLIN) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)


def test_re_entry_needs_an_ended_journey_and_the_days_given() -> None:
    once, weekly = trigger(), trigger(reentry_days=7)
    assert not journey.may_reenter(once, journey.DONE, NOW - timedelta(days=30), NOW)
    assert not journey.may_reenter(weekly, journey.ACTIVE, NOW - timedelta(days=30), NOW)
    assert not journey.may_reenter(weekly, journey.DONE, NOW - timedelta(days=6, hours=23), NOW)
    assert journey.may_reenter(weekly, journey.EXITED, NOW - timedelta(days=7), NOW)


def test_the_risk_screen_reads_recent_verdicts_and_flags() -> None:
    screen = RiskScreen(exclude=["DECLINED", "KO_FRAUD"], within_days=30, flags=["risk_flagged"])
    clean = journey.KeptRisk("IN_HOUSE", "prime", "", NOW - timedelta(days=1), {})
    assert journey.screened_out(screen, clean, NOW) is None
    declined = journey.KeptRisk("DECLINED", "declined", "", NOW - timedelta(days=29), {})
    assert journey.screened_out(screen, declined, NOW) == "VERDICT:DECLINED"
    old = journey.KeptRisk("DECLINED", "declined", "", NOW - timedelta(days=31), {})
    assert journey.screened_out(screen, old, NOW) is None
    knocked = journey.KeptRisk("PARTNER_POOL", "tail", "AGE,KO_FRAUD", NOW, {})
    assert journey.screened_out(screen, knocked, NOW) == "VERDICT:KO_FRAUD"
    flagged = journey.KeptRisk("", "", "", None, {"risk_flagged": NOW - timedelta(days=2)})
    assert journey.screened_out(screen, flagged, NOW) == "FLAG:risk_flagged"
    assert journey.screened_out(None, declined, NOW) is None
