"""Empirical-Bayes pooling where many segments have shown an arm: alike segments share one curve and learn
their baselines from their offers too; segments that differ keep their own curves; with few segments the
pooled prior is the configured one's weight, as before."""

from __future__ import annotations

import pytest

from services.rewards.domain import pooling
from services.rewards.domain.policy import BASELINE, MIN_SEGMENTS_FOR_SPREAD, PolicyParams, Posteriors

PARAMS = PolicyParams(exploration=0.0, propensity_draws=8)
WEIGHT = PARAMS.prior_alpha + PARAMS.prior_beta


def _market(uplifts: list[float], holdout: int = 400, offers: int = 3000) -> Posteriors:
    post = Posteriors()
    for i, uplift in enumerate(uplifts):
        base = 0.10 + 0.02 * (i % 5)
        post.record_trial(f"s{i}", BASELINE, holdout)
        post.record_success(f"s{i}", BASELINE, round(holdout * base))
        post.record_trial(f"s{i}", "a", offers)
        post.record_success(f"s{i}", "a", round(offers * (base + uplift)))
    return post


def _unlucky_holdout(post: Posteriors) -> None:
    """A segment whose customers pay 15% with no coupon and 20% with arm a, but whose small holdout paid 25%."""
    post.record_trial("x", BASELINE, 100)
    post.record_success("x", BASELINE, 25)
    post.record_trial("x", "a", 3000)
    post.record_success("x", "a", 600)


def test_alike_segments_read_a_baseline_from_the_offers_as_well_as_the_holdout() -> None:
    post = _market([0.05] * MIN_SEGMENTS_FOR_SPREAD)
    _unlucky_holdout(post)
    a, b = post.beta("x", BASELINE, PARAMS)
    assert a / (a + b) == pytest.approx(0.15, abs=0.02)  # the offers say 20% - 5 points of uplift
    alike, differ = post.beta("x", "a", PARAMS), _market([0.0, 0.2] * (MIN_SEGMENTS_FOR_SPREAD // 2))
    assert sum(alike) > 10 * WEIGHT + 3000  # the pooled curve weighs far more than the configured prior
    _unlucky_holdout(differ)
    a, b = differ.beta("x", BASELINE, PARAMS)
    assert a / (a + b) > 0.22  # uplifts of 0 and 20 points say little of this segment's baseline
    assert sum(differ.beta("x", "a", PARAMS)) == pytest.approx(WEIGHT + 3000, rel=0.05)


def test_with_few_segments_the_prior_is_the_configured_one() -> None:
    post = _market([0.05] * (MIN_SEGMENTS_FOR_SPREAD - 2))
    _unlucky_holdout(post)
    a, b = post.beta("x", BASELINE, PARAMS)
    assert a / (a + b) == pytest.approx((25 + 2 * post.pooled.baseline) / 102, abs=1e-9)  # the holdout's own
    assert sum(post.beta("x", "a", PARAMS)) == pytest.approx(WEIGHT + 3000)


def test_random_effects_spread_is_what_the_noise_does_not_explain() -> None:
    noise = 0.0004  # each segment's raw uplift known to ±2 points
    alike = {f"s{i}": pooling.Estimate(0.05 + (0.018 if i % 2 else -0.018), noise) for i in range(10)}
    assert pooling.random_effects(alike, pooling.NOTHING, 1e-6).tau2 == 1e-6  # within 1 sd of the noise: no spread
    apart = {f"s{i}": pooling.Estimate(0.05 + (0.1 if i % 2 else -0.1), noise) for i in range(10)}
    tau2 = pooling.random_effects(apart, pooling.NOTHING, 1e-6).tau2
    assert tau2 == pytest.approx(0.01 * 10 / 9 - noise)  # (Q − df) / c: their sample variance less the noise
    loo = pooling.random_effects(apart, pooling.NOTHING, 1e-6).mean_without("s1")
    assert loo.mean == pytest.approx((5 * -0.05 + 4 * 0.15) / 9)  # five low, four high left


def test_estimates_combine_by_precision_and_beta_weights_match_the_variance() -> None:
    got = pooling.combine([pooling.Estimate(0.1, 0.01), pooling.Estimate(0.4, 0.02), pooling.NOTHING])
    assert got.mean == pytest.approx((0.1 * 100 + 0.4 * 50) / 150) and got.var == pytest.approx(1 / 150)
    assert pooling.beta_weight(0.2, 0.2 * 0.8 / 101, 1.0, 1e6) == pytest.approx(100)
    assert pooling.beta_weight(0.2, 1e-9, 1.0, 500.0) == 500.0
    assert pooling.beta_weight(0.2, 1.0, 20.0, 500.0) == 20.0
