"""The oracle's bound: the exact LP optimum of the multiple-choice knapsack, found along the groups'
upper convex hulls without a solver."""

from __future__ import annotations

import pytest

from tests.rewards.sim.hull_walk import Group, Option, solve, upper_hull


def test_the_hull_drops_dominated_and_concave_violating_options() -> None:
    options = [Option("a", 1.0, 3.0), Option("b", 2.0, 3.0), Option("c", 3.0, 5.0), Option("d", 2.0, 3.5)]
    # b costs more than a for no more value; d lies under the chord a→c and is dropped too.
    assert [o.label for o in upper_hull(options)] == ["", "a", "c"]


def test_options_worth_nothing_never_enter_the_hull() -> None:
    assert [o.label for o in upper_hull([Option("x", 1.0, 0.0), Option("y", 1.0, -2.0)])] == [""]


def test_a_zero_budget_buys_nothing() -> None:
    got = solve([Group("g", 10, [Option("x", 1.0, 2.0)])], 0.0)
    assert (got.value, got.cost, got.allocation) == (0.0, 0.0, {"g": {}})


def test_the_last_step_is_taken_fractionally() -> None:
    got = solve([Group("g", 10, [Option("x", 2.0, 4.0)])], 5.0)
    assert got.cost == pytest.approx(5.0)
    assert got.value == pytest.approx(10.0)
    assert got.allocation == {"g": {"x": pytest.approx(0.25)}}


def test_the_best_value_per_fen_is_bought_first_across_groups() -> None:
    cheap = Group("cheap", 10, [Option("x", 1.0, 5.0)])  # slope 5
    dear = Group("dear", 10, [Option("x", 1.0, 2.0)])  # slope 2
    got = solve([dear, cheap], 10.0)
    assert got.allocation == {"cheap": {"x": pytest.approx(1.0)}, "dear": {}}
    assert got.value == pytest.approx(50.0)


def test_moving_up_the_hull_replaces_the_cheaper_option() -> None:
    g = Group("g", 1, [Option("small", 1.0, 3.0), Option("big", 3.0, 5.0)])
    got = solve([g], 3.0)
    assert got.allocation == {"g": {"big": pytest.approx(1.0)}}
    assert got.value == pytest.approx(5.0)
