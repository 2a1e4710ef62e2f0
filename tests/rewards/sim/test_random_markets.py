"""scripts/rewards_markets.py: random markets of every kind load as scenarios, and a seed gives the same ones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from services.rewards.sim.scenario import load_scenario

REPO = Path(__file__).resolve().parents[3]
KINDS = {"alike", "differ", "dominant", "tight", "cannibal", "long"}


def _write(seed: int, out: Path) -> list[Path]:
    done = subprocess.run(
        [sys.executable, "scripts/rewards_markets.py", "--seed", str(seed), "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return [Path(line) for line in done.stdout.split()]


def test_every_kind_is_a_valid_scenario_and_a_seed_draws_the_same_markets(tmp_path: Path) -> None:
    first = _write(7, tmp_path / "a")
    again = _write(7, tmp_path / "b")
    other = _write(8, tmp_path / "c")
    assert {p.name.rsplit("-", 1)[0] for p in first} == KINDS
    for p, q, r in zip(first, again, other, strict=True):
        assert p.read_text(encoding="utf-8") == q.read_text(encoding="utf-8")
        assert p.read_text(encoding="utf-8") != r.read_text(encoding="utf-8")
        scenario = load_scenario(p)
        assert scenario.budget.daily_fen * scenario.days >= scenario.budget.total_fen
        cheapest = min(a.discount_fen for a in scenario.arms)
        assert scenario.budget.daily_fen >= cheapest


def test_the_cannibal_market_has_a_segment_no_coupon_moves(tmp_path: Path) -> None:
    path = next(p for p in _write(3, tmp_path) if p.name.startswith("cannibal"))
    big = next(s for s in load_scenario(path).segments if s.id == "g3")
    assert all(0 <= rate - big.base_rate <= 0.01 for rate in big.rates.values())
