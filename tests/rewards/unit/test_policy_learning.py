"""What the policy makes of its evidence, with no database: pending claims, pooling across segments,
exploration by face value, and the pacer's forecast of what the sampling policy will spend."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest

from services.rewards.domain.policy import (
    BASELINE,
    MATURITY_FLOOR,
    ArmSpec,
    Counts,
    PolicyParams,
    Posteriors,
    Untreated,
    _outlooks,
    choose,
    expected_cost_per_arrival,
    redeem_given_claim,
    reported_share,
)

ARMS = [ArmSpec("small", 300), ArmSpec("big", 2000)]
PARAMS = PolicyParams(exploration=0.0, propensity_draws=8)


def test_a_pending_claim_counts_at_the_rate_claims_redeem_not_as_a_failure() -> None:
    c = Counts(trials=100, successes=10, claims=40, expired=10)  # 20 claims still pending
    assert c.converted(0.5) == pytest.approx(10 + 20 * 0.5)
    assert Counts(trials=100, successes=10).converted(0.5) == 10  # no claims recorded: redemptions only
    assert Counts(trials=10, successes=2, claims=10).converted(1.0) == 10  # never more than the trials


def test_a_new_segment_starts_from_the_uplift_the_other_segments_showed() -> None:
    post = Posteriors()
    for seg in ("a", "b"):
        post.record_trial(seg, BASELINE, 2000)
        post.record_success(seg, BASELINE, 200)  # 10% pay anyway
        post.record_trial(seg, "big", 2000)
        post.record_success(seg, "big", 800)  # 40% with the big coupon: +30 points
    post.record_trial("new", BASELINE, 200)
    post.record_success("new", BASELINE, 40)  # 20% pay anyway
    a, b = post.beta("new", "big", PARAMS)
    assert a / (a + b) == pytest.approx(0.20 + 0.30, abs=0.02)  # its own baseline plus the pooled uplift
    flat = post.beta("new", "big", PolicyParams(pooling=False))
    assert flat[0] / sum(flat) <= 0.1  # without pooling it starts from the flat prior (1 in 10)


def test_a_dearer_arm_starts_no_lower_than_the_segments_cheaper_arms_and_its_data_overrule_that() -> None:
    """A small segment responds far more than the big one the pool is made of: its bigger coupon's prior is
    lifted to what its smaller coupon showed, instead of the pool's near-zero uplift; and where the bigger
    coupon's own offers say it does worse, they win."""
    post = Posteriors()
    post.record_trial("big-segment", BASELINE, 5000)
    post.record_success("big-segment", BASELINE, 1000)  # 20% pay anyway
    for arm in ("small", "big"):
        post.record_trial("big-segment", arm, 5000)
        post.record_success("big-segment", arm, 1010)  # +0.2 points: coupons barely move it
    post.record_trial("gem", BASELINE, 100)
    post.record_success("gem", BASELINE, 10)  # 10% pay anyway
    post.record_trial("gem", "small", 300)
    post.record_success("gem", "small", 120)  # 40% with the small coupon
    pooled_only = post.beta("gem", "big", PARAMS)
    assert pooled_only[0] / sum(pooled_only) < 0.15  # the pool says the big coupon adds almost nothing
    _base, small, big = post.betas("gem", ARMS, PARAMS)
    assert big[0] / sum(big) == pytest.approx(small[0] / sum(small), abs=0.01)
    assert sum(big) == pytest.approx(sum(pooled_only))  # the prior moved; it weighs no more than before
    post.record_trial("gem", "big", 400)
    post.record_success("gem", "big", 40)  # its own offers: 10%, no better than nothing
    _base, _small, big = post.betas("gem", ARMS, PARAMS)
    assert big[0] / sum(big) < 0.15
    unpooled = PolicyParams(pooling=False)
    keys = [BASELINE, *(a.id for a in ARMS)]
    assert post.betas("gem", ARMS, unpooled) == [post.beta("gem", k, unpooled) for k in keys]


def _read(beta: tuple[float, float]) -> float:
    return beta[0] / sum(beta)


def test_a_middle_arm_read_far_below_its_neighbours_chord_is_lifted_towards_it_until_its_offers_say_more() -> None:
    """A response that grows with the discount at a falling rate lies on or above the chord between two
    arms. A middle coupon whose first offers happened to read far below that chord (more than noise and a
    curve bending the other way explain) is read closer to it, so it is still tried; one read a little below
    it keeps its own read; the cheapest and the dearest coupon have no chord; and once the middle coupon's
    own offers are many, they overrule the chord."""
    arms = [ArmSpec("a0", 200), ArmSpec("a1", 500), ArmSpec("a2", 1500)]

    def segment(a1_offers: int, a1_redeemed: int) -> Posteriors:
        post = Posteriors()
        post.record_trial("s", BASELINE, 1000)
        post.record_success("s", BASELINE, 130)  # 13% pay anyway
        post.record_trial("s", "a0", 6000)
        post.record_success("s", "a0", 990)  # 16.5%
        post.record_trial("s", "a2", 1800)
        post.record_success("s", "a2", 482)  # 26.8%
        post.record_trial("s", "a1", a1_offers)
        post.record_success("s", "a1", a1_redeemed)
        return post

    chord = 0.165 + (500 - 200) / (1500 - 200) * (0.268 - 0.165)
    off = PolicyParams(exploration=0.0, chord_allowance=0.0)
    unlucky = segment(100, 6)  # 6% after 100 offers, below even the cheapest coupon
    without, with_chord = unlucky.betas("s", arms, off), unlucky.betas("s", arms, PARAMS)
    assert _read(without[2]) < 0.08  # read on its own offers and a weak prior
    assert 0.15 < _read(with_chord[2]) < chord
    assert with_chord[1] == without[1] and with_chord[3] == without[3]  # no chord for the ends
    near = segment(100, 15)  # 15%: below the chord by about what 100 offers may miss by
    assert near.betas("s", arms, PARAMS) == near.betas("s", arms, off)
    many = segment(3000, 180)  # its own offers now say 6% for sure
    assert _read(many.betas("s", arms, PARAMS)[2]) < 0.08


def test_a_cells_own_data_is_not_counted_twice() -> None:
    """With one segment there is nobody to pool from: the prior stays the configured one."""
    post = Posteriors()
    post.record_trial("only", "big", 500)  # 500 offers, no redemption
    params = PolicyParams(prior_alpha=50, prior_beta=50, baseline_prior_alpha=1, baseline_prior_beta=99)
    a, b = post.beta("only", "big", params)
    assert a + b == pytest.approx(100 + 500)
    assert a == pytest.approx(100 * (0.01 + 0.49), rel=0.05)


def _slow_payers(pending_claims: int) -> Posteriors:
    """20% of holdout customers will pay, half of them reported so far; the arm's claims say how many of
    its redemptions are still to come."""
    post = Posteriors()
    post.record_trial("s", BASELINE, 1000)
    post.record_success("s", BASELINE, 100)
    post.record_trial("s", "big", 1000)
    post.record_claim("s", "big", 400 + pending_claims)
    post.record_success("s", "big", 200)
    post.record_expiry("s", "big", 200)  # 200 of 400 resolved claims redeemed: claims redeem at about 1/2
    return post


def test_holdout_payments_still_to_come_are_counted_at_the_share_the_arms_claims_show() -> None:
    # Half of the arm's eventual redemptions are still pending claims (400 pending at ~1/2 = ~200 to come),
    # so half of the holdout's payments are taken to be still to come as well.
    post = _slow_payers(pending_claims=400)
    a, b = post.beta("s", BASELINE, PARAMS)
    assert a / (a + b) == pytest.approx(0.20, abs=0.015)
    assert post.pooled.maturity == pytest.approx(0.5, abs=0.03)
    # Nothing pending: every payment has been reported, and the baseline is what the holdout showed.
    settled = _slow_payers(pending_claims=0)
    a, b = settled.beta("s", BASELINE, PARAMS)
    assert settled.pooled.maturity == 1.0
    assert a / (a + b) == pytest.approx(0.10, abs=0.01)


def test_the_share_reported_never_falls_below_its_floor() -> None:
    post = Posteriors()
    post.record_trial("s", BASELINE, 100)
    post.record_success("s", BASELINE, 10)
    post.record_trial("s", "big", 5000)
    post.record_claim("s", "big", 5000)  # a burst of fresh claims, none resolved yet
    assert reported_share(post, 0.8) == MATURITY_FLOOR
    a, b = post.beta("s", BASELINE, PARAMS)
    assert a / (a + b) <= 10 / MATURITY_FLOOR / 100 + 0.01  # never more than the holdout's payments allow


def test_exploration_favours_cheap_arms() -> None:
    post, rng = Posteriors(), random.Random(3)
    params = PolicyParams(exploration=1.0, propensity_draws=8)
    picks = [choose(post, "s", ARMS, 5000, 1.0, rng, params).arm for _ in range(3000)]
    small, big = picks.count("small"), picks.count("big")
    assert small + big == 3000
    assert small / big == pytest.approx(2000 / 300, rel=0.2)  # weights are the inverse face values


def test_the_pacers_forecast_counts_what_sampling_spends_and_falls_as_lambda_rises() -> None:
    post = Posteriors()
    post.record_trial("s", BASELINE, 50)
    post.record_success("s", BASELINE, 5)
    for arm in ARMS:  # barely known: the draws spread widely
        post.record_trial("s", arm.id, 10)
        post.record_success("s", arm.id, 3)
    outlooks = _outlooks(post, ARMS, [("s", 1.0, 5000.0)], PARAMS, random.Random(1))
    costs = [expected_cost_per_arrival(outlooks, ARMS, lam, PARAMS) for lam in (0.05, 1.0, 5.0, 50.0)]
    assert costs == sorted(costs, reverse=True)
    assert costs[0] > costs[-1]


def _claims_with_delayed_redemptions(days: int) -> tuple[Posteriors, float]:
    """Claims every hour for `days` days; 70% redeem after an exponential delay (mean 36 h, within a
    7-day validity), the rest expire after 7 days. Returns the posteriors as of the end, told what has
    happened by then with the times, and the share of the still-pending claims that will redeem."""
    rng, post = random.Random(5), Posteriors()
    start = datetime(2026, 1, 1, tzinfo=UTC)
    now = start + timedelta(days=days)
    pending = later = 0
    for hour in range(days * 24):
        for _ in range(20):
            claimed = start + timedelta(hours=hour, minutes=rng.random() * 60)
            post.record_trial("s", "big")
            post.record_claim("s", "big", at=claimed)
            redeems = rng.random() < 0.7
            delay = timedelta(hours=min(-36 * math.log(1 - rng.random()), 7 * 24 - 1))
            done = claimed + (delay if redeems else timedelta(days=7))
            if done > now:
                pending += 1
                later += redeems
            elif redeems:
                post.record_success("s", "big", claimed_at=claimed, at=done)
            else:
                post.record_expiry("s", "big", claimed_at=claimed)
    return post, later / pending


def test_a_pending_claim_counts_at_its_chance_of_redeeming_not_at_the_share_settled_so_far() -> None:
    # Four days in, no claim has expired yet: the claims settled so far are all redemptions, so the share
    # redeemed among them reads near 1, where fewer than half of the claims still pending will redeem.
    post, truth = _claims_with_delayed_redemptions(days=4)
    assert truth < 0.6
    untimed = Posteriors()
    untimed.cells = post.cells
    assert redeem_given_claim(untimed) > 0.95  # the settled share, without the claims' times
    assert redeem_given_claim(post) == pytest.approx(truth, abs=0.05)
    # Later in the run, with expiries coming in, the estimate still follows the pending claims.
    post, truth = _claims_with_delayed_redemptions(days=12)
    assert redeem_given_claim(post) == pytest.approx(truth, abs=0.05)


def test_visits_passed_over_teach_the_baseline_alongside_the_holdout() -> None:
    def seen() -> Posteriors:
        post = Posteriors()
        post.record_trial("s", BASELINE, 100)
        post.record_success("s", BASELINE, 10)  # the holdout read 10%, where the truth is 30%
        post.record_pass("s", 900)
        post.record_pass_payment("s", 290)
        return post

    a, b = seen().beta("s", BASELINE, PARAMS)
    assert a / (a + b) == pytest.approx(300 / 1000, abs=0.005)
    off = seen().beta("s", BASELINE, PolicyParams(exploration=0.0, passed_over=False))
    assert off[0] / sum(off) == pytest.approx(10 / 100, abs=0.01)


def test_a_visit_censored_by_an_offer_counts_as_the_share_of_its_window_it_could_see() -> None:
    u = Untreated(trials=10, successes=2)
    u.censored[23] = 1  # offered 23-24 hours after the visit, not paid by then
    rate, window = 1 / 24, 7 * 24.0
    seen = (1 - math.exp(-rate * 23.5)) / (1 - math.exp(-rate * window))
    assert u.exposure(rate, window) == pytest.approx(10 - (1 - seen))
    assert u.exposure(100.0, window) == pytest.approx(10)  # payments come at once: nothing was left to see
    post = Posteriors()
    at = datetime(2026, 1, 5, tzinfo=UTC)
    post.record_censor("s", at, at + timedelta(hours=23, minutes=50))
    assert post.untreated["s"].censored == {23: 1}
