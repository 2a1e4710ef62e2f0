"""The DerSimonian–Laird heterogeneity statistic, shared by the router's and rewards' empirical-Bayes pooling.

For estimates x_i with precisions w_i of quantities that may truly differ, Q = Σ w_i (x_i − x̄_w)² has
expectation df + τ²·C under a random-effects model with between-group variance τ², where df = n − 1 and
C = Σ w − Σ w² / Σ w; so (Q − df) / C estimates τ² (DerSimonian & Laird, 1986). Callers may add the
terms of several groups before dividing (a pooled estimate) or floor the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple


class Heterogeneity(NamedTuple):
    q: float  # Cochran's Q
    df: int  # estimates less one
    c: float  # Σ w − Σ w² / Σ w

    def tau2(self, floor: float) -> float:
        """(Q − df) / C, never below `floor` (nor where C is 0: fewer than two estimates with weight)."""
        return max(floor, (self.q - self.df) / self.c) if self.c > 0 else floor

    def plus(self, other: Heterogeneity) -> Heterogeneity:
        """The terms of two sets of groups together (the pooled estimator sums them before dividing)."""
        return Heterogeneity(self.q + other.q, self.df + other.df, self.c + other.c)


NO_HETEROGENEITY = Heterogeneity(0.0, 0, 0.0)


def heterogeneity(estimates: Sequence[tuple[float, float]]) -> Heterogeneity:
    """Q, df and C of (value, precision) pairs; zeros for fewer than two."""
    if len(estimates) < 2:
        return NO_HETEROGENEITY
    w_total = sum(w for _, w in estimates)
    mean = sum(x * w for x, w in estimates) / w_total
    q = sum(w * (x - mean) ** 2 for x, w in estimates)
    c = w_total - sum(w * w for _, w in estimates) / w_total
    return Heterogeneity(q, len(estimates) - 1, c)
