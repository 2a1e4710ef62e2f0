"""The scenario file of ``skylane rewards simulate`` (YAML; see services/rewards/scenarios/example.yaml).

A scenario is a campaign (arms, budget, holdout share, length) and a population of segments, each with a
share of the arrivals, the value of one incremental conversion, and its hidden *true* response curve:
the chance a customer of the segment converts with no coupon (base_rate) and with each arm (rates).
The policy never sees the curves; the oracle and the greedy baseline do.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import Field, model_validator

from services.common.config import ConfigError, Schema
from services.rewards.config import Arm, Budget, PolicyConfig


class TrueSegment(Schema):
    id: str
    share: float = Field(gt=0)  # relative weight among arrivals (normalised over segments)
    value_fen: int = Field(gt=0)  # value of one incremental conversion for this segment
    base_rate: float = Field(ge=0, le=1)  # P(convert) with no coupon
    rates: dict[str, float]  # arm id -> P(convert) when offered that arm


class Scenario(Schema):
    name: str = "scenario"
    seed: int = 1
    days: int = Field(default=28, ge=1, le=366)
    arrivals_per_day: int = Field(default=2000, ge=1)
    holdout_share: float = Field(default=0.1, ge=0, le=0.5)
    feedback_batches_per_day: int = Field(default=8, ge=1, le=1440)  # outcomes reach the learner this often
    budget: Budget
    arms: list[Arm] = Field(min_length=1)
    flat_arm: str  # the arm the "flat coupon for all" baseline gives everyone
    segments: list[TrueSegment] = Field(min_length=1)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        ids = {a.id for a in self.arms}
        if self.flat_arm not in ids:
            raise ValueError(f"flat_arm {self.flat_arm!r} is not one of the arms")
        for s in self.segments:
            missing, extra = ids - set(s.rates), set(s.rates) - ids
            if missing or extra:
                raise ValueError(
                    f"segment {s.id}: rates must name exactly the arms (missing {sorted(missing)}, "
                    f"unknown {sorted(extra)})"
                )
            bad = [k for k, v in s.rates.items() if not 0 <= v <= 1]
            if bad:
                raise ValueError(f"segment {s.id}: rates must be probabilities in [0, 1]: {bad}")
        return self


def load_scenario(path: Path) -> Scenario:
    from services.common.config import parse_document

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read file: {exc.strerror}"]) from None
    return parse_document(text, Scenario, str(path)).model


def dump_example(scenario: Scenario) -> str:
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False)
