"""The DerSimonian–Laird terms both services' empirical-Bayes pooling read τ² from."""

from __future__ import annotations

import pytest

from services.common.random_effects import NO_HETEROGENEITY, heterogeneity


def test_the_spread_beyond_the_noise_is_what_q_minus_df_over_c_reads() -> None:
    # Ten estimates at ±0.1 around 0.05, each known to ±0.02: their spread is 0.1² (n−1 denominator) less
    # the noise's 0.0004.
    terms = heterogeneity([(0.05 + (0.1 if i % 2 else -0.1), 1 / 0.0004) for i in range(10)])
    assert terms.df == 9 and terms.c == pytest.approx(25_000 - 2_500)
    assert terms.tau2(0.0) == pytest.approx(0.01 * 10 / 9 - 0.0004)
    within_noise = heterogeneity([(0.05 + (0.018 if i % 2 else -0.018), 1 / 0.0004) for i in range(10)])
    assert within_noise.tau2(1e-6) == 1e-6


def test_fewer_than_two_estimates_say_nothing_and_groups_add_up() -> None:
    assert heterogeneity([(0.3, 100.0)]) == NO_HETEROGENEITY
    assert NO_HETEROGENEITY.tau2(0.02) == 0.02
    a, b = heterogeneity([(0.0, 1.0), (1.0, 1.0)]), heterogeneity([(0.0, 4.0), (2.0, 4.0), (1.0, 4.0)])
    both = a.plus(b)
    assert (both.q, both.df, both.c) == (a.q + b.q, a.df + b.df, a.c + b.c)
