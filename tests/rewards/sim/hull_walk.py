"""A reference solver for the tests: the LP relaxation of the multiple-choice knapsack with one budget.

It checks the simulator's oracle (services/rewards/sim/bound.py, solved by HiGHS) by an independent method.

Each group g (a segment) has weight n_g (customers) and options (cost per customer, incremental value per
customer), plus "nothing" at (0, 0). Choose fractions x_{g,o} >= 0 with sum_o x_{g,o} <= 1 to maximise
sum n_g x_{g,o} v_{g,o} subject to sum n_g x_{g,o} c_{g,o} <= budget. The LP optimum is found exactly,
without a solver: only points on each group's upper convex hull can be used, and moving along the hulls
in decreasing order of slope (extra value per extra fen) until the budget runs out is optimal (the last
step taken fractionally).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Option:
    label: str
    cost: float  # expected fen paid out per customer offered this option
    value: float  # expected incremental value in fen per customer offered this option


@dataclass(frozen=True)
class Group:
    label: str
    weight: float  # customers in the group
    options: Sequence[Option]


@dataclass
class OracleResult:
    value: float
    cost: float
    # group -> option -> share of the group's customers given that option
    allocation: dict[str, dict[str, float]] = field(default_factory=dict)


def upper_hull(options: Sequence[Option]) -> list[Option]:
    """Upper-left concave frontier from (0, 0): increasing cost, increasing value, decreasing slopes."""
    pts = sorted((o for o in options if o.value > 0 and o.cost >= 0), key=lambda o: (o.cost, -o.value))
    hull: list[Option] = [Option("", 0.0, 0.0)]
    for o in pts:
        if o.value <= hull[-1].value:
            continue  # dominated: costs at least as much for no more value
        if o.cost == hull[-1].cost:
            hull.pop()
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            # b is under the chord a→o (or on it): drop it.
            if (b.value - a.value) * (o.cost - a.cost) <= (o.value - a.value) * (b.cost - a.cost):
                hull.pop()
            else:
                break
        hull.append(o)
    return hull


def solve(groups: Sequence[Group], budget: float) -> OracleResult:
    steps: list[tuple[float, str, Option, Option, float]] = []
    for g in groups:
        hull = upper_hull(g.options)
        for prev, nxt in itertools.pairwise(hull):
            dc, dv = nxt.cost - prev.cost, nxt.value - prev.value
            slope = float("inf") if dc <= 0 else dv / dc
            steps.append((slope, g.label, prev, nxt, g.weight))
    steps.sort(key=lambda s: -s[0])
    result = OracleResult(0.0, 0.0, {g.label: {} for g in groups})
    left = budget
    for _slope, label, prev, nxt, weight in steps:
        dc = (nxt.cost - prev.cost) * weight
        frac = 1.0 if dc <= left else max(0.0, left / dc)
        if frac <= 0:
            break
        result.value += frac * (nxt.value - prev.value) * weight
        result.cost += frac * dc
        left -= frac * dc
        alloc = result.allocation[label]
        # Moving a fraction of the group from prev to nxt.
        if prev.label:
            alloc[prev.label] = alloc.get(prev.label, 0.0) - frac
        alloc[nxt.label] = alloc.get(nxt.label, 0.0) + frac
        if frac < 1.0:
            break
    for alloc in result.allocation.values():
        for k in [k for k, v in alloc.items() if v <= 1e-12]:
            del alloc[k]
    return result
