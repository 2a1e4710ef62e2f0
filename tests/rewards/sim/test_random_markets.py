"""scripts/rewards_markets.py: random markets of every kind load as scenarios, and a seed gives the same ones."""

from __future__ import annotations

from pathlib import Path

from services.rewards.sim.scenario import load_scenario
from tests.helpers import reproducible_markets, write_markets

KINDS = {"alike", "differ", "dominant", "tight", "cannibal", "long"}


def _write(seed: int, out: Path) -> list[Path]:
    return write_markets("rewards_markets.py", seed, out)


def test_every_kind_is_a_valid_scenario_and_a_seed_draws_the_same_markets(tmp_path: Path) -> None:
    for p in reproducible_markets("rewards_markets.py", tmp_path, KINDS):
        scenario = load_scenario(p)
        assert scenario.budget.daily_fen * scenario.days >= scenario.budget.total_fen
        cheapest = min(a.discount_fen for a in scenario.arms)
        assert scenario.budget.daily_fen >= cheapest


def test_the_cannibal_market_has_a_segment_no_coupon_moves(tmp_path: Path) -> None:
    path = next(p for p in _write(3, tmp_path) if p.name.startswith("cannibal"))
    big = next(s for s in load_scenario(path).segments if s.id == "g3")
    assert all(0 <= rate - big.base_rate <= 0.01 for rate in big.rates.values())
