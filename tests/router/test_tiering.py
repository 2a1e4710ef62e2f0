"""Tiering at every threshold boundary, each knock-out, and the in-house product rules."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import DbTarget
from tests.router.helpers import DECLINED, IN_HOUSE, POOL, codes, request, router, stub


async def test_tier_at_each_threshold_boundary(db_target: DbTarget, tmp_path: Path) -> None:
    async with router(db_target, tmp_path, stickiness_hours=0) as h:
        cases = [
            (700, "prime", IN_HOUSE),
            (699, "near_prime", POOL),
            (600, "near_prime", POOL),
            (599, "tail", POOL),
            (500, "tail", POOL),
            (499, "declined", DECLINED),
        ]
        for i, (score, tier, destination) in enumerate(cases):
            decision = await stub(h).RouteApplicant(request(100 + i, score=score))
            assert (decision.score, decision.tier, decision.destination) == (score, tier, destination), score
            assert decision.decision_id and decision.config_version and decision.policy_version
        # Scorecard bins add to the external score: 650 + 50 for a high income lands exactly on prime.
        boosted = await stub(h).RouteApplicant(request(200, score=650, income="high"))
        assert (boosted.score, boosted.tier, boosted.destination) == (700, "prime", IN_HOUSE)
        assert codes(boosted) == ["TIER_PRIME", "IN_HOUSE"]
        below = await stub(h).RouteApplicant(request(201, score=499))
        assert codes(below) == ["SCORE_BELOW_MINIMUM"]


async def test_each_knockout_declines_with_its_reason(db_target: DbTarget, tmp_path: Path) -> None:
    async with router(db_target, tmp_path, stickiness_hours=0) as h:
        route = stub(h).RouteApplicant
        assert codes(await route(request(1, age=17))) == ["AGE_OUT_OF_RANGE"]
        assert codes(await route(request(2, age=61))) == ["AGE_OUT_OF_RANGE"]
        assert (await route(request(3, age=18))).tier == "prime"  # bounds are inclusive
        assert (await route(request(4, age=60))).tier == "prime"
        assert codes(await route(request(5, age=None))) == ["AGE_UNKNOWN"]
        assert codes(await route(request(6, region="CN-65"))) == ["REGION_BLOCKED"]
        assert codes(await route(request("deny-ref-0001"))) == ["DENY_LISTED"]
        assert codes(await route(request(7, income="none"))) == ["NO_INCOME"]
        both = await route(request(8, age=70, region="CN-65"))
        assert both.destination == DECLINED and codes(both) == ["AGE_OUT_OF_RANGE", "REGION_BLOCKED"]

        # Applicant velocity: at most 2 decisions in 48 h (stickiness is off here, so each one counts).
        assert (await route(request(20))).destination == IN_HOUSE
        h.clock.advance(hours=1)
        assert (await route(request(20))).destination == IN_HOUSE
        h.clock.advance(hours=1)
        third = await route(request(20))
        assert (third.destination, codes(third)) == (DECLINED, ["VELOCITY_APPLICANT"])
        h.clock.advance(hours=46)  # t+48h: the first has left the window; the 2nd and the refused 3rd count
        assert codes(await route(request(20))) == ["VELOCITY_APPLICANT"]
        h.clock.advance(hours=2)  # t+50h: only the refusal made at t+48h is still inside the 48 h window
        assert (await route(request(20))).destination == IN_HOUSE

        # Device velocity: at most 3 decisions per device in 24 h, across applicants.
        for n in range(3):
            assert (await route(request(30 + n, device="device-hash-abc"))).destination == IN_HOUSE
        fourth = await route(request(40, device="device-hash-abc"))
        assert codes(fourth) == ["VELOCITY_DEVICE"]
        assert (await route(request(41, device="device-hash-other"))).destination == IN_HOUSE


async def test_in_house_product_rules_send_prime_to_the_pool(db_target: DbTarget, tmp_path: Path) -> None:
    async with router(db_target, tmp_path) as h:
        route = stub(h).RouteApplicant
        small = await route(request(1, amount=99_999))
        assert (small.tier, small.destination) == ("prime", POOL)
        assert "IN_HOUSE_AMOUNT_OUT_OF_RANGE" in codes(small)
        term = await route(request(2, term=24))
        assert (term.destination, codes(term)[-1]) == (POOL, "IN_HOUSE_TERM_NOT_OFFERED")
        ok = await route(request(3, amount=100_000, term=6))
        assert (ok.destination, ok.product_id) == (IN_HOUSE, "travel_loan")
    async with router(db_target, tmp_path, prime_cost=2500) as h:
        pricey = await stub(h).RouteApplicant(request(4))
        assert (pricey.tier, pricey.destination) == ("prime", POOL)
        assert "IN_HOUSE_COST_ABOVE_CEILING" in codes(pricey)
