"""Empirical-Bayes pooling of response curves across segments: the arithmetic, free of the policy's state.

The model behind it (additive on the probability scale):

    p(s, a) = b(s) + u(a) + e(s, a),   e(s, a) ~ N(0, τ²(a)),   p(s, none) = b(s)

b(s) is a segment's no-coupon response, u(a) the uplift of arm a common to all segments, and τ²(a) how
far segments' uplifts of arm a spread around it. τ²(a) is estimated from the data by the
DerSimonian–Laird random-effects estimator (the spread of the segments' raw uplifts beyond their sampling
noise), so segments that respond alike are pooled strongly and segments that differ keep their own
curves. Under the model every arm a segment was offered also measures its baseline (p(s, a) − u(a)), so a
segment's no-coupon response is learned from its holdout *and* its offers, where the holdout alone
(a tenth of the traffic) leaves it as uncertain as the uplifts it is subtracted from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.common.random_effects import heterogeneity


@dataclass(frozen=True)
class Estimate:
    mean: float
    var: float  # the variance of the estimate (inf: no information)

    @property
    def precision(self) -> float:
        return 0.0 if self.var == float("inf") else 1.0 / self.var


NOTHING = Estimate(0.0, float("inf"))


def proportion(successes: float, trials: float) -> Estimate:
    """A response rate read from counts, its variance with a half-trial floor on both sides (never 0)."""
    if trials <= 0:
        return NOTHING
    p = successes / trials
    q = (successes + 0.5) / (trials + 1.0)
    return Estimate(p, q * (1.0 - q) / (trials + 1.0))


def combine(parts: Sequence[Estimate]) -> Estimate:
    """The precision-weighted mean of independent estimates of one quantity."""
    weight = sum(e.precision for e in parts)
    if weight <= 0:
        return NOTHING
    return Estimate(sum(e.mean * e.precision for e in parts) / weight, 1.0 / weight)


@dataclass(frozen=True)
class RandomEffects:
    """One arm's uplift over the segments: its mean, the spread τ² between segments, and each segment's
    raw uplift with its sampling variance (kept to leave one segment out)."""

    tau2: float
    total_weight: float  # Σ 1/(v + τ²), the prior's pseudo-observation included
    weighted_sum: float
    parts: dict[str, Estimate]

    def informed_without(self, segment: str) -> bool:
        """Whether any other segment's data informs the arm's uplift (else only the configured prior does)."""
        return len(self.parts) - (segment in self.parts) > 0

    def mean_without(self, segment: str) -> Estimate:
        """The arm's pooled uplift, leaving out `segment` (whose own likelihood counts its data)."""
        weight, total = self.total_weight, self.weighted_sum
        own = self.parts.get(segment)
        if own is not None:
            w = 1.0 / (own.var + self.tau2)
            weight, total = weight - w, total - w * own.mean
        if weight <= 1e-12:
            return NOTHING
        return Estimate(total / weight, 1.0 / weight)


def random_effects(parts: dict[str, Estimate], prior: Estimate, tau2_floor: float) -> RandomEffects:
    """DerSimonian–Laird over the segments' raw uplifts of one arm; `prior` joins the pooled mean as one
    more observation (without it a campaign with no data would have no centre)."""
    tau2 = heterogeneity([(e.mean, 1.0 / e.var) for e in parts.values()]).tau2(tau2_floor)
    weight = prior.precision + sum(1.0 / (e.var + tau2) for e in parts.values())
    total = prior.mean * prior.precision + sum(e.mean / (e.var + tau2) for e in parts.values())
    return RandomEffects(tau2, weight, total, dict(parts))


def beta_weight(mean: float, var: float, floor: float, ceiling: float) -> float:
    """Pseudo-trials of a Beta with this mean and variance (method of moments), within [floor, ceiling]."""
    m = min(0.99, max(0.001, mean))
    if var <= 0:
        return ceiling
    return min(ceiling, max(floor, m * (1.0 - m) / var - 1.0))
