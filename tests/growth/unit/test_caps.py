"""Award caps: the counters an event counts against, and which tasks a full counter refuses."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from services.growth.config import Caps, Task
from services.growth.domain import caps
from services.growth.domain.caps import Counter

TZ = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 1, 5, 9, tzinfo=UTC)
SIGN_IN = Task(id="sign_in", event_type="sign_in", caps=Caps(per_day=1))
PAY = Task(id="pay", event_type="pay", caps=Caps(per_week=2, lifetime=3))


def test_every_task_counts_its_periods_and_its_lifetime_in_task_order() -> None:
    assert caps.counters([SIGN_IN, PAY], AT, TZ) == [
        Counter("sign_in", "day", "d:2026-01-05", 1),
        Counter("sign_in", "lifetime", "life", None),
        Counter("pay", "week", "w:2026-W02", 2),
        Counter("pay", "lifetime", "life", 3),
    ]


def test_refusal_reasons_name_the_full_period() -> None:
    assert [caps.refusal_reason(p) for p in ("day", "week", "month", "lifetime")] == [
        "CAP_PER_DAY",
        "CAP_PER_WEEK",
        "CAP_PER_MONTH",
        "CAP_LIFETIME",
    ]


def test_tasks_whose_counters_all_counted_award_with_their_lifetime_count() -> None:
    wanted = caps.counters([SIGN_IN, PAY], AT, TZ)
    counted = {("sign_in", "d:2026-01-05"): 1, ("sign_in", "life"): 4, ("pay", "w:2026-W02"): 1, ("pay", "life"): 1}
    outcome = caps.decide([SIGN_IN, PAY], wanted, counted)
    assert outcome.refusals == {"sign_in": (None, 4), "pay": (None, 1)}
    assert outcome.undo == []


def test_a_full_counter_refuses_its_task_and_takes_back_the_task_s_other_counts() -> None:
    wanted = caps.counters([SIGN_IN, PAY], AT, TZ)
    counted = {("sign_in", "life"): 2, ("pay", "w:2026-W02"): 2, ("pay", "life"): 2}  # sign_in's day is full
    outcome = caps.decide([SIGN_IN, PAY], wanted, counted)
    assert outcome.refusals == {"sign_in": ("CAP_PER_DAY", 0), "pay": (None, 2)}
    assert outcome.undo == [("sign_in", "life")]


def test_a_full_lifetime_refuses_after_the_period_counted() -> None:
    wanted = caps.counters([PAY], AT, TZ)
    outcome = caps.decide([PAY], wanted, {("pay", "w:2026-W02"): 1})
    assert outcome.refusals == {"pay": ("CAP_LIFETIME", 0)}
    assert outcome.undo == [("pay", "w:2026-W02")]
