"""Uplift of the treated group over the holdout: point estimates, 95% intervals around them, and
'undefined' where the data cannot say."""

from __future__ import annotations

import math

import pytest

from services.rewards.domain import uplift
from services.rewards.domain.uplift import GroupStats


def group(customers: int, active: int, values: list[float] | None = None) -> GroupStats:
    values = values if values is not None else [100.0] * active
    return GroupStats(customers, active, sum(values), sum(v * v for v in values))


def test_group_rates_means_and_variance() -> None:
    g = group(4, 2, [100.0, 300.0])
    assert (g.rate, g.mean_value) == (0.5, 100.0)
    assert g.value_var == pytest.approx((100**2 + 300**2 - 400**2 / 4) / 3)
    assert GroupStats(0, 0, 0.0, 0.0).rate == 0.0
    assert GroupStats(1, 1, 5.0, 25.0).value_var == 0.0


def test_rate_ratio_is_the_ratio_of_rates_inside_a_positive_interval() -> None:
    e = uplift.rate_ratio(group(100, 40), group(100, 20))
    assert e.defined and e.point == pytest.approx(2.0)
    assert 0 < e.low < 2.0 < e.high
    # The interval is symmetric on the log scale.
    assert math.log(e.high) - math.log(2.0) == pytest.approx(math.log(2.0) - math.log(e.low))


def test_rate_difference_uses_the_normal_approximation() -> None:
    t, c = group(100, 40), group(100, 20)
    e = uplift.rate_difference(t, c)
    se = math.sqrt(0.4 * 0.6 / 100 + 0.2 * 0.8 / 100)
    assert e.point == pytest.approx(0.2)
    assert (e.low, e.high) == (pytest.approx(0.2 - uplift.Z95 * se), pytest.approx(0.2 + uplift.Z95 * se))


def test_value_ratio_and_difference() -> None:
    t = group(4, 4, [200.0, 300.0, 200.0, 300.0])
    c = group(4, 4, [100.0, 150.0, 100.0, 150.0])
    ratio = uplift.value_ratio(t, c)
    assert ratio.defined and ratio.point == pytest.approx(2.0) and ratio.low < 2.0 < ratio.high
    diff = uplift.value_difference(t, c)
    assert diff.point == pytest.approx(125.0) and diff.low < 125.0 < diff.high


def test_estimates_without_enough_data_are_undefined() -> None:
    empty, some = GroupStats(0, 0, 0.0, 0.0), group(10, 3)
    assert uplift.rate_ratio(some, empty) == uplift.UNDEFINED
    assert uplift.rate_ratio(some, group(10, 0)) == uplift.UNDEFINED  # nobody active in the holdout
    assert uplift.rate_difference(empty, some) == uplift.UNDEFINED
    assert uplift.value_ratio(group(1, 1), some) == uplift.UNDEFINED
    assert uplift.value_ratio(some, group(10, 0, [])) == uplift.UNDEFINED  # no value in the holdout
    assert uplift.value_difference(some, group(1, 1)) == uplift.UNDEFINED
