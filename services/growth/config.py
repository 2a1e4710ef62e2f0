"""Typed schema of config/growth.yaml: assets, expiry, tasks (earning rules), levels and rights."""

from __future__ import annotations

import re
from datetime import date
from itertools import pairwise
from typing import Literal

from pydantic import Field, field_validator, model_validator

from services.common.config import Schema, TimeZoneName, above, duplicate_ids, refuse, unknown_names
from services.common.event_config import EventsConfig, PeerName

_ID = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_MONTH_DAY = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


def _check_id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError(f"{value!r} must be lower_snake_case, 1-64 characters")
    return value


class ExpiryPolicy(Schema):
    """When points credited now expire."""

    mode: Literal["after_days", "end_of_month", "end_of_year", "never"] = "end_of_year"
    days: int = Field(default=365, ge=1)  # after_days only
    offset: int = Field(default=0, ge=0, le=10)  # end_of_month/year: that many periods later


class AssetPolicy(Schema):
    # "clawback": a reversal after the points were spent drives the balance negative and future
    # earnings pay the debt first. "refuse": such a reversal is refused (POINTS_ALREADY_SPENT).
    negative_balance: Literal["clawback", "refuse"] = "clawback"


class Assets(Schema):
    points: AssetPolicy = AssetPolicy()
    growth: AssetPolicy = AssetPolicy()


class Condition(Schema):
    attribute: str
    op: Literal["eq", "ne", "in", "not_in", "gte", "gt", "lte", "lt", "present"] = "eq"
    value: str | int | float | None = None
    values: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _operand(self) -> Condition:
        if self.op in ("in", "not_in") and not self.values:
            raise ValueError(f"op {self.op!r} needs 'values'")
        if self.op in ("eq", "ne", "gte", "gt", "lte", "lt") and self.value is None:
            raise ValueError(f"op {self.op!r} needs 'value'")
        if self.op in ("gte", "gt", "lte", "lt") and not isinstance(self.value, int | float):
            raise ValueError(f"op {self.op!r} needs a numeric 'value'")
        return self


class Caps(Schema):
    """How many times a task may award per member and period (None: unlimited)."""

    per_day: int | None = Field(default=None, ge=1)
    per_week: int | None = Field(default=None, ge=1)
    per_month: int | None = Field(default=None, ge=1)
    lifetime: int | None = Field(default=None, ge=1)


class PerUnit(Schema):
    """Points in proportion to a numeric attribute, e.g. 1 point per 10 yuan paid."""

    attribute: str
    per: int = Field(ge=1)
    points: int = Field(ge=1)
    max_points: int | None = Field(default=None, ge=1)


class Bonus(Schema):
    points: int = Field(default=0, ge=0)
    growth: int = Field(default=0, ge=0)


class Streak(Schema):
    """A bonus each time the member does the task on `days` consecutive local days."""

    days: int = Field(ge=2, le=366)
    bonus: Bonus


class Pending(Schema):
    """Points of this task stay pending for `days`, then `on_timeout` happens unless settled earlier."""

    days: int = Field(ge=1, le=365)
    on_timeout: Literal["confirm", "release"] = "confirm"


class Referral(Schema):
    """The activity's attribute `referrer_attribute` names the inviting member, who gets `bonus`."""

    referrer_attribute: str = "referrer"
    bonus: Bonus


class Task(Schema):
    id: str
    name: str = ""
    event_type: str
    points: int = Field(default=0, ge=0)
    growth: int = Field(default=0, ge=0)
    per_unit: PerUnit | None = None
    conditions: list[Condition] = Field(default_factory=list)
    caps: Caps = Caps()
    first_time_bonus: Bonus | None = None
    streak: Streak | None = None
    pending: Pending | None = None
    referral: Referral | None = None
    apply_level_multiplier: bool = True

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return _check_id(value)


class Level(Schema):
    id: str
    name: str = ""
    threshold: int = Field(ge=0)  # growth value in the window needed to hold this level
    points_multiplier: float = Field(default=1.0, ge=0.0, le=10.0)

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return _check_id(value)


class Levels(Schema):
    # rolling_12_months: the last 12 months; calendar_year: since 1 January; review_period: since the
    # previous review date. Upgrades are immediate; downgrades happen only at review dates.
    window: Literal["rolling_12_months", "calendar_year", "review_period"] = "rolling_12_months"
    review_dates: list[str] = Field(default_factory=lambda: ["01-01"])  # MM-DD, local time
    grace_days: int = Field(default=0, ge=0, le=365)
    one_down: bool = True  # at most one level down per review
    tiers: list[Level]

    @field_validator("review_dates")
    @classmethod
    def _dates(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one review date is needed")
        for item in value:
            if not _MONTH_DAY.match(item):
                raise ValueError(f"review date {item!r} must be MM-DD")
            if not _is_day(item, 2024):  # a leap year: the one 29 February may name
                raise ValueError(f"review date {item!r} is not a day of the year")
        # 02-29 is skipped in the years without it; a calendar of nothing else would have no review at all.
        if not any(_is_day(item, 2025) for item in value):
            raise ValueError("at least one review date must be a day of every year (not only 02-29)")
        return sorted(set(value))

    @field_validator("tiers")
    @classmethod
    def _ordered(cls, value: list[Level]) -> list[Level]:
        if not value:
            raise ValueError("at least one level is needed")
        if value[0].threshold != 0:
            raise ValueError("the first level must have threshold 0")
        for lower, higher in pairwise(value):
            if higher.threshold <= lower.threshold:
                raise ValueError("level thresholds must increase")
        refuse(duplicate_ids("", [lv.id for lv in value], "level"))
        return value


class Quota(Schema):
    count: int = Field(ge=1)
    period: Literal["day", "week", "month", "year", "lifetime"] = "year"


class RightDef(Schema):
    id: str
    name: str
    category: Literal["travel", "other"] = "travel"
    points_price: int = Field(ge=1)
    stock: int = Field(ge=0)  # total units ever available; raise it to restock
    min_level: str
    # Per-level quota overrides (e.g. gold: 2 a year, platinum: 4); `quota` applies to other levels.
    quota: Quota | None = None
    level_quotas: dict[str, Quota] = Field(default_factory=dict)
    validity_days: int = Field(default=90, ge=1)
    supplier: str = ""

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return _check_id(value)


class Holds(Schema):
    default_ttl_seconds: int = Field(default=900, ge=1)
    max_ttl_seconds: int = Field(default=7 * 86400, ge=1)
    redemption_ttl_seconds: int = Field(default=900, ge=1)

    @model_validator(mode="after")
    def _default_within_max(self) -> Holds:
        # A hold asked for without a TTL gets the default, so it must be one a caller could ask for.
        why = "the default must be at most the maximum"
        refuse(above("default_ttl_seconds", self.default_ttl_seconds, "max_ttl_seconds", self.max_ttl_seconds, why))
        return self


class Workers(Schema):
    interval_seconds: float = Field(default=30.0, gt=0)
    expiry_warning_days: int = Field(default=30, ge=1)
    batch_size: int = Field(default=500, ge=1)


def _default_activities() -> dict[PeerName, dict[str, str]]:
    return {
        "rewards": {"coupon_redeemed": "coupon_redeemed", "payment_recorded": "card_payment"},
        "router": {"loan_drawn": "loan_drawn"},
    }


class GrowthEvents(EventsConfig):
    """Growth's `events:` block: the common one, and which peer events earn as which activity."""

    # peer → {peer event type: growth activity type}. Such an event is recorded as that activity (source
    # "<peer>-events", id the event id, attributes the event's data) and earns what the tasks say.
    activities: dict[PeerName, dict[str, str]] = Field(default_factory=_default_activities)

    @field_validator("activities")
    @classmethod
    def _types(cls, value: dict[PeerName, dict[str, str]]) -> dict[PeerName, dict[str, str]]:
        for peer, mapping in value.items():
            if peer == "growth":
                raise ValueError("growth does not consume its own events")
            for activity in mapping.values():
                if not _ID.match(activity):
                    raise ValueError(f"{peer}: activity type {activity!r} must be lower_snake_case")
        return value


class GrowthConfig(Schema):
    timezone: TimeZoneName = "Asia/Shanghai"
    max_clock_skew_seconds: int = Field(default=300, ge=0)
    max_event_age_days: int = Field(default=90, ge=1)
    assets: Assets = Assets()
    expiry: ExpiryPolicy = ExpiryPolicy()
    holds: Holds = Holds()
    workers: Workers = Workers()
    levels: Levels = Levels(tiers=[Level(id="member", threshold=0)])
    tasks: list[Task] = Field(default_factory=list)
    rights: list[RightDef] = Field(default_factory=list)
    events: GrowthEvents = Field(default_factory=GrowthEvents)

    @model_validator(mode="after")
    def _references(self) -> GrowthConfig:
        levels = [lv.id for lv in self.levels.tiers]
        problems = duplicate_ids("tasks", [t.id for t in self.tasks], "task")
        problems += duplicate_ids("rights", [r.id for r in self.rights], "right")
        for i, right in enumerate(self.rights):
            problems += unknown_names(f"rights.{i}.min_level", [right.min_level], levels, "level")
            problems += unknown_names(f"rights.{i}.level_quotas", right.level_quotas, levels, "level")
            if right.min_level in levels:
                # A quota for a level that may not redeem the right at all would never be used.
                allowed = levels[levels.index(right.min_level) :]
                below = [lv for lv in right.level_quotas if lv in levels and lv not in allowed]
                problems += [
                    f"rights.{i}.level_quotas: level {lv!r} is below min_level {right.min_level!r} "
                    f"(levels that may redeem it: {', '.join(allowed)})"
                    for lv in below
                ]
        refuse(problems)
        return self

    def level_index(self, level_id: str) -> int:
        for i, lv in enumerate(self.levels.tiers):
            if lv.id == level_id:
                return i
        return 0

    def tasks_for(self, event_type: str) -> list[Task]:
        return [t for t in self.tasks if t.event_type == event_type]

    @property
    def event_types(self) -> set[str]:
        return {t.event_type for t in self.tasks}

    def right(self, right_id: str) -> RightDef | None:
        return next((r for r in self.rights if r.id == right_id), None)


def _is_day(month_day: str, year: int) -> bool:
    month, day = (int(part) for part in month_day.split("-"))
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True
