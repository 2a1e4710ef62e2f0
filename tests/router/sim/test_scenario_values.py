"""A scenario's rates and effects may only name tiers and feature values its applicants can have: a typo
is refused with the place and the value, instead of silently changing nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from services.common.config import ConfigError
from services.router.sim.scenario import Scenario, load_scenario

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
