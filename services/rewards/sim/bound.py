"""The oracle of a simulated run: the LP relaxation over the whole run, knowing every day's true responses.

Maximise the expected incremental value of the offers made, over how many customers of each day and
segment get each arm, subject to
- the campaign's total budget on what it holds at the end of every day: expected spend (redeemed face
  value, net of refunds) plus the face value of coupons claimed and not redeemed that have not yet
  expired — Claim reserves a coupon's face value until it is redeemed or expires, and refuses a claim
  the total cannot hold, so no policy ever holds more than the total at any moment (refunds are counted
  as if they came at once, which can only loosen the bound);
- each day's budget on expected claimed face value (what production's daily budget counts),
- each segment's touch limit: the most offers its customers could receive under the contact caps, given
  their visits and other campaigns' touches (only with repeat customers; otherwise every contactable
  visit is one offer at most, which the per-group limit already says).
Every constraint holds for any policy in expectation, so the optimum is an upper bound on any policy's
expected value. HiGHS (through SciPy) solves it exactly; the tests check it against a hull walk of the single-budget
case (tests/rewards/sim/hull_walk.py) and against brute force.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class DayOption:
    label: str
    spend: float  # expected face value redeemed per customer offered this option (the total budget's cost)
    claim: float  # expected face value claimed per customer (what the day's budget counts, as Claim reserves)
    value: float  # expected incremental value per customer
    unredeemed: float = 0.0  # expected face value claimed and never redeemed: held until the coupon expires
    validity_days: int = 0  # a claim on day d is held through day d + validity_days - 1


@dataclass(frozen=True)
class DayGroup:
    label: str
    day: int
    segment: str
    weight: float  # customers who could be offered something
    options: Sequence[DayOption]


@dataclass(frozen=True)
class RunBound:
    value: float
    spend: float  # expected spend of the optimum


def solve_run(
    groups: Sequence[DayGroup],
    budget: float,
    daily_cap: float | None,
    touch_limits: dict[str, float] | None = None,
) -> RunBound:
    import numpy as np
    from scipy.optimize import linprog
    from scipy.sparse import lil_matrix

    columns = [(gi, o) for gi, g in enumerate(groups) for o in g.options]
    if not columns:
        return RunBound(0.0, 0.0)
    days = sorted({g.day for g in groups}) if daily_cap is not None else []
    segments = sorted(touch_limits or {})
    held_days = _held_days(groups)
    rows = 1 + len(groups) + len(days) + len(segments) + len(held_days)
    a = lil_matrix((rows, len(columns)))
    limits = np.empty(rows)
    limits[0] = budget
    day_row = {d: 1 + len(groups) + i for i, d in enumerate(days)}
    seg_row = {s: 1 + len(groups) + len(days) + i for i, s in enumerate(segments)}
    held_row = {t: 1 + len(groups) + len(days) + len(segments) + i for i, t in enumerate(held_days)}
    for r in held_row.values():
        limits[r] = budget
    for gi, g in enumerate(groups):
        limits[1 + gi] = g.weight
    for r in day_row.values():
        limits[r] = daily_cap
    for s, r in seg_row.items():
        limits[r] = (touch_limits or {})[s]
    for j, (gi, o) in enumerate(columns):  # x_j: customers of group gi given option o
        g = groups[gi]
        a[0, j] = o.spend
        a[1 + gi, j] = 1.0
        if g.day in day_row:
            a[day_row[g.day], j] = o.claim
        if g.segment in seg_row:
            a[seg_row[g.segment], j] = 1.0
        for t, r in held_row.items():
            if g.day <= t:
                a[r, j] = o.spend + (o.unredeemed if g.day + o.validity_days > t else 0.0)
    gain = np.array([-o.value for _gi, o in columns])
    got = linprog(gain, A_ub=a.tocsr(), b_ub=limits, bounds=(0, None), method="highs")
    if got.status != 0:
        raise RuntimeError(f"the oracle's LP did not solve: {got.message}")
    spend = float(sum(o.spend * x for (_gi, o), x in zip(columns, got.x, strict=True)))
    return RunBound(float(-got.fun), spend)


def _held_days(groups: Sequence[DayGroup]) -> list[int]:
    """The days at whose end the total budget is checked against spend plus unexpired reservations: every
    offer day, when some option leaves claims unredeemed (otherwise the spend row says it all)."""
    if not any(o.unredeemed > 0 for g in groups for o in g.options):
        return []
    return sorted({g.day for g in groups})
