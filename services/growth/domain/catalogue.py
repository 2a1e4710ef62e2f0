"""Which rights a member may redeem: the level floor, the quota of the member's level, stock and price."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from services.growth.config import GrowthConfig, Quota, RightDef
from services.growth.domain import calendar


def quota_for(right: RightDef, level_id: str) -> Quota | None:
    """A level's own quota when the right sets one, else the right's general quota (None: unlimited)."""
    return right.level_quotas.get(level_id, right.quota)


def level_allows(cfg: GrowthConfig, right: RightDef, level_index: int) -> bool:
    return level_index >= cfg.level_index(right.min_level)


@dataclass(frozen=True)
class Holder:
    """What a member's eligibility depends on: effective level, available points, quota used so far."""

    level_index: int
    points_available: int
    quota_used: Mapping[tuple[str, str], int]  # (right id, period key) → redemptions counted


@dataclass(frozen=True)
class RightView:
    right: RightDef
    stock_left: int
    eligible: bool
    reason: str
    quota_left: int  # -1: no quota applies


def view(
    cfg: GrowthConfig, right: RightDef, stock_used: int, holder: Holder | None, now: datetime, tz: ZoneInfo
) -> RightView:
    """One catalogue line; without a holder every right is shown as eligible.

    Refusals are checked in a fixed order (level, quota, stock, points) so a member sees the first
    reason that applies.
    """
    left = max(0, right.stock - stock_used)
    if holder is None:
        return RightView(right, left, True, "", -1)
    quota_left = -1
    quota = quota_for(right, cfg.levels.tiers[holder.level_index].id)
    if quota is not None:
        key = calendar.period_key(quota.period, now, tz)
        quota_left = max(0, quota.count - holder.quota_used.get((right.id, key), 0))
    reason = ""
    if not level_allows(cfg, right, holder.level_index):
        reason = "LEVEL_NOT_ELIGIBLE"
    elif quota_left == 0:
        reason = "QUOTA_EXCEEDED"
    elif left == 0:
        reason = "OUT_OF_STOCK"
    elif holder.points_available < right.points_price:
        reason = "INSUFFICIENT_POINTS"
    return RightView(right, left, reason == "", reason, quota_left)
