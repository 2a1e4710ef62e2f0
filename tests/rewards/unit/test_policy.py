"""The allocation policy's arm choice, with a seeded RNG: reproducible, never dearer than the budget left,
nothing when no arm is worth its cost, the arm that evidence favours otherwise, and a logged propensity
that is a probability. Plus what the posteriors record and the pacer's schedule."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from services.rewards.domain.policy import (
    BASELINE,
    NONE,
    ArmSpec,
    Pacer,
    PolicyParams,
    Posteriors,
    choose,
    claims_per_redemption,
    draw_spread,
    isotonic,
    no_offer_price,
    share_left,
)

ARMS = [ArmSpec("m50-5", 500), ArmSpec("m100-10", 1000), ArmSpec("m200-30", 3000)]
GREEDY = PolicyParams(exploration=0.0, propensity_draws=16)
NOW = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)


def learned(baseline: tuple[int, int] = (1000, 50), per_arm: tuple[int, int] = (1000, 400)) -> Posteriors:
    """A segment 'mass' whose holdout converts 5% and whose every arm converts 40%."""
    p = Posteriors()
    p.record_trial("mass", BASELINE, baseline[0])
    p.record_success("mass", BASELINE, baseline[1])
    for arm in ARMS:
        p.record_trial("mass", arm.id, per_arm[0])
        p.record_success("mass", arm.id, per_arm[1])
    return p


def test_the_same_seed_makes_the_same_choices() -> None:
    def run(seed: int) -> list[tuple[str, float]]:
        rng, p = random.Random(seed), learned()
        params = PolicyParams(exploration=0.2, propensity_draws=16)
        return [(c.arm, c.propensity) for c in (choose(p, "mass", ARMS, 10_000, 1.0, rng, params) for _ in range(50))]

    assert run(7) == run(7)


def test_nothing_is_offered_when_no_arm_fits_the_budget_left() -> None:
    choice = choose(learned(), "mass", ARMS, 10_000, 0.0, random.Random(1), GREEDY, budget_left_fen=499)
    assert (choice.arm, choice.reason) == (NONE, "BUDGET_EXHAUSTED")


def test_arms_dearer_than_the_budget_left_are_never_chosen() -> None:
    rng, p = random.Random(2), learned()
    params = PolicyParams(exploration=0.5, propensity_draws=16)
    picked = {choose(p, "mass", ARMS, 10_000, 0.0, rng, params, budget_left_fen=1000).arm for _ in range(200)}
    assert picked <= {"m50-5", "m100-10"}
    assert picked - {NONE}


def test_nothing_is_offered_when_no_arm_is_worth_its_cost() -> None:
    rng, p = random.Random(3), learned()
    choices = [choose(p, "mass", ARMS, 10_000, 1e6, rng, GREEDY) for _ in range(20)]
    assert {(c.arm, c.reason) for c in choices} == {(NONE, "NO_PROFITABLE_ARM")}


def test_with_clear_evidence_and_a_free_budget_an_arm_is_offered() -> None:
    rng, p = random.Random(4), learned()
    choices = [choose(p, "mass", ARMS, 10_000, 0.0, rng, GREEDY) for _ in range(20)]
    assert all(c.arm in {a.id for a in ARMS} and c.reason == "THOMPSON" for c in choices)
    assert all(not c.explored for c in choices)


def test_the_logged_propensity_is_a_probability_and_the_scores_cover_the_arms() -> None:
    rng, p = random.Random(5), learned()
    params = PolicyParams(exploration=0.3, propensity_draws=16)
    for _ in range(50):
        c = choose(p, "mass", ARMS, 10_000, 0.5, rng, params)
        assert 0.0 < c.propensity <= 1.0
        assert [e.arm for e in c.estimates] == [a.id for a in ARMS]


def test_exploration_is_logged_as_such() -> None:
    rng, p = random.Random(6), learned()
    params = PolicyParams(exploration=0.5, propensity_draws=16)
    reasons = {choose(p, "mass", ARMS, 10_000, 0.0, rng, params).reason for _ in range(200)}
    assert {"EXPLORATION", "THOMPSON"} <= reasons


def test_a_refund_takes_back_one_recorded_success() -> None:
    p = Posteriors()
    p.record_trial("mass", "m100-10")
    p.record_success("mass", "m100-10")
    p.retract_success("mass", "m100-10")
    p.retract_success("mass", "m100-10")  # never below zero
    cell = p.cells[("mass", "m100-10")]
    assert (cell.trials, cell.successes) == (1, 0)


def test_a_refund_puts_the_claim_back_to_pending_on_the_claim_clock() -> None:
    p = Posteriors()
    claimed, redeemed = NOW, NOW + timedelta(hours=5)
    p.record_trial("mass", "m100-10")
    p.record_claim("mass", "m100-10", at=claimed)
    p.record_success("mass", "m100-10", claimed_at=claimed, at=redeemed)
    assert (p.clock.pending, p.clock.redeemed) == ({}, 1)
    p.retract_success("mass", "m100-10", claimed_at=claimed, redeemed_at=redeemed)
    cell = p.cells[("mass", "m100-10")]
    assert (cell.claims, cell.successes, cell.expired) == (1, 0, 0)
    assert cell.converted(0.5) == 0.5  # pending again: it may still redeem
    assert (p.clock.pending, p.clock.redeemed, p.clock.delay_hours) == ({int(NOW.timestamp() // 3600): 1}, 0, 0.0)
    p.record_expiry("mass", "m100-10", claimed_at=claimed)  # refunded after its validity: settled as expired
    assert cell.converted(0.5) == 0.0
    assert (p.clock.pending, p.clock.expired) == ({}, 1)


def test_isotonic_projection_is_non_decreasing_and_keeps_ordered_input() -> None:
    assert isotonic([0.1, 0.2, 0.3], [1, 1, 1]) == [0.1, 0.2, 0.3]
    got = isotonic([0.3, 0.1, 0.2], [1, 1, 1])
    assert got == sorted(got) and abs(sum(got) - 0.6) < 1e-12


def test_the_pacer_is_due_at_start_and_then_once_per_interval() -> None:
    pacer = Pacer(lam=1.0, lam_min=0.05, lam_max=50.0, interval_seconds=60)
    assert pacer.due(NOW)
    pacer.update(NOW, Posteriors(), ARMS, {"mass": 10_000.0}, 1e6, 86_400, 1e5, 3_600, GREEDY)
    assert not pacer.due(NOW + timedelta(seconds=59))
    assert pacer.due(NOW + timedelta(seconds=60))


def test_the_pacer_measures_arrivals_over_the_last_week_only() -> None:
    # A busy first week of segment "a", then a quiet one of segment "b" (returning customers using up
    # their contact caps): the rate and the mix the pacer plans with are the quiet week's.
    pacer = Pacer(lam=1.0, lam_min=0.05, lam_max=50.0, interval_seconds=60)
    for day in range(14):
        per_day, segment = (100, "a") if day < 7 else (10, "b")
        for i in range(per_day):
            pacer.arrive(NOW + timedelta(days=day, seconds=i * 86_400 / per_day), segment)
    n, seconds = pacer.traffic(NOW + timedelta(days=14))
    assert abs(n / seconds * 86_400 - 10) < 0.5
    assert pacer.arrivals.get("a", 0) == 0 and pacer.arrivals["b"] == 70


def test_sparse_traffic_moves_lambda_once_a_day_has_been_seen() -> None:
    # Contact caps that let few customers through: 12 arrivals in two days, an ample budget. Within the
    # first hours the rate is not trusted; after a day it is, and λ falls to its floor.
    def lam_after(seconds: float) -> float:
        pacer = Pacer(lam=1.0, lam_min=0.05, lam_max=50.0, interval_seconds=60)
        for i in range(12):
            pacer.arrive(NOW + timedelta(seconds=i * seconds / 12), "mass")
        at = NOW + timedelta(seconds=seconds)
        return pacer.update(at, learned(), ARMS, {"mass": 10_000.0}, 1e9, 10 * 86_400, 1e8, 3_600, GREEDY)

    assert lam_after(3_600) == 1.0
    assert lam_after(2 * 86_400) == 0.05


def _claimed(redeemed_share: float) -> Posteriors:
    """'mass' as learned(), every arm's offers claimed at 40%, of which `redeemed_share` redeemed and the
    rest expired unredeemed."""
    p = learned()
    for arm in ARMS:
        p.record_claim("mass", arm.id, 400)
        p.record_expiry("mass", arm.id, round(400 * (1 - redeemed_share)))
    for arm in ARMS:  # learned() counted 400 successes per arm: keep only the redeemed ones
        p.cells[("mass", arm.id)].successes = round(400 * redeemed_share)
    return p


def test_claims_per_redemption_counts_the_claims_that_never_redeem() -> None:
    assert claims_per_redemption(Posteriors()) == 1.0
    assert abs(claims_per_redemption(_claimed(1.0)) - 1.0) < 1e-9
    assert abs(claims_per_redemption(_claimed(0.5)) - (1200 + 10) / (600 + 10)) < 1e-9


def test_a_daily_budget_counted_in_claims_raises_lambda_when_claimants_do_not_all_redeem() -> None:
    # The same traffic and posteriors' responses, a day's budget that binds: where half the claimants never
    # redeem, each offer takes twice its expected redemption from the day's budget, so λ must be higher.
    def lam(redeemed_share: float) -> float:
        pacer = Pacer(lam=0.05, lam_min=0.05, lam_max=50.0, interval_seconds=60)
        for i in range(200):
            pacer.arrive(NOW + timedelta(seconds=18 * i), "mass")
        at = NOW + timedelta(seconds=3_600)
        return pacer.update(at, _claimed(redeemed_share), ARMS, {"mass": 10_000.0}, 1e9, 86_400, 40_000, 3_600, GREEDY)

    assert lam(0.5) > lam(1.0)


def test_lambda_rises_past_its_configured_ceiling_when_conversions_dwarf_the_coupons() -> None:
    # A conversion worth ¥10,000 against coupons of ¥5-30 and a budget of a few coupons a day: the price
    # that fits the budget is far above lambda_max (50); pinned there, every arm would still look worth it.
    pacer = Pacer(lam=1.0, lam_min=0.05, lam_max=50.0, interval_seconds=60)
    for i in range(200):
        pacer.arrive(NOW + timedelta(seconds=18 * i), "mass")
    at = NOW + timedelta(seconds=3_600)
    lam = pacer.update(at, learned(), ARMS, {"mass": 1_000_000.0}, 2_000, 86_400, 2_000, 3_600, GREEDY)
    assert 50.0 < lam <= 1_000_000.0 / 500
    assert no_offer_price({"mass": 1_000_000.0, "other": 10.0}, ARMS) == 2_000.0


def test_the_share_of_the_campaign_left_runs_from_one_to_zero() -> None:
    start, end = NOW, NOW + timedelta(days=10)
    assert [share_left(start, end, start + timedelta(days=d)) for d in (-1, 0, 5, 10, 11)] == [1.0, 1.0, 0.5, 0.0, 0.0]


def test_draws_narrow_as_the_campaign_runs_out() -> None:
    """Two arms whose posteriors overlap: with the whole campaign ahead the draws try the worse one often;
    near its end, with the spread shrunk, the posterior-mean best takes nearly every offer."""
    p = Posteriors()
    p.record_trial("mass", BASELINE, 1000)
    p.record_success("mass", BASELINE, 50)
    for arm, (trials, successes) in zip(ARMS[:2], ((200, 40), (200, 44)), strict=True):
        p.record_trial("mass", arm.id, trials)
        p.record_success("mass", arm.id, successes)
    params = PolicyParams(exploration=0.0, propensity_draws=16, pooling=False)
    assert draw_spread(params, 1.0) == 1.0 and draw_spread(params, 0.25) == 0.5
    assert draw_spread(PolicyParams(horizon_tempering=0.0), 0.01) == 1.0

    def share_of_the_mean_best(left: float) -> float:
        rng = random.Random(3)
        picks = [choose(p, "mass", ARMS[:2], 10_000, 0.0, rng, params, left=left).arm for _ in range(2000)]
        return picks.count(ARMS[1].id) / len(picks)

    assert share_of_the_mean_best(1.0) < 0.85
    assert share_of_the_mean_best(0.01) > 0.95
