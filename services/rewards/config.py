"""Typed schema of config/rewards.yaml: scenes, segments, contact policy, allocation policy, campaigns.

Everything a bad edit could get wrong is refused at load (the running version stays): arms whose
discount is not below their threshold, a daily budget above the total, unknown scenes or fallback arms,
overlapping ids, windows that end before they start.
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import Field, field_validator, model_validator

from services.common.config import Schema, TimeZoneName, duplicate_ids, refuse, unknown_names
from services.common.event_config import EventsConfig

_ID = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class Range(Schema):
    """Inclusive bounds on a numeric tag; a missing bound is open."""

    min: int | None = None
    max: int | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min must not exceed max")
        return self


class TagRule(Schema):
    """A conjunction of conditions on the customer's big-data tags; empty lists/None match everyone."""

    asset_tiers: list[str] = Field(default_factory=list)
    age: Range | None = None
    payment_interests: list[str] = Field(default_factory=list)  # any of these
    channels: list[str] = Field(default_factory=list)  # preferred contact channel is one of these
    monthly_payment_count: Range | None = None
    monthly_payment_fen: Range | None = None
    # Kept from the peers' event streams (docs/events.md): the customer's growth level is one of these (a
    # customer growth never reported has none), and the router's latest verdict, its destination or tier,
    # is none of these (e.g. [DECLINED]: keep customers the router turned down out of marketing).
    growth_levels: list[str] = Field(default_factory=list)
    excluded_risk: list[str] = Field(default_factory=list)


class Segment(Schema):
    """A learning cell: response per arm is learned separately for each segment (first match wins)."""

    id: str = Field(pattern=_ID)
    when: TagRule = Field(default_factory=TagRule)
    value_fen: int | None = Field(default=None, ge=0)  # overrides the campaign's conversion value


class Arm(Schema):
    """One coupon variant: spend X (threshold) get Y (discount) off, valid for some days after claim."""

    id: str = Field(pattern=_ID)
    threshold_fen: int = Field(gt=0)
    discount_fen: int = Field(gt=0)
    validity_days: int = Field(default=7, ge=1, le=90)

    @model_validator(mode="after")
    def _discount_below_threshold(self) -> Arm:
        if self.discount_fen >= self.threshold_fen:
            raise ValueError(
                f"arm {self.id}: discount_fen ({self.discount_fen}) must be below threshold_fen ({self.threshold_fen})"
            )
        return self


class Budget(Schema):
    total_fen: int = Field(gt=0)
    daily_fen: int = Field(gt=0)

    @model_validator(mode="after")
    def _daily_within_total(self) -> Budget:
        if self.daily_fen > self.total_fen:
            raise ValueError(f"daily_fen ({self.daily_fen}) exceeds total_fen ({self.total_fen})")
        return self


class Fallback(Schema):
    """The 兜底 offer for customers who claimed and did not redeem."""

    arm: str
    delay_hours: int = Field(default=72, ge=1)
    waves: int = Field(default=1, ge=1, le=5)
    wave_interval_hours: int = Field(default=48, ge=1)


class Campaign(Schema):
    id: str = Field(pattern=_ID)
    name: str = ""
    scenes: list[str] = Field(min_length=1)
    merchants: list[str] = Field(default_factory=list)  # empty: every merchant in the scenes
    start: datetime
    end: datetime
    budget: Budget
    eligibility: TagRule = Field(default_factory=TagRule)
    arms: list[Arm] = Field(min_length=1)
    holdout_share: float = Field(default=0.1, ge=0.0, le=0.5)
    claims_per_customer: int = Field(default=1, ge=1)
    conversion_value_fen: int = Field(gt=0)  # value of one incremental conversion (payment made)
    offer_ttl_hours: int = Field(default=24, ge=1)  # how long an offer can still be claimed
    fallback: Fallback | None = None
    # Which touch wins when several of a customer's are due at once and the caps leave room for fewer:
    # the higher priority first, ties by campaign id (docs/rewards.md, contact policy).
    priority: int = Field(default=0, ge=-1000, le=1000)

    @model_validator(mode="after")
    def _consistent(self) -> Campaign:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end need a UTC offset, e.g. 2026-01-01T00:00:00+08:00")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        ids = [a.id for a in self.arms]
        problems = duplicate_ids("arms", ids, "arm")
        if self.fallback is not None:
            problems += unknown_names("fallback.arm", [self.fallback.arm], ids, "arm")
        refuse(problems)
        if min(a.discount_fen for a in self.arms) > self.budget.daily_fen:
            raise ValueError("budget.daily_fen is smaller than the cheapest arm's discount")
        return self

    def arm(self, arm_id: str) -> Arm | None:
        return next((a for a in self.arms if a.id == arm_id), None)


_EVENT = re.compile(r"^(outside|rewards|growth|router)\.[a-z][a-z0-9_]{0,63}$")


def _check_event(value: str) -> str:
    if not _EVENT.match(value):
        raise ValueError(
            f"{value!r}: name an event as <source>.<type>: outside.<type> (an ingested outside event) or "
            "rewards.<type>, growth.<type>, router.<type> (a service's domain event)"
        )
    return value


def empty_window(where: str, start: str, end: str) -> list[str]:
    """[start, start) holds no time at all, though it may have been meant as the whole day: refused."""
    if start != end:
        return []
    return [f"{where}: start and end are both {start!r}, a window of no time (give two different times)"]


class LocalWindow(Schema):
    """Local times [start, end) of the customer's day when a triggered touch may be made (may wrap midnight)."""

    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError("must be HH:MM (24-hour)")
        return value


class RiskScreen(Schema):
    """Who a trigger never contacts: the router's latest verdict in the last `within_days` days names one of
    `exclude` (a destination, a tier or a reason code), or an outside event of a `flags` type arrived in
    that time. Runs before the holdout split; screened-out customers are counted."""

    exclude: list[str] = Field(default_factory=lambda: ["DECLINED"])
    within_days: int = Field(default=30, ge=1, le=3650)
    flags: list[str] = Field(default_factory=list)  # outside event types, e.g. risk_flagged


class AfterEvent(Schema):
    """A window relative to another event of the customer: the trigger's event counts only on local days
    `from_day` to `to_day` after the customer's latest `event` (day 0 is that event's local day), e.g. days
    1-7 after `outside.account_opened`."""

    event: str
    from_day: int = Field(default=0, ge=0, le=3650)
    to_day: int = Field(ge=0, le=3650)

    @field_validator("event")
    @classmethod
    def _event(cls, value: str) -> str:
        return _check_event(value)

    @model_validator(mode="after")
    def _ordered(self) -> AfterEvent:
        if self.to_day < self.from_day:
            raise ValueError("to_day must not be before from_day")
        return self


class Trigger(Schema):
    """An event-triggered touch: on `event` (with `data` fields equal and `when` met), the customer enters
    the journey and, `delay_minutes` later and inside `window` of their local day, is offered the campaign's
    `arm` as wave `wave`. Exit events end a journey at once, whatever it is waiting for."""

    id: str = Field(pattern=_ID)
    campaign: str
    wave: int = Field(default=1, ge=1, le=4)  # 1 entry, 2 after a redemption, 3 fallback, 4 follow-up list
    event: str
    data: dict[str, str] = Field(default_factory=dict)  # the event's data fields that must equal these
    when: TagRule = Field(default_factory=TagRule)  # growth_levels / excluded_risk: what events tell us
    delay_minutes: int = Field(default=0, ge=0, le=60 * 24 * 90)
    window: LocalWindow | None = None
    validity_hours: int = Field(default=24, ge=1, le=24 * 90)  # how long a capped touch is deferred
    reentry_days: int | None = Field(default=None, ge=0)  # None: once; N: again N days after the last entry
    exit_on: list[str] = Field(default_factory=list)
    arm: str = ""  # default: the campaign's first arm (not used by wave 4)
    next_product: str = ""  # wave 2: the product the touch pushes (e.g. wealth-first-purchase)
    risk: RiskScreen | None = None
    after: AfterEvent | None = None  # only on these local days after another event of the customer

    @field_validator("event")
    @classmethod
    def _event(cls, value: str) -> str:
        return _check_event(value)

    @field_validator("exit_on")
    @classmethod
    def _exits(cls, value: list[str]) -> list[str]:
        return [_check_event(v) for v in value]

    @model_validator(mode="after")
    def _only_event_conditions(self) -> Trigger:
        known = {"growth_levels", "excluded_risk"}
        asked = {k for k, v in self.when.model_dump().items() if v not in (None, [])}
        if asked - known:
            raise ValueError(f"trigger {self.id}: `when` can use {sorted(known)} only, not {sorted(asked - known)}")
        if self.wave == 2 and not self.next_product:
            raise ValueError(f"trigger {self.id}: wave 2 names the next product to push (next_product)")
        if self.window is not None:
            refuse(empty_window("window", self.window.start, self.window.end))
        return self


class QuietHours(Schema):
    """Local times [start, end) when nobody is contacted; may wrap midnight (e.g. 21:00-09:00)."""

    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError("must be HH:MM (24-hour)")
        return value


class ContactPolicy(Schema):
    """Frequency control across all campaigns (seed 004: at most 3 a day and 5 a week): per_day in the
    customer's local calendar day, per_week in any 7 consecutive local days."""

    per_day: int = Field(default=3, ge=1)
    per_week: int = Field(default=5, ge=1)
    quiet_hours: QuietHours | None = None
    opt_out: list[str] = Field(default_factory=list)  # customer refs that ops opted out (plus SetOptOut)

    @model_validator(mode="after")
    def _week_holds_day(self) -> ContactPolicy:
        if self.per_week < self.per_day:
            raise ValueError("per_week must be at least per_day")
        if self.quiet_hours is not None:
            refuse(empty_window("quiet_hours", self.quiet_hours.start, self.quiet_hours.end))
        return self


class PolicyConfig(Schema):
    """Knobs of the allocation policy (Thompson sampling with λ pacing)."""

    # Share of choices made at random among the affordable arms, weighted by inverse face value. Small:
    # Thompson sampling already explores where posteriors overlap, and every random offer spends budget.
    exploration: float = Field(default=0.005, ge=0.0, le=0.5)
    # A segment's arm starts from its own baseline plus the arm's uplift pooled over every segment, with the
    # prior's weight (prior_alpha + prior_beta); off: every cell starts from the flat prior.
    pooling: bool = True
    prior_alpha: float = Field(default=1.0, gt=0)  # Beta prior of every arm's response rate
    prior_beta: float = Field(default=19.0, gt=0)
    # The no-coupon prior sits below the arms' so a cold campaign starts by trying coupons.
    baseline_prior_alpha: float = Field(default=1.0, gt=0)
    baseline_prior_beta: float = Field(default=39.0, gt=0)
    # Project the response so it never falls as the discount grows; off by default, because a bigger coupon
    # comes with a higher threshold and the data may show fewer customers reach it.
    monotone: bool = False
    lambda_initial: float = Field(default=1.0, ge=0)
    lambda_min: float = Field(default=0.05, gt=0)
    lambda_max: float = Field(default=50.0, gt=0)
    pacing_interval_seconds: int = Field(default=60, ge=1)  # how often λ is re-solved
    propensity_draws: int = Field(default=32, ge=4, le=1000)
    baseline_window_days: int = Field(default=7, ge=1)  # a holdout payment this soon counts as converted
    # Visits of customers the campaign never offered a coupon that the policy passes over teach the
    # no-coupon response too, each censored at the customer's first offer (docs/rewards-decisions.md).
    passed_over: bool = True
    # Thompson draws' spread shrinks as (share of the campaign still to come) ** this, so late offers stop
    # buying information nothing will use (docs/rewards-decisions.md); 0 keeps the posterior's own spread.
    horizon_tempering: float = Field(default=0.5, ge=0.0, le=4.0)
    # An arm read implausibly far below the chord between its neighbours' responses (a response that grows
    # with the discount at a falling rate) is read from that chord, allowing this much (probability) for the
    # curve bending the other way (docs/rewards-decisions.md); 0 turns the chord off.
    chord_allowance: float = Field(default=0.02, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _lambda_in_range(self) -> PolicyConfig:
        if not self.lambda_min <= self.lambda_max:
            raise ValueError(f"lambda_min ({self.lambda_min}) must not be above lambda_max ({self.lambda_max})")
        if not self.lambda_min <= self.lambda_initial <= self.lambda_max:
            raise ValueError(
                f"lambda_initial ({self.lambda_initial}) must lie within lambda_min ({self.lambda_min}) and "
                f"lambda_max ({self.lambda_max})"
            )
        return self


class RewardsConfig(Schema):
    timezone: TimeZoneName = "Asia/Shanghai"
    scenes: list[str] = Field(default_factory=lambda: ["mall", "supermarket", "restaurant", "travel"])
    contact: ContactPolicy = Field(default_factory=ContactPolicy)
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    segments: list[Segment] = Field(default_factory=list)
    campaigns: list[Campaign] = Field(default_factory=list)
    # Event retention and the peers whose streams rewards follows: growth (levels), router (risk verdicts).
    events: EventsConfig = Field(default_factory=EventsConfig)
    # Event-triggered journeys (docs/journeys.md).
    triggers: list[Trigger] = Field(default_factory=list)
    # How often the journeys pass looks for due touches that waited (a delay, a window, a cap); a touch due
    # at once is made with its entry. 0 turns the loop off (tests run passes themselves).
    journey_pass_seconds: float = Field(default=1.0, ge=0.0, le=3600.0)

    @model_validator(mode="after")
    def _references(self) -> RewardsConfig:
        problems = duplicate_ids("scenes", self.scenes, "scene", None)
        problems += duplicate_ids("campaigns", [c.id for c in self.campaigns], "campaign")
        seg_ids = [s.id for s in self.segments]
        problems += duplicate_ids("segments", seg_ids, "segment")
        problems += [
            f"segments.{i}.id: segment id 'other' is reserved for customers no segment matches"
            for i, seg_id in enumerate(seg_ids)
            if seg_id == "other"
        ]
        for i, c in enumerate(self.campaigns):
            problems += unknown_names(f"campaigns.{i}.scenes", c.scenes, self.scenes, "scene")
        problems += self._trigger_problems()
        refuse(problems)
        return self

    def _trigger_problems(self) -> list[str]:
        problems = duplicate_ids("triggers", [t.id for t in self.triggers], "trigger")
        campaigns = [c.id for c in self.campaigns]
        for i, t in enumerate(self.triggers):
            problems += unknown_names(f"triggers.{i}.campaign", [t.campaign], campaigns, "campaign")
            campaign = self.campaign(t.campaign)
            if t.arm and campaign is not None:
                problems += unknown_names(f"triggers.{i}.arm", [t.arm], [a.id for a in campaign.arms], "arm")
        return problems

    def campaign(self, campaign_id: str) -> Campaign | None:
        return next((c for c in self.campaigns if c.id == campaign_id), None)
