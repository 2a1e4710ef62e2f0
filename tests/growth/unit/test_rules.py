"""Earning rules: task conditions, points per unit, the level multiplier, cap periods and streaks."""

from __future__ import annotations

import pytest

from services.growth.config import Caps, Condition, PerUnit, Task
from services.growth.domain import rules


@pytest.mark.parametrize(
    ("condition", "attributes", "holds"),
    [
        (Condition(attribute="tier", op="present"), {"tier": "gold"}, True),
        (Condition(attribute="tier", op="present"), {"tier": ""}, False),
        (Condition(attribute="tier", op="present"), {}, False),
        (Condition(attribute="tier", value="gold"), {"tier": "gold"}, True),
        (Condition(attribute="tier", value="gold"), {}, False),
        (Condition(attribute="count", value=10), {"count": "10.0"}, True),  # numbers compare as numbers
        (Condition(attribute="count", op="ne", value=10), {"count": "10.0"}, False),
        (Condition(attribute="count", op="ne", value=10), {"count": "abc"}, True),
        (Condition(attribute="city", op="in", values=["sh", "bj"]), {"city": "sh"}, True),
        (Condition(attribute="city", op="not_in", values=["sh", "bj"]), {"city": "sh"}, False),
        (Condition(attribute="amount", op="gte", value=1000), {"amount": "1000"}, True),
        (Condition(attribute="amount", op="gt", value=1000), {"amount": "1000"}, False),
        (Condition(attribute="amount", op="lte", value=1000), {"amount": "999.5"}, True),
        (Condition(attribute="amount", op="lt", value=1000), {"amount": "1000"}, False),
        (Condition(attribute="amount", op="gte", value=1000), {"amount": "lots"}, False),
    ],
)
def test_condition_holds(condition: Condition, attributes: dict[str, str], holds: bool) -> None:
    assert rules.condition_holds(condition, attributes) is holds


def test_a_task_matches_its_event_type_when_every_condition_holds() -> None:
    task = Task(id="pay", event_type="pay", conditions=[Condition(attribute="amount_fen", op="gte", value=1000)])
    assert rules.matches(task, "pay", {"amount_fen": "2000"})
    assert not rules.matches(task, "pay", {"amount_fen": "999"})
    assert not rules.matches(task, "sign_in", {"amount_fen": "2000"})


@pytest.mark.parametrize(("amount", "points"), [("57", 15), ("30", 13), ("100000", 15), ("-3", 10), ("abc", 10)])
def test_points_per_unit_are_added_to_the_base_up_to_their_maximum(amount: str, points: int) -> None:
    task = Task(
        id="pay", event_type="pay", points=10, per_unit=PerUnit(attribute="amount", per=10, points=1, max_points=5)
    )
    assert rules.base_points(task, {"amount": amount}) == points


def test_the_multiplier_rounds_down_and_applies_only_when_the_task_says_so() -> None:
    assert rules.with_multiplier(15, 1.5, True) == 22
    assert rules.with_multiplier(15, 1.5, False) == 15


def test_lifetime_is_always_counted_after_the_configured_periods() -> None:
    task = Task(id="t", event_type="e", caps=Caps(per_day=1, per_month=5))
    assert rules.cap_periods(task) == [("day", 1), ("month", 5), ("lifetime", None)]
    assert rules.cap_periods(Task(id="t", event_type="e", caps=Caps(lifetime=3))) == [("lifetime", 3)]


@pytest.mark.parametrize(
    ("last_day", "length", "after"),
    [
        (None, 0, (1, True)),  # first day
        ("2026-01-04", 2, (3, True)),  # yesterday: the streak goes on
        ("2026-01-02", 5, (1, True)),  # a gap: a new streak
        ("2026-01-05", 2, (2, False)),  # same day again: unchanged
        ("2026-01-06", 4, (4, False)),  # a late event for an older day: left alone
    ],
)
def test_streak_after_activity_today(last_day: str | None, length: int, after: tuple[int, bool]) -> None:
    assert rules.streak_after(last_day, length, "2026-01-05", "2026-01-04") == after
