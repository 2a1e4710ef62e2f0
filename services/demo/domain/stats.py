"""Confidence intervals for the pooled uplift over every campaign (the services report it per campaign).

The same estimators as rewards' own report (docs/rewards.md): the ratio of payment-active rates by the delta
method on the log scale, the difference by the normal approximation, both at 95%.
"""

from __future__ import annotations

import math
from typing import Any

Z95 = 1.959963984540054


def interval(estimate: float, low: float, high: float) -> dict[str, float]:
    return {"estimate": estimate, "low": low, "high": high}


def rate_ratio(t_active: int, t_n: int, c_active: int, c_n: int) -> dict[str, float] | None:
    if not (t_active and t_n and c_active and c_n):
        return None
    t, c = t_active / t_n, c_active / c_n
    ratio = t / c
    se = math.sqrt(max(0.0, (1 - t) / t_active + (1 - c) / c_active))
    return interval(ratio, ratio * math.exp(-Z95 * se), ratio * math.exp(Z95 * se))


def rate_difference(t_active: int, t_n: int, c_active: int, c_n: int) -> dict[str, float] | None:
    if not (t_n and c_n):
        return None
    t, c = t_active / t_n, c_active / c_n
    se = math.sqrt(t * (1 - t) / t_n + c * (1 - c) / c_n)
    return interval(t - c, t - c - Z95 * se, t - c + Z95 * se)


def significant(estimate: dict[str, Any] | None, null: float) -> bool:
    """Whether a 95% interval excludes the null value (1 for a ratio, 0 for a difference)."""
    return estimate is not None and (estimate["low"] > null or estimate["high"] < null)


def share(part: float, whole: float) -> float | None:
    return part / whole if whole else None
