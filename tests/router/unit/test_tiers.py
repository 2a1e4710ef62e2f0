"""Tier thresholds: every boundary, the floor, and where each tier's route sends an applicant."""

from __future__ import annotations

import pytest

from services.router.domain.model import DECLINED_TIER, Arm, Destination
from services.router.domain.policy import finalize
from tests.router.unit.helpers import codes, compiled, facts


@pytest.mark.parametrize(
    ("score", "tier", "destination"),
    [
        (700, "prime", Destination.IN_HOUSE),
        (699, "near_prime", Destination.PARTNER_POOL),
        (600, "near_prime", Destination.PARTNER_POOL),
        (599, "tail", Destination.PARTNER_POOL),
        (500, "tail", Destination.PARTNER_POOL),
        (499, DECLINED_TIER, Destination.DECLINED),
    ],
)
def test_a_score_on_a_threshold_is_in_that_tier(score: int, tier: str, destination: Destination) -> None:
    decision = finalize(compiled().evaluate(facts(score=score)), Arm.CHAMPION, capacity_granted=True)
    assert (decision.score, decision.tier, decision.destination) == (score, tier, destination)


def test_below_the_lowest_threshold_is_declined_naming_the_floor() -> None:
    evaluation = compiled().evaluate(facts(score=499))
    assert codes(evaluation.reasons) == ["SCORE_BELOW_MINIMUM"]
    assert "below the lowest tier threshold 500" in evaluation.reasons[0].message


def test_thresholds_come_from_the_policy() -> None:
    assert compiled(prime=680).evaluate(facts(score=690)).tier == "prime"
    assert compiled(near_prime=640).evaluate(facts(score=620)).tier == "tail"


def test_pool_tiers_say_why_they_go_to_the_pool() -> None:
    evaluation = compiled().evaluate(facts(score=620))
    assert (evaluation.capacity_claim, evaluation.fallback) == (None, Destination.PARTNER_POOL)
    assert codes(evaluation.reasons) == ["TIER_NEAR_PRIME", "TIER_ROUTES_TO_POOL"]


def test_an_in_house_tier_claims_a_slot_and_overflows_to_the_pool() -> None:
    evaluation = compiled(cap=5).evaluate(facts(score=720))
    assert evaluation.capacity_claim is not None
    assert (evaluation.capacity_claim.product_id, evaluation.capacity_claim.daily_cap) == ("travel_loan", 5)
    served = finalize(evaluation, Arm.CHAMPION, capacity_granted=True)
    assert (served.destination, served.product_id, codes(served.reasons)) == (
        Destination.IN_HOUSE,
        "travel_loan",
        ["TIER_PRIME", "IN_HOUSE"],
    )
    overflow = finalize(evaluation, Arm.CHAMPION, capacity_granted=False)
    assert (overflow.destination, overflow.product_id) == (Destination.PARTNER_POOL, "")
    assert codes(overflow.reasons) == ["TIER_PRIME", "IN_HOUSE_CAPACITY_EXHAUSTED"]
