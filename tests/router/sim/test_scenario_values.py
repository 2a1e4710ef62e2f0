"""A scenario's rates and effects may only name tiers and feature values its applicants can have: a typo
is refused with the place and the value, instead of silently changing nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from services.common.config import ConfigError
from services.router.sim.scenario import Scenario, load_scenario, with_odds

BASE: dict[str, Any] = {
    "tiers": {"near_prime": 0.6, "tail": 0.4},
    "mix": {"regions": {"CN-31": 1, "CN-44": 1}, "channels": {"app": 1}, "by_tier": {"tail": {"channels": {"web": 1}}}},
    "partners": [{"id": "a", "bid_fen": 3000}],
}


def _load(tmp_path: Path, **partner: Any) -> Scenario:
    document = {**BASE, "partners": [{**BASE["partners"][0], **partner}]}
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return load_scenario(path)


def test_values_applicants_can_have_are_accepted(tmp_path: Path) -> None:
    sc = _load(
        tmp_path,
        fund_rate={"near_prime": 0.5, "*": 0.3},
        accept_effects={
            "region": {"CN-44": 1.5, "*": 1.0},
            "channel": {"web": 0.8},  # a tail-only channel
            "score": {"600-649": 1.2},
            "amount": {"10k-30k": 1.1, "100k+": 0.5},
            "age": {"25-34": 1.3},
            "tier": {"tail": 0.7},
        },
    )
    assert sc.partners[0].accept_effects["region"]["CN-44"] == 1.5


@pytest.mark.parametrize(
    ("partner", "named"),
    [
        ({"accept_effects": {"region": {"CN-3l": 2.0}}}, "a.accept_effects.region: no applicant has ['CN-3l']"),
        ({"fund_effects": {"amount": {"10-30k": 2.0}}}, "a.fund_effects.amount: no applicant has ['10-30k']"),
        ({"fund_effects": {"score": {"600-650": 2.0}}}, "a.fund_effects.score: no applicant has ['600-650']"),
        ({"bid_effects": {"channel": {"ios": 1.2}}}, "a.bid_effects.channel: no applicant has ['ios']"),
        ({"fund_rate": {"near-prime": 0.5}}, "a.fund_rate: unknown tiers ['near-prime']"),
        ({"bid_fen": {"prime": 4000}}, "a.bid_fen: unknown tiers ['prime']"),
    ],
)
def test_a_value_no_applicant_can_have_is_refused_by_name(tmp_path: Path, partner: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, **partner)
    assert named in str(caught.value)


def test_every_example_scenario_names_only_values_its_applicants_can_have() -> None:
    for path in sorted((Path(__file__).resolve().parents[3] / "config" / "scenarios").glob("*.yaml")):
        load_scenario(path)


def _load_document(tmp_path: Path, document: dict[str, Any]) -> Scenario:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return load_scenario(path)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        # Rates are probabilities: a rate above 1 or below 0 made values the bound cannot reach (price ×
        # acceptance 1.5) or that no partner can produce, and a NaN passed every range check.
        (
            {"partners": [{"id": "a", "bid_fen": 3000, "accept_rate": 1.5}]},
            "partners.0: partner a: accept_rate must be a probability in [0, 1], got 1.5",
        ),
        (
            {"partners": [{"id": "a", "bid_fen": 3000, "fund_rate": {"tail": -0.1}}]},
            "fund_rate must be a probability in [0, 1], got tail=-0.1",
        ),
        (
            {"partners": [{"id": "a", "bid_fen": 3000, "bid_rate": 2}]},
            "bid_rate must be a probability in [0, 1], got 2",
        ),
        (
            {"partners": [{"id": "a", "bid_fen": 3000, "accept_rate": float("nan")}]},
            "partners.0.accept_rate.float: Input should be a finite number",
        ),
        (
            {"partners": [{"id": "a", "bid_fen": -300}]},
            "partners.0: partner a: bid_fen must lie within 0 and 1000000000, got -300",
        ),
        # Values past what arithmetic holds were accepted and crashed the run (an overflow) or printed NaN.
        ({"partners": [{"id": "a", "bid_fen": 10**12}]}, "bid_fen must lie within 0 and 1000000000, got 10000"),
        (
            {"partners": [{"id": "a", "bid_fen": 3000, "fund_effects": {"tier": {"tail": 1e308}}}]},
            "fund_effects: multipliers must lie within 0 and 1e+06: ['tier.tail']",
        ),
        ({"partners": [{"id": "a", "bid_fen": 3000, "fund_bid_link": 1000}]}, "fund_bid_link: Input should be less"),
        ({"days": 1e7}, "days: Input should be less than or equal to 3660"),
        (
            {"partners": [{"id": "a", "bid_fen": 3000, "fund_effects": {"tier": {"tail": -2}}}]},
            "fund_effects: multipliers must lie within 0 and 1e+06: ['tier.tail']",
        ),
        (
            {"partners": [{"id": "a", "bid_fen": 3000}, {"id": "a", "bid_fen": 2000}]},
            "(top level): partners: duplicate ids a",
        ),
        (
            {"schedule": [{"partner": "a", "at_day": 1, "fund_rate": 1.7}]},
            "schedule.0: schedule change of a: fund_rate must be a probability in [0, 1], got 1.7",
        ),
        (
            {"schedule": [{"partner": "a", "at_day": 1, "accept_rate": {"gold": 0.2}}]},
            "schedule.0.accept_rate: unknown tiers ['gold']",
        ),
        (
            {"schedule": [{"partner": "a", "at_day": 1, "bid_fen": -5}]},
            "bid_fen must lie within 0 and 1000000000, got -5",
        ),
        (
            {"mix": {"amount_yuan": [{"low": 5000, "high": 100}]}},
            "mix.amount_yuan.0: band low (5000.0) is above high (100.0)",
        ),
        (
            {"mix": {"amount_yuan": [{"low": -5000, "high": 100}]}},
            "mix.amount_yuan.0.low: Input should be greater than or equal to 0",
        ),
        ({"mix": {"score": {"*": [600, -10]}}}, "score: the sd must not be negative"),
        ({"mix": {"age": [-5, 40]}}, "age is (low, high) with 0 <= low <= high <= 120"),
        ({"mix": {"by_tier": {"gold": {"regions": {"CN-31": 1}}}}}, "mix.by_tier: unknown tiers ['gold']"),
        (
            {"mix": {"by_tier": {"tail": {"regions": {"CN-31": 0}}}}},
            "regions must map values to non-negative shares, not all zero",
        ),
        ({"days": float("inf")}, "days: Input should be a finite number"),
    ],
)
def test_an_invalid_scenario_is_refused_naming_the_field(tmp_path: Path, change: dict[str, Any], named: str) -> None:
    document = {**BASE, **change}
    with pytest.raises(ConfigError) as caught:
        _load_document(tmp_path, document)
    assert any(named in e for e in caught.value.errors), caught.value.errors


def test_odds_multiplied_past_what_a_float_holds_read_as_certain() -> None:
    assert with_odds(0.5, 1e300) == 1.0 and with_odds(0.5, 1e300 * 1e10) == 1.0
    assert with_odds(0.5, 0.0) == 0.0 and with_odds(0.5, 3.0) == pytest.approx(0.75)


LENDER: dict[str, Any] = {"id": "lender-a", "endpoint": "127.0.0.1:1", "tiers": ["near_prime", "tail"]}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        # YAML reads true/false (and yes/no, on/off) as booleans, which were taken as 1 and 0: a bid of 1 fen.
        ({"partners": [{"id": "a", "bid_fen": True}]}, "partners.0.bid_fen: expected a number, got true"),
        (
            {"partners": [{"id": "a", "bid_fen": {"near_prime": 3000, "tail": True}}]},
            "partners.0.bid_fen.tail: expected a number, got true",
        ),
        ({"partners": [{"id": "a", "bid_fen": 3000, "accept_rate": False}]}, "partners.0.accept_rate: expected a"),
        ({"partners": [{"id": "a", "bid_fen": 3000, "port": True}]}, "partners.0.port: expected a number, got true"),
        (
            {"partners": [{"id": "a", "bid_fen": 3000, "fund_effects": {"tier": {"tail": True}}}]},
            "partners.0.fund_effects.tier.tail: expected a number, got true",
        ),
        ({"seed": True}, "seed: expected a number, got true"),
        ({"tiers": {"near_prime": True, "tail": 0.4}}, "tiers.near_prime: expected a number, got true"),
        ({"mix": {"score": {"*": [600, False]}}}, "mix.score.*.1: expected a number, got false"),
        ({"mix": {"amount_yuan": [{"low": 0, "high": True}]}}, "mix.amount_yuan.0.high: expected a number, got"),
        ({"hourly_profile": [True] + [1] * 23}, "hourly_profile.0: expected a number, got true"),
        ({"schedule": [{"partner": "a", "at_day": True}]}, "schedule.0.at_day: expected a number, got true"),
        ({"chain": {"max_posts": True}}, "chain.max_posts: expected a number, got true"),
        (
            {"registry": {"lenders": [{**LENDER, "annual_cost_rate": True}]}},
            "registry.lenders.0.annual_cost_rate: expected a number, got true",
        ),
    ],
)
def test_a_boolean_where_a_number_is_expected_is_refused_naming_the_field(
    tmp_path: Path, change: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load_document(tmp_path, {**BASE, **change})
    assert any(named in e for e in caught.value.errors), caught.value.errors


def test_yaml_words_for_booleans_are_refused_where_a_number_is_expected(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text("seed: yes\npartners:\n  - {id: a, bid_fen: on, latency_ms: off}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_scenario(path)
    assert caught.value.errors == [
        "seed: expected a number, got true",
        "partners.0.bid_fen: expected a number, got true",
        "partners.0.latency_ms: expected a number, got false",
    ]


def test_whole_numbers_where_floats_are_expected_and_booleans_where_booleans_are_stay_accepted(
    tmp_path: Path,
) -> None:
    sc = _load_document(
        tmp_path,
        {
            **BASE,
            "partners": [{"id": "a", "bid_fen": 3000, "accept_rate": 1, "fund_rate": {"tail": 0}, "latency_ms": 30}],
            "registry": {"lenders": [{**LENDER, "annual_cost_rate": 0, "allow_listed": True}]},
        },
    )
    partner = sc.partners[0]
    assert (partner.accept_rate, partner.fund_rate, partner.latency_ms) == (1.0, {"tail": 0.0}, 30.0)
    assert sc.registry is not None and sc.registry.lenders[0].allow_listed is True


def test_router_simulate_refuses_a_boolean_for_a_number_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from services.cli import main

    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({**BASE, "partners": [{"id": "a", "bid_fen": True}]}), encoding="utf-8")
    assert main(["router", "simulate", "--scenario", str(path), "--no-progress", "--no-svg"]) == 2
    assert capsys.readouterr().err == (
        f"router simulate: invalid config {path}: partners.0.bid_fen: expected a number, got true\n"
    )
