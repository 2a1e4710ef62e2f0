"""The scenario file shared by `skylane partner-sim` and `skylane router simulate`.

It describes simulated partners (their true bids, acceptance and funding rates and how these depend on
the lead and change over time, latencies, failure modes, funding delays), the applicants (tier mix and
features), the run (applicants, days, arrival profile, chain limits) and an optional partner registry.
The true rates are what the router must learn; it never reads them. Every field added after the first
format is optional and defaults to the first format's meaning; docs/router-decisions.md lists them all.
"""

from __future__ import annotations

import math
import random
from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from services.common.config import Schema, duplicated, load_file
from services.router.partners.config import PartnersConfig
from services.router.partners.domain import age_band
from services.router.partners.estimates import amount_band

Rate = float | dict[str, float]
# feature group (tier, score, amount, region, channel, age) → feature value → odds multiplier
Effects = dict[str, dict[str, float]]
FEATURE_GROUPS = ("tier", "score", "amount", "region", "channel", "age")


def rate_problems(name: str, rate: Rate | None) -> list[str]:
    """A rate (P(bid), P(accept), P(fund)) outside [0, 1], per tier where it is given per tier."""
    values = {} if rate is None else rate if isinstance(rate, dict) else {"": rate}
    bad = {tier: v for tier, v in values.items() if not 0.0 <= v <= 1.0}
    if not bad:
        return []
    where = ", ".join(f"{tier}={v}" if tier else str(v) for tier, v in bad.items())
    return [f"{name} must be a probability in [0, 1], got {where}"]


MAX_BID_FEN = 10**9  # ¥10 million a lead: far above any real price, and far below what arithmetic overflows
MAX_MULTIPLIER = 1e6  # an effect's odds (or bid) multiplier; beyond it a rate is 0 or 1 in all but name
MAX_FUND_BID_LINK = 50.0  # funding log-odds move at most ±50 with the bid: already certain either way


def bid_problems(bid: int | dict[str, int] | None) -> list[str]:
    values = {} if bid is None else bid if isinstance(bid, dict) else {"": bid}
    bad = {tier: v for tier, v in values.items() if not 0 <= v <= MAX_BID_FEN}
    where = ", ".join(f"{tier}={v}" if tier else str(v) for tier, v in bad.items())
    return [f"bid_fen must lie within 0 and {MAX_BID_FEN}, got {where}"] if bad else []


def rate_for(rate: Rate, tier: str, default: float = 0.0) -> float:
    if isinstance(rate, dict):
        return rate.get(tier, rate.get("*", default))
    return rate


def with_odds(p: float, multiplier: float) -> float:
    """p with its odds multiplied (0 and 1 stay put)."""
    if p <= 0.0 or p >= 1.0 or multiplier == 1.0:
        return p
    odds = p / (1 - p) * multiplier
    return 1.0 if math.isinf(odds) else odds / (1 + odds)


class Change(Schema):
    """A change of one partner's appetite: from `at_day` (a step) or ramped linearly until `until_day`."""

    partner: str
    at_day: float = Field(ge=0)
    until_day: float | None = Field(default=None, description="ramp end; absent = a step at at_day")
    accept_rate: Rate | None = None
    fund_rate: Rate | None = None
    bid_fen: int | dict[str, int] | None = None
    bid_rate: Rate | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Change:
        if self.until_day is not None and self.until_day <= self.at_day:
            raise ValueError("until_day must be after at_day")
        problems = [p for n in ("accept_rate", "fund_rate", "bid_rate") for p in rate_problems(n, getattr(self, n))]
        problems += bid_problems(self.bid_fen)
        if problems:
            raise ValueError(f"schedule change of {self.partner}: " + "; ".join(problems))
        return self


class SimPartner(Schema):
    """One simulated partner lender."""

    id: str
    port: int = Field(default=0, ge=0, le=65535, description="partner-sim listens here (0 = any free port)")
    bid_fen: int | dict[str, int] = Field(description="mean bid per lead, per tier or for all")
    bid_spread: float = Field(default=0.2, ge=0, le=1, description="bids vary uniformly ± this share")
    bid_rate: Rate = 1.0
    accept_rate: Rate = 0.8
    fund_rate: Rate = 0.5
    accept_effects: Effects = Field(default_factory=dict, description="group → value → acceptance odds ×")
    fund_effects: Effects = Field(default_factory=dict, description="group → value → funding odds ×")
    bid_effects: Effects = Field(default_factory=dict, description="group → value → mean bid ×")
    fund_bid_link: float = Field(
        default=0.0,
        ge=-MAX_FUND_BID_LINK,
        le=MAX_FUND_BID_LINK,
        description="funding log-odds + link × u, u ∈ [−1, 1] the bid's position in its spread",
    )
    known_rate: float = Field(default=0.0, ge=0, le=1)
    latency_ms: float = Field(default=5.0, ge=0, description="ping answer time")
    latency_jitter: float = Field(default=0.0, ge=0, le=3, description="ping time × lognormal(0, this)")
    post_latency_ms: float | None = Field(default=None, ge=0, description="post decision time (default latency_ms)")
    accept_window_s: float | None = Field(
        default=None, gt=0, description="its bid holds for a post that starts within this long of the ping"
    )
    fund_delay_hours: float = Field(default=0.0, ge=0, description="mean delay of the funding outcome report")
    failure: Literal["none", "error", "hang", "garbage", "down"] = "none"
    down_seconds: float = Field(default=0.0, ge=0, description="answers UNAVAILABLE for this long after start")
    token: str = Field(default="", description="bearer token for outcome postbacks to the router")
    postback_delay_ms: float = Field(default=50.0, ge=0)

    @model_validator(mode="after")
    def _known_groups(self) -> SimPartner:
        for name in ("accept_effects", "fund_effects", "bid_effects"):
            unknown = sorted(set(getattr(self, name)) - set(FEATURE_GROUPS))
            if unknown:
                raise ValueError(f"{name}: unknown feature groups {unknown} (known: {', '.join(FEATURE_GROUPS)})")
            outside = sorted(
                f"{g}.{v}"
                for g, values in getattr(self, name).items()
                for v, m in values.items()
                if not 0 <= m <= MAX_MULTIPLIER
            )
            if outside:
                raise ValueError(f"{name}: multipliers must lie within 0 and {MAX_MULTIPLIER:g}: {outside}")
        problems = [p for n in ("accept_rate", "fund_rate", "bid_rate") for p in rate_problems(n, getattr(self, n))]
        problems += bid_problems(self.bid_fen)
        if problems:
            raise ValueError(f"partner {self.id}: " + "; ".join(problems))
        return self

    def mean_bid(self, tier: str) -> int:
        if isinstance(self.bid_fen, dict):
            return int(self.bid_fen.get(tier, self.bid_fen.get("*", 0)))
        return self.bid_fen

    @property
    def decision_ms(self) -> float:
        return self.latency_ms if self.post_latency_ms is None else self.post_latency_ms


def sim_ping(spec: SimPartner, tier: str, rng: random.Random) -> tuple[bool, int, bool]:
    """A simulated partner's answer to a ping (partner-sim): (bid_offered, bid_fen, known_applicant)."""
    if rng.random() < spec.known_rate:
        return False, 0, True
    if rng.random() >= rate_for(spec.bid_rate, tier, 1.0):
        return False, 0, False
    mean = spec.mean_bid(tier)
    if mean <= 0:
        return False, 0, False
    return True, max(1, round(mean * (1 + spec.bid_spread * rng.uniform(-1, 1)))), False


class Band(Schema):
    low: float = Field(ge=0)
    high: float = Field(ge=0)
    weight: float = Field(default=1.0, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Band:
        if self.low > self.high:
            raise ValueError(f"band low ({self.low}) is above high ({self.high})")
        return self


def share_problems(name: str, shares: dict[str, float] | None) -> list[str]:
    if shares is None:
        return []
    if not shares or any(v < 0 for v in shares.values()) or sum(shares.values()) <= 0:
        return [f"{name} must map values to non-negative shares, not all zero"]
    return []


class ApplicantMix(Schema):
    """What applicants look like besides their tier (defaults: the first format's fixed applicant)."""

    score: dict[str, tuple[float, float]] = Field(
        default_factory=lambda: {"*": (600.0, 0.0)}, description="tier → (mean, sd) of the score, '*' = others"
    )
    age: tuple[int, int] = Field(default=(22, 55), description="(low, high), within 0-120")
    regions: dict[str, float] = Field(default_factory=lambda: {"CN-31": 1.0})
    channels: dict[str, float] = Field(default_factory=lambda: {"simulation": 1.0})
    amount_yuan: list[Band] = Field(default_factory=lambda: [Band(low=5_000, high=50_000)])
    by_tier: dict[str, ApplicantTierMix] = Field(default_factory=dict, description="tier → overrides")

    @model_validator(mode="after")
    def _shares(self) -> ApplicantMix:
        problems = share_problems("regions", self.regions) + share_problems("channels", self.channels)
        if problems:
            raise ValueError("; ".join(problems))
        if not self.amount_yuan or sum(b.weight for b in self.amount_yuan) <= 0:
            raise ValueError("amount_yuan needs at least one band with weight")
        if not 0 <= self.age[0] <= self.age[1] <= 120:
            raise ValueError("age is (low, high) with 0 <= low <= high <= 120")
        bad_sd = sorted(tier for tier, (_mean, sd) in self.score.items() if sd < 0)
        if bad_sd:
            raise ValueError(f"score: the sd must not be negative (tiers {bad_sd})")
        return self


class ApplicantTierMix(Schema):
    regions: dict[str, float] | None = None
    channels: dict[str, float] | None = None
    amount_yuan: list[Band] | None = None

    @model_validator(mode="after")
    def _shares(self) -> ApplicantTierMix:
        problems = share_problems("regions", self.regions) + share_problems("channels", self.channels)
        if self.amount_yuan is not None and self.amount_yuan and sum(b.weight for b in self.amount_yuan) <= 0:
            problems.append("amount_yuan needs at least one band with weight")
        if problems:
            raise ValueError("; ".join(problems))
        return self


class Chain(Schema):
    """What limits one lead's chain of posts (the router knows these: config and contracts)."""

    max_posts: int | None = Field(
        default=None, ge=1, description="posts per lead at most (absent = the registry's max_posts_per_lead)"
    )
    time_budget_s: float | None = Field(
        default=None, gt=0, description="a post starts only within this long of the lead (default: offer window)"
    )
    post_cost_fen: float | None = Field(
        default=None, ge=0, description="what each post costs (fee, goodwill); absent = the registry's post_cost_fen"
    )


class Scenario(Schema):
    seed: int = 7
    applicants: int = Field(default=5000, ge=1)
    tiers: dict[str, float] = Field(default_factory=lambda: {"near_prime": 0.5, "tail": 0.5})
    router: str = Field(default="", description="router address for outcome postbacks (partner-sim)")
    partners: list[SimPartner] = Field(min_length=1)
    registry: PartnersConfig | None = Field(default=None, description="partner registry for the simulator")
    days: float = Field(default=7.0, gt=0, le=3660, description="the applicants arrive over this many days")
    start: datetime = Field(default=datetime.fromisoformat("2026-01-05T09:00:00+08:00"))
    hourly_profile: list[float] | None = Field(
        default=None, min_length=24, max_length=24, description="arrival weight per local hour (cap time zone)"
    )
    mix: ApplicantMix = Field(default_factory=ApplicantMix)
    chain: Chain = Field(default_factory=Chain)
    schedule: list[Change] = Field(default_factory=list)

    @model_validator(mode="after")
    def _shares(self) -> Scenario:
        if not self.tiers or any(v < 0 for v in self.tiers.values()) or sum(self.tiers.values()) <= 0:
            raise ValueError("tiers must map tier names to shares of at least 0, not all 0")
        listed = [p.id for p in self.partners]
        twice = duplicated(listed)
        if twice:
            raise ValueError(f"partners: duplicate ids {', '.join(twice)}")
        ids = set(listed)
        unknown = sorted({c.partner for c in self.schedule} - ids)
        if unknown:
            raise ValueError(f"schedule names unknown partners: {', '.join(unknown)}")
        if self.hourly_profile is not None and (min(self.hourly_profile) < 0 or sum(self.hourly_profile) <= 0):
            raise ValueError("hourly_profile needs 24 non-negative weights, not all zero")
        if self.start.tzinfo is None:
            raise ValueError("start needs a time zone offset")
        problems = unknown_values(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self


# A value no applicant of the scenario can have is a typo that would silently change nothing.
AMOUNT_BANDS = frozenset(amount_band(yuan * 100) for yuan in (0, 10_000, 30_000, 50_000, 100_000))
AGE_BANDS = frozenset(age_band(age) for age in range(0, 130))


def _known_score_band(value: str) -> bool:
    low, _, high = value.partition("-")
    return low.isdigit() and high.isdigit() and int(low) % 50 == 0 and int(high) == int(low) + 49


def _known(group: str, value: str, known: dict[str, set[str] | frozenset[str]]) -> bool:
    if value == "*":
        return True
    return _known_score_band(value) if group == "score" else value in known[group]


def unknown_values(sc: Scenario) -> list[str]:
    """Tier keys and feature values in the partners' rates and effects that no applicant can have."""
    tiers = set(sc.tiers) | {"*"}
    mixes: list[ApplicantMix | ApplicantTierMix] = [sc.mix, *sc.mix.by_tier.values()]
    known: dict[str, set[str] | frozenset[str]] = {
        "tier": tiers,
        "region": {r for m in mixes for r in (m.regions or {})} | {"*"},
        "channel": {c for m in mixes for c in (m.channels or {})} | {"*"},
        "amount": AMOUNT_BANDS | {"*"},
        "age": AGE_BANDS | {"*"},
    }
    problems = []
    for who, spec in [(p.id, p) for p in sc.partners] + [(f"schedule.{i}", c) for i, c in enumerate(sc.schedule)]:
        for name in ("bid_fen", "bid_rate", "accept_rate", "fund_rate"):
            value = getattr(spec, name)
            if isinstance(value, dict) and set(value) - tiers:
                problems.append(f"{who}.{name}: unknown tiers {sorted(set(value) - tiers)}")
    for where, keys in (("mix.by_tier", sc.mix.by_tier), ("mix.score", sc.mix.score)):
        if set(keys) - tiers:
            problems.append(f"{where}: unknown tiers {sorted(set(keys) - tiers)}")
    for partner in sc.partners:
        for name in ("accept_effects", "fund_effects", "bid_effects"):
            for group, values in getattr(partner, name).items():
                bad = sorted(v for v in values if not _known(group, v, known))
                if bad:
                    problems.append(f"{partner.id}.{name}.{group}: no applicant has {bad}")
    return problems


ApplicantMix.model_rebuild()


class Appetite:
    """A partner's true base rates over time (the schedule applied), per tier."""

    def __init__(self, spec: SimPartner, changes: list[Change]) -> None:
        self.spec = spec
        self.changes = sorted(changes, key=lambda c: c.at_day)

    def at(self, tier: str, day: float) -> tuple[float, float, float, float]:
        """(bid_rate, mean bid, accept, fund) for the tier on that day."""
        s = self.spec
        bid_rate, bid = rate_for(s.bid_rate, tier, 1.0), float(s.mean_bid(tier))
        accept, fund = rate_for(s.accept_rate, tier), rate_for(s.fund_rate, tier)
        for c in self.changes:
            if day < c.at_day:
                break
            frac = 1.0 if c.until_day is None else min(1.0, (day - c.at_day) / (c.until_day - c.at_day))
            if c.bid_rate is not None:
                bid_rate = bid_rate + (rate_for(c.bid_rate, tier, bid_rate) - bid_rate) * frac
            if c.bid_fen is not None:
                new_bid = c.bid_fen.get(tier, c.bid_fen.get("*", bid)) if isinstance(c.bid_fen, dict) else c.bid_fen
                bid = bid + (new_bid - bid) * frac
            if c.accept_rate is not None:
                accept = accept + (rate_for(c.accept_rate, tier, accept) - accept) * frac
            if c.fund_rate is not None:
                fund = fund + (rate_for(c.fund_rate, tier, fund) - fund) * frac
        return bid_rate, bid, accept, fund


def effect(effects: Effects, features: dict[str, str]) -> float:
    m = 1.0
    for group, values in effects.items():
        m *= values.get(features.get(group, ""), values.get("*", 1.0))
    return m


def lognormal(rng: random.Random, sigma: float) -> float:
    return math.exp(rng.gauss(-0.5 * sigma * sigma, sigma)) if sigma else 1.0


def load_scenario(path: Path) -> Scenario:
    """The scenario file, each refusal as the config loader words it ("field.path: reason")."""
    return load_file(path, Scenario)
