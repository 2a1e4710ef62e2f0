"""The scorecard: base points, the first matching bin, missing and default points, the external score."""

from __future__ import annotations

import yaml

from services.router.config import Policy
from services.router.domain.policy import CompiledPolicy
from tests.router.unit.helpers import compiled, facts

CARD = """
scorecard:
  base_points: 100
  attributes:
    - attribute: income_band
      missing_points: -5
      default_points: 3
      bins:
        - {op: eq, value: high, points: 50}
        - {op: in, value: [high, upper_middle], points: 40}
  external_score: {attribute: external_credit_score, weight: 0.5, center: 600, missing_points: -20}
tiers:
  - {name: any, min_score: -1000, route: partner_pool}
"""


def _score(**kwargs: object) -> int:
    return CompiledPolicy(Policy.model_validate(yaml.safe_load(CARD))).score(facts(**kwargs))  # type: ignore[arg-type]


def test_the_first_matching_bin_wins() -> None:
    assert _score(income="high", score=600) == 150
    assert _score(income="upper_middle", score=600) == 140


def test_missing_and_unmatched_attributes_get_their_points() -> None:
    assert _score(income=None, score=600) == 95
    assert _score(income="low", score=600) == 103


def test_external_score_is_weighted_around_its_center() -> None:
    assert _score(income="low", score=700) == 153
    assert _score(income="low", score=500) == 53
    assert _score(income="low", score=None) == 83


def test_the_test_policy_adds_fifty_for_a_high_income() -> None:
    assert compiled().score(facts(score=650, income="high")) == 700
    assert compiled().score(facts(score=650, income="middle")) == 650
