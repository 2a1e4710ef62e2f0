"""Level arithmetic: the level a growth value earns, overrides as floors, and what a review decides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.growth.config import Level, Levels
from services.growth.domain import levels
from services.growth.domain.levels import ReviewOutcome

NOW = datetime(2026, 7, 1, tzinfo=UTC)


def tiers(grace_days: int = 30, one_down: bool = True) -> Levels:
    return Levels(
        grace_days=grace_days,
        one_down=one_down,
        tiers=[Level(id=f"l{i}", threshold=t) for i, t in enumerate((0, 100, 200, 300))],
    )


@pytest.mark.parametrize(("growth", "level"), [(0, 0), (99, 0), (100, 1), (250, 2), (300, 3), (10_000, 3)])
def test_level_for_is_the_highest_threshold_reached(growth: int, level: int) -> None:
    assert levels.level_for(tiers(), growth) == level


def test_an_active_override_is_a_floor() -> None:
    later, earlier = NOW + timedelta(days=1), NOW - timedelta(seconds=1)
    assert levels.effective(0, 2, later, NOW) == 2
    assert levels.effective(3, 2, later, NOW) == 3  # never lowers an earned level
    assert levels.effective(0, 2, earlier, NOW) == 0  # over
    assert levels.effective(1, None, None, NOW) == 1


def test_qualifying_keeps_or_raises_the_level_and_ends_grace() -> None:
    assert levels.review(tiers(), 2, 2, NOW - timedelta(days=1), NOW) == ReviewOutcome(2, None, False, False)
    assert levels.review(tiers(), 1, 3, None, NOW) == ReviewOutcome(3, None, True, False)


def test_falling_short_first_opens_a_grace_period() -> None:
    assert levels.review(tiers(), 3, 0, None, NOW) == ReviewOutcome(3, NOW + timedelta(days=30), False, True)


def test_the_level_holds_while_grace_lasts() -> None:
    grace = NOW + timedelta(days=3)
    assert levels.review(tiers(), 3, 0, grace, NOW) == ReviewOutcome(3, grace, False, False)


def test_after_grace_the_level_drops_one_step_or_to_what_was_earned() -> None:
    over = NOW - timedelta(days=1)
    assert levels.review(tiers(), 3, 0, over, NOW) == ReviewOutcome(2, None, True, False)
    assert levels.review(tiers(one_down=False), 3, 0, over, NOW) == ReviewOutcome(0, None, True, False)


def test_without_grace_days_the_drop_is_immediate() -> None:
    assert levels.review(tiers(grace_days=0), 2, 0, None, NOW) == ReviewOutcome(1, None, True, False)
