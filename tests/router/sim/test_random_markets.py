"""scripts/router_markets.py: random markets of every kind load as scenarios, ping the partners they
define, and a seed gives the same ones."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from services.router.partners.cli import load_registry, unmatched_partners
from services.router.sim.market import caps_past_run
from services.router.sim.scenario import load_scenario
from tests.helpers import REPO, reproducible_markets, write_markets

KINDS = {"tiers", "features", "drift", "caps", "chain", "delays", "many", "many-caps"}


def _write(seed: int, out: Path) -> list[Path]:
    return write_markets("router_markets.py", seed, out)


def test_every_kind_is_a_valid_scenario_and_a_seed_draws_the_same_markets(tmp_path: Path) -> None:
    for p in reproducible_markets("router_markets.py", tmp_path, KINDS):
        scenario = load_scenario(p)
        registry = load_registry(scenario, None)
        assert unmatched_partners(scenario, registry) == []  # every simulated partner is a lender
        assert len(scenario.partners) >= 4


def test_each_kind_has_what_names_it(tmp_path: Path) -> None:
    markets = {p.name.rsplit("-", 1)[0]: load_scenario(p) for p in _write(11, tmp_path)}
    assert markets["drift"].schedule
    assert any(p.fund_effects for p in markets["features"].partners)
    assert any(lender.caps.limits() for lender in load_registry(markets["caps"], None).lenders)
    assert markets["chain"].chain.time_budget_s is not None
    assert min(p.fund_delay_hours for p in markets["delays"].partners) >= 24
    assert len(markets["many"].partners) >= 12
    many_caps = markets["many-caps"]
    capped = [lender for lender in load_registry(many_caps, None).lenders if lender.caps.limits()]
    assert many_caps.partners == markets["many"].partners and len(capped) >= 10
    assert caps_past_run(many_caps, load_registry(many_caps, None)) == []  # every capped window ends in the run


def test_the_markets_of_many_seeds_all_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every drawn rate stays a probability and every drawn value is one the loader accepts."""
    monkeypatch.syspath_prepend(str(REPO / "scripts"))  # as running the script puts its folder first
    spec = importlib.util.spec_from_file_location("router_markets", REPO / "scripts" / "router_markets.py")
    assert spec is not None and spec.loader is not None
    markets = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(markets)
    for seed in range(40):
        for path in markets.write_markets(seed, tmp_path / str(seed)):
            load_scenario(path)
