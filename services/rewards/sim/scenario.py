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

from services.common.config import Schema, duplicated, load_file
from services.rewards.config import Arm, Budget, ContactPolicy, PolicyConfig


class TrueSegment(Schema):
    id: str
    share: float = Field(gt=0)  # relative weight among arrivals (normalised over segments)
    value_fen: int = Field(gt=0, le=10**9)  # value of one incremental conversion for this segment (≤ ¥10 million)
    base_rate: float = Field(ge=0, le=1)  # P(convert) with no coupon
    rates: dict[str, float]  # arm id -> P(convert) when offered that arm


class Drift(Schema):
    """From the start of ``day`` (0-based) on, a segment responds differently: the fields given replace
    its base rate and the named arms' rates; the rest stay as they were."""

    day: int = Field(ge=0)
    segment: str
    base_rate: float | None = Field(default=None, ge=0, le=1)
    rates: dict[str, float] = Field(default_factory=dict)
    share: float | None = Field(default=None, gt=0)  # its weight among arrivals from then on


class Scenario(Schema):
    name: str = "scenario"
    seed: int = 1
    days: int = Field(default=28, ge=1, le=366)
    arrivals_per_day: int = Field(default=2000, ge=1)
    # Arrivals on Monday..Sunday are arrivals_per_day times these factors (day 0 is a Thursday).
    weekday_factors: list[float] = Field(default_factory=lambda: [1.0] * 7, min_length=7, max_length=7)
    # Distinct customers behind the arrivals (repeat visits), split among the segments by share (at least one
    # each: a customer keeps one segment); none: every arrival is a new customer.
    customers: int | None = Field(default=None, ge=1)
    holdout_share: float = Field(default=0.1, ge=0, le=0.5)
    feedback_batches_per_day: int = Field(default=8, ge=1, le=1440)  # outcomes reach the learner this often
    # Claim → redeem: of the customers who will pay with an arm, this share of claimants do (claimants who
    # never redeem hold budget until the coupon expires); 1: only payers claim.
    redeem_given_claim: float = Field(default=1.0, gt=0, le=1)
    redeem_delay_days: float = Field(default=0.0, ge=0, le=366)  # mean claim → redemption, within the validity
    refund_rate: float = Field(default=0.0, ge=0, lt=1)  # share of redemptions refunded
    refund_delay_days: float = Field(default=1.0, ge=0, le=366)
    # Other campaigns' touches per customer per day: they count against the same contact caps.
    other_touches_per_day: float = Field(default=0.0, ge=0)
    contact: ContactPolicy = Field(default_factory=ContactPolicy)
    # Coupons one customer may claim in the campaign (production: the campaign's claims_per_customer);
    # none: every visit is a fresh moment. The oracle does not model this limit, so it is looser with one.
    claims_per_customer: int | None = Field(default=None, ge=1)
    budget: Budget
    arms: list[Arm] = Field(min_length=1)
    flat_arm: str | None = None  # kept for older files; the baselines search every arm instead
    segments: list[TrueSegment] = Field(min_length=1)
    drift: list[Drift] = Field(default_factory=list)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        for what, listed in (("arm", [a.id for a in self.arms]), ("segment", [s.id for s in self.segments])):
            twice = duplicated(listed)
            if twice:
                raise ValueError(f"{what} ids must be unique: {', '.join(twice)} given twice")
        # As production refuses a campaign whose daily budget cannot hold even its cheapest coupon.
        if min(a.discount_fen for a in self.arms) > self.budget.daily_fen:
            raise ValueError("budget.daily_fen is smaller than the cheapest arm's discount")
        ids = {a.id for a in self.arms}
        if self.flat_arm is not None and self.flat_arm not in ids:
            raise ValueError(f"flat_arm {self.flat_arm!r} is not one of the arms")
        segments = {s.id for s in self.segments}
        for i, d in enumerate(self.drift):
            if d.segment not in segments:
                raise ValueError(f"drift[{i}] names an unknown segment {d.segment!r}")
            unknown = sorted(set(d.rates) - ids)
            if unknown:
                raise ValueError(f"drift[{i}] ({d.segment}): rates name unknown arms {unknown}")
            bad = sorted(k for k, v in d.rates.items() if not 0 <= v <= 1)
            if bad:
                raise ValueError(f"drift[{i}] ({d.segment}): rates must be probabilities in [0, 1]: {bad}")
            if d.day >= self.days:
                raise ValueError(
                    f"drift[{i}] ({d.segment}) on day {d.day} is after the run's last day ({self.days - 1})"
                )
        if any(f < 0 for f in self.weekday_factors) or not any(self.weekday_factors):
            raise ValueError("weekday_factors must be non-negative and not all zero")
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
    return load_file(path, Scenario)


def dump_example(scenario: Scenario) -> str:
    return yaml.safe_dump(scenario.model_dump(mode="json"), sort_keys=False)
