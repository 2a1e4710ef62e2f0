"""What one event awards: base points and growth, first-time and streak bonuses, and who a referral
rewards."""

from __future__ import annotations

from services.growth.config import Bonus, Referral, Streak, Task
from services.growth.domain import awards

SIGN_IN = Task(
    id="sign_in", event_type="sign_in", points=5, growth=1, streak=Streak(days=3, bonus=Bonus(points=20, growth=2))
)
PAY = Task(id="pay", event_type="pay", points=10, first_time_bonus=Bonus(points=100))
GROW = Task(id="grow", event_type="grow", growth=100)
REFERRAL = Task(id="referral", event_type="referral_qualified", referral=Referral(bonus=Bonus(points=200)))


def test_the_base_part_carries_points_and_growth() -> None:
    assert awards.parts(SIGN_IN, {}, 1.0, 7, streak_completed=False) == [("base", 5, 1)]
    assert awards.parts(GROW, {}, 1.0, 1, streak_completed=False) == [("base", 0, 100)]  # growth only
    assert awards.parts(Task(id="t", event_type="e"), {}, 1.0, 1, streak_completed=False) == []


def test_the_first_time_bonus_comes_with_the_first_award_only() -> None:
    assert awards.parts(PAY, {}, 1.0, 1, streak_completed=False) == [("base", 10, 0), ("first_time", 100, 0)]
    assert awards.parts(PAY, {}, 1.0, 2, streak_completed=False) == [("base", 10, 0)]


def test_a_completed_streak_adds_its_bonus() -> None:
    assert awards.parts(SIGN_IN, {}, 1.0, 3, streak_completed=True) == [("base", 5, 1), ("streak", 20, 2)]


def test_the_level_multiplier_applies_to_points_of_every_part_not_growth() -> None:
    assert awards.parts(PAY, {}, 1.5, 1, streak_completed=False) == [("base", 15, 0), ("first_time", 150, 0)]
    assert awards.parts(SIGN_IN, {}, 2.0, 3, streak_completed=True) == [("base", 10, 1), ("streak", 40, 2)]
    fixed = PAY.model_copy(update={"apply_level_multiplier": False})
    assert awards.parts(fixed, {}, 2.0, 2, streak_completed=False) == [("base", 10, 0)]


def test_a_streak_completes_on_every_multiple_of_its_days() -> None:
    assert [n for n in range(1, 10) if awards.streak_completes(n, 3)] == [3, 6, 9]


def test_a_referral_rewards_the_named_referrer_else_the_enrolment_referrer_never_oneself() -> None:
    assert awards.referrer_for(REFERRAL, {"referrer": "cust_a"}, "cust_b", "cust_c") == "cust_a"
    assert awards.referrer_for(REFERRAL, {}, "cust_b", "cust_c") == "cust_c"
    assert awards.referrer_for(REFERRAL, {}, "cust_b", None) is None
    assert awards.referrer_for(REFERRAL, {"referrer": "cust_b"}, "cust_b", None) is None
