"""The scenario file shared by `skylane partner-sim` and `skylane router simulate`.

It describes simulated partners (their true bid levels, acceptance and funding rates, latency and
failure modes) and, for the simulator, the applicant mix and an optional partner registry. The true
rates are what the router must learn; it never reads them.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from services.common.config import ConfigError, Schema
from services.router.partners.config import PartnersConfig

Rate = float | dict[str, float]


def rate_for(rate: Rate, tier: str, default: float = 0.0) -> float:
    if isinstance(rate, dict):
        return rate.get(tier, rate.get("*", default))
    return rate


class SimPartner(Schema):
    """One simulated partner lender."""

    id: str
    port: int = Field(default=0, ge=0, le=65535, description="partner-sim listens here (0 = any free port)")
    bid_fen: int | dict[str, int] = Field(description="mean bid per lead, per tier or for all")
    bid_spread: float = Field(default=0.2, ge=0, le=1, description="bids vary uniformly ± this share")
    bid_rate: Rate = 1.0
    accept_rate: Rate = 0.8
    fund_rate: Rate = 0.5
    known_rate: float = Field(default=0.0, ge=0, le=1)
    latency_ms: float = Field(default=5.0, ge=0)
    failure: Literal["none", "error", "hang", "garbage", "down"] = "none"
    down_seconds: float = Field(default=0.0, ge=0, description="answers UNAVAILABLE for this long after start")
    token: str = Field(default="", description="bearer token for outcome postbacks to the router")
    postback_delay_ms: float = Field(default=50.0, ge=0)

    def mean_bid(self, tier: str) -> int:
        if isinstance(self.bid_fen, dict):
            return int(self.bid_fen.get(tier, self.bid_fen.get("*", 0)))
        return self.bid_fen


def sim_ping(spec: SimPartner, tier: str, rng: random.Random) -> tuple[bool, int, bool]:
    """A simulated partner's answer to a ping: (bid_offered, bid_fen, known_applicant)."""
    if rng.random() < spec.known_rate:
        return False, 0, True
    if rng.random() >= rate_for(spec.bid_rate, tier, 1.0):
        return False, 0, False
    mean = spec.mean_bid(tier)
    if mean <= 0:
        return False, 0, False
    return True, max(1, round(mean * (1 + spec.bid_spread * rng.uniform(-1, 1)))), False


class Scenario(Schema):
    seed: int = 7
    applicants: int = Field(default=5000, ge=1)
    tiers: dict[str, float] = Field(default_factory=lambda: {"near_prime": 0.5, "tail": 0.5})
    router: str = Field(default="", description="router address for outcome postbacks (partner-sim)")
    partners: list[SimPartner] = Field(min_length=1)
    registry: PartnersConfig | None = Field(default=None, description="partner registry for the simulator")

    @model_validator(mode="after")
    def _shares(self) -> Scenario:
        if not self.tiers or any(v < 0 for v in self.tiers.values()) or sum(self.tiers.values()) <= 0:
            raise ValueError("tiers must map tier names to positive shares")
        return self


def load_scenario(path: Path) -> Scenario:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(str(path), [f"cannot read file: {exc.strerror}"]) from None
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), [f"not valid YAML: {exc}"]) from None
    try:
        return Scenario.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(
            str(path), [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        ) from None
