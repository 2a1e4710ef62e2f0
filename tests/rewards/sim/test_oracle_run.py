"""The run's oracle (total budget on spend, daily budget on claims, touch limits) against independent
solutions: the single-budget hull walk, and brute force over integer choices."""

from __future__ import annotations

import itertools
import random

import pytest

from services.rewards.sim.bound import DayGroup, DayOption, solve_run
from tests.rewards.sim.hull_walk import Group, Option, solve


def _random_groups(seed: int, days: int = 3) -> list[DayGroup]:
    rng = random.Random(seed)
    groups = []
    for day in range(days):
        for seg in range(3):
            options = []
            for i, face in enumerate((300, 800, 2000)):
                p = rng.uniform(0.01, 0.4)
                options.append(
                    DayOption(f"a{i}", p * face, min(1.0, p / rng.choice([1.0, 0.6])) * face, rng.uniform(-100, 500))
                )
            groups.append(DayGroup(f"{day}/{seg}", day, f"s{seg}", rng.randint(1, 40), options))
    return groups


@pytest.mark.parametrize("seed", range(20))
def test_with_one_budget_the_lp_equals_the_hull_walk(seed: int) -> None:
    groups = _random_groups(seed)
    budget = random.Random(seed).uniform(500, 40_000)
    hull = solve(
        [Group(g.label, g.weight, [Option(o.label, o.spend, o.value) for o in g.options]) for g in groups], budget
    )
    assert solve_run(groups, budget, None).value == pytest.approx(hull.value, rel=1e-7, abs=1e-6)


def test_a_daily_cap_that_binds_lowers_the_bound_and_a_loose_one_does_not() -> None:
    groups = _random_groups(3)
    free = solve_run(groups, 20_000, None).value
    assert solve_run(groups, 20_000, 1e12).value == pytest.approx(free)
    assert solve_run(groups, 20_000, 200.0).value < free


def test_touch_limits_bind_per_segment() -> None:
    groups = _random_groups(4)
    free = solve_run(groups, 1e9, None).value
    limited = solve_run(groups, 1e9, None, {"s0": 1.0, "s1": 1.0, "s2": 1.0})
    assert limited.value < free
    best_single = max(o.value for g in groups for o in g.options)
    assert limited.value <= 3 * best_single + 1e-9


def _brute_force(groups: list[DayGroup], budget: float, cap: float) -> float:
    """Best integer assignment for one customer per group (an LP relaxation can only do better)."""
    best = 0.0
    for pick in itertools.product(range(-1, 3), repeat=len(groups)):
        chosen = [(g, g.options[j]) for g, j in zip(groups, pick, strict=True) if j >= 0]
        if sum(o.spend for _g, o in chosen) > budget:
            continue
        per_day: dict[int, float] = {}
        for g, o in chosen:
            per_day[g.day] = per_day.get(g.day, 0.0) + o.claim
        if any(v > cap for v in per_day.values()):
            continue
        best = max(best, sum(o.value for _g, o in chosen))
    return best


@pytest.mark.parametrize("seed", range(8))
def test_the_bound_is_never_below_the_best_integer_plan(seed: int) -> None:
    groups = [DayGroup(g.label, g.day, g.segment, 1, g.options) for g in _random_groups(seed, days=2)]
    budget, cap = 400.0, 250.0
    assert solve_run(groups, budget, cap).value >= _brute_force(groups, budget, cap) - 1e-9


def _holding_groups(seed: int, days: int = 3) -> list[DayGroup]:
    """Groups whose claimants do not all redeem: part of each claim is held until the coupon expires."""
    rng = random.Random(seed)
    groups = []
    for day in range(days):
        for seg in range(2):
            options = []
            for i, face in enumerate((300, 800, 2000)):
                p = rng.uniform(0.05, 0.4)
                claimed = min(1.0, p / rng.choice([1.0, 0.7, 0.4]))
                options.append(
                    DayOption(f"a{i}", p * face, claimed * face, rng.uniform(0, 500), (claimed - p) * face, i + 1)
                )
            groups.append(DayGroup(f"{day}/{seg}", day, f"s{seg}", 1, options))
    return groups


def _held_at_end_of(t: int, chosen: list[tuple[DayGroup, DayOption]]) -> float:
    return sum(o.spend + (o.unredeemed if g.day + o.validity_days > t else 0.0) for g, o in chosen if g.day <= t)


def _brute_force_holding(groups: list[DayGroup], budget: float) -> float:
    best = 0.0
    for pick in itertools.product(range(-1, 3), repeat=len(groups)):
        chosen = [(g, g.options[j]) for g, j in zip(groups, pick, strict=True) if j >= 0]
        if all(_held_at_end_of(t, chosen) <= budget for t in range(3)):
            best = max(best, sum(o.value for _g, o in chosen))
    return best


@pytest.mark.parametrize("seed", range(8))
def test_with_reservations_held_the_bound_is_never_below_the_best_integer_plan(seed: int) -> None:
    groups = _holding_groups(seed)
    budget = 900.0
    assert solve_run(groups, budget, None).value >= _brute_force_holding(groups, budget) - 1e-9


def test_reservations_held_until_expiry_lower_the_bound_only_when_claims_go_unredeemed() -> None:
    groups = _holding_groups(5)
    spend_only = [
        DayGroup(
            g.label, g.day, g.segment, g.weight, [DayOption(o.label, o.spend, o.claim, o.value) for o in g.options]
        )
        for g in groups
    ]
    budget = 900.0
    assert solve_run(groups, budget, None).value < solve_run(spend_only, budget, None).value
    nothing_held = [
        DayGroup(
            g.label,
            g.day,
            g.segment,
            g.weight,
            [DayOption(o.label, o.spend, o.claim, o.value, 0.0, 3) for o in g.options],
        )
        for g in groups
    ]
    assert solve_run(nothing_held, budget, None).value == pytest.approx(solve_run(spend_only, budget, None).value)
