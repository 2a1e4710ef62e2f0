"""Input checks of the growth RPCs: one field violation per bad field, nothing recorded on any."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from google.protobuf import timestamp_pb2

from services.common.errors import Violations
from services.common.validation import check_customer_ref
from services.growth.config import GrowthConfig
from services.growth.domain.awards import ActivityIn
from skylane.common.v1 import types_pb2
from skylane.growth.v1 import growth_pb2

MAX_POINTS = 1_000_000_000
MAX_ATTRIBUTES = 50
MAX_CURSOR = 2**63 - 1  # page tokens are transaction ids: 64-bit integer keys
_DIGITS = re.compile(r"[0-9]{1,19}")


def from_ts(value: timestamp_pb2.Timestamp) -> datetime:
    return value.ToDatetime(tzinfo=UTC)


def customer(v: Violations, ref: types_pb2.CustomerRef, path: str = "customer.ref") -> str:
    check_customer_ref(v, ref.ref, path)
    return ref.ref


def optional_customer(v: Violations, ref: types_pb2.CustomerRef) -> str | None:
    """A customer filter: None when the request leaves it empty."""
    return customer(v, ref) if ref.ref else None


def text(v: Violations, value: str, path: str, limit: int, *, required: bool = True) -> None:
    if required and not value.strip():
        v.add(path, "required")
    elif len(value) > limit:
        v.add(path, f"at most {limit} characters")


def points(v: Violations, value: int, path: str = "points") -> None:
    if value <= 0:
        v.add(path, "must be a positive number of points")
    elif value > MAX_POINTS:
        v.add(path, f"at most {MAX_POINTS}")


def ident(v: Violations, value: str, path: str) -> None:
    if not value:
        v.add(path, "required")
    elif len(value) > 64 or not value.isascii():
        v.add(path, "must be at most 64 ASCII characters")


def referrer(v: Violations, request: growth_pb2.EnrollMemberRequest, member: str) -> str:
    ref = request.referrer.ref
    if request.HasField("referrer"):
        check_customer_ref(v, ref, "referrer.ref")
        v.check(ref != member, "referrer.ref", "a member cannot refer themselves")
    return ref


def activity(
    v: Violations, activity: growth_pb2.Activity, cfg: GrowthConfig, known_type: bool, now: datetime
) -> ActivityIn:
    """The activity as the use case takes it; `known_type`: some task listens to its type."""
    text(v, activity.source, "activity.source", 64)
    text(v, activity.id, "activity.id", 128)
    if not activity.type:
        v.add("activity.type", "required")
    elif not known_type:
        v.add("activity.type", f"unknown event type {activity.type[:64]!r}")
    occurred = _occurred_at(v, activity, cfg, now)
    if len(activity.attributes) > MAX_ATTRIBUTES:
        v.add("activity.attributes", f"at most {MAX_ATTRIBUTES} attributes")
    elif any(len(k) > 64 or len(val) > 256 for k, val in activity.attributes.items()):
        v.add("activity.attributes", "keys at most 64 and values at most 256 characters")
    return ActivityIn(activity.source, activity.id, activity.type, occurred, dict(activity.attributes))


def _occurred_at(v: Violations, activity: growth_pb2.Activity, cfg: GrowthConfig, now: datetime) -> datetime:
    """When the event happened: within the allowed clock skew of now and not older than the event age."""
    if not activity.HasField("occurred_at"):
        v.add("activity.occurred_at", "required")
        return now
    occurred = from_ts(activity.occurred_at)
    if occurred > now + timedelta(seconds=cfg.max_clock_skew_seconds):
        v.add("activity.occurred_at", f"in the future beyond {cfg.max_clock_skew_seconds}s of clock skew")
    elif occurred < now - timedelta(days=cfg.max_event_age_days):
        v.add("activity.occurred_at", f"older than {cfg.max_event_age_days} days")
    return occurred


def page_before(v: Violations, token: str) -> int | None:
    """The history position a page token names (None: the newest page).

    A token is a transaction id, so only a positive int64 is one: a larger number would overflow the
    database's integer parameter and fail as INTERNAL instead of being refused here."""
    if not token:
        return None
    # ASCII digits only (str.isdigit also takes "²", which int() refuses), and no more than an int64 has.
    position = int(token) if _DIGITS.fullmatch(token) else 0
    if not 0 < position <= MAX_CURSOR:
        v.add("page.page_token", "not a token from a previous page")
        return None
    return position


def ttl(v: Violations, seconds: int, cfg: GrowthConfig) -> None:
    if seconds < 0 or seconds > cfg.holds.max_ttl_seconds:
        v.add("ttl_seconds", f"must be between 0 and {cfg.holds.max_ttl_seconds}")


def transaction_id(v: Violations, value: str) -> None:
    if not value.isdigit() or len(value) > 18:
        v.add("transaction_id", "must be a transaction id")


def override(v: Violations, request: growth_pb2.SetLevelOverrideRequest, cfg: GrowthConfig, now: datetime) -> None:
    if request.level not in {lv.id for lv in cfg.levels.tiers}:
        v.add("level", "unknown level")
    text(v, request.reason, "reason", 500)
    text(v, request.operator, "operator", 128)
    if not request.HasField("until"):
        v.add("until", "required")
    elif from_ts(request.until) <= now:
        v.add("until", "must be in the future")


def list_events(v: Violations, request: growth_pb2.ListEventsRequest) -> None:
    v.check(request.after_sequence >= 0, "after_sequence", "must not be negative")
    v.check(0 <= request.limit <= 1000, "limit", "must be between 0 and 1000")
