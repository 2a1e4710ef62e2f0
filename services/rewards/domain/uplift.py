"""Uplift of the treated group over the holdout, in the "×1.96" form of seed 000, with 95% intervals.

Ratios use the delta method on the log scale (so the interval stays positive and asymmetric);
differences use the normal approximation. Both are intent-to-treat: every customer assigned to the
treatment group counts, whether or not an offer was eventually shown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054


@dataclass(frozen=True)
class GroupStats:
    customers: int
    active: int  # customers with at least one payment in the campaign's scenes after assignment
    value_sum: float  # payment amount summed over customers (fen)
    value_sq_sum: float  # sum over customers of (their payment amount)^2

    @property
    def rate(self) -> float:
        return self.active / self.customers if self.customers else 0.0

    @property
    def mean_value(self) -> float:
        return self.value_sum / self.customers if self.customers else 0.0

    @property
    def value_var(self) -> float:
        n = self.customers
        if n < 2:
            return 0.0
        return max(0.0, (self.value_sq_sum - self.value_sum**2 / n) / (n - 1))


@dataclass(frozen=True)
class Estimate:
    point: float
    low: float
    high: float
    defined: bool = True


UNDEFINED = Estimate(0.0, 0.0, 0.0, False)


def rate_ratio(t: GroupStats, c: GroupStats) -> Estimate:
    if not t.customers or not c.customers or not t.active or not c.active:
        return UNDEFINED
    ratio = t.rate / c.rate
    se = math.sqrt(max(0.0, (1 - t.rate) / t.active + (1 - c.rate) / c.active))
    return Estimate(ratio, ratio * math.exp(-Z95 * se), ratio * math.exp(Z95 * se))


def rate_difference(t: GroupStats, c: GroupStats) -> Estimate:
    if not t.customers or not c.customers:
        return UNDEFINED
    d = t.rate - c.rate
    se = math.sqrt(t.rate * (1 - t.rate) / t.customers + c.rate * (1 - c.rate) / c.customers)
    return Estimate(d, d - Z95 * se, d + Z95 * se)


def value_ratio(t: GroupStats, c: GroupStats) -> Estimate:
    if t.customers < 2 or c.customers < 2 or t.mean_value <= 0 or c.mean_value <= 0:
        return UNDEFINED
    ratio = t.mean_value / c.mean_value
    se = math.sqrt(t.value_var / (t.customers * t.mean_value**2) + c.value_var / (c.customers * c.mean_value**2))
    return Estimate(ratio, ratio * math.exp(-Z95 * se), ratio * math.exp(Z95 * se))


def value_difference(t: GroupStats, c: GroupStats) -> Estimate:
    if t.customers < 2 or c.customers < 2:
        return UNDEFINED
    d = t.mean_value - c.mean_value
    se = math.sqrt(t.value_var / t.customers + c.value_var / c.customers)
    return Estimate(d, d - Z95 * se, d + Z95 * se)
