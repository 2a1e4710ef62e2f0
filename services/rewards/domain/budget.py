"""The campaign budget's arithmetic: what is left of a campaign's total and of today's budget, and the
time the pacer spreads each of them over.

Where the budget is applied — reserved by Claim, spent by Redeem, given back by a refund or by expiry —
is services/rewards/service/budget.py; the store makes each of those moves one conditional statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from services.rewards.config import Budget


@dataclass(frozen=True)
class Committed:
    """A campaign's budget counters as stored."""

    reserved_fen: int  # face value of claimed coupons not yet redeemed, expired or refunded
    spent_fen: int  # face value of redeemed coupons
    today_fen: int  # face value claimed against the current local day's budget


@dataclass(frozen=True)
class Headroom:
    total_fen: int  # what is left of the campaign total
    today_fen: int  # what is left of today's budget

    @property
    def claimable_fen(self) -> int:
        """The largest face value a claim could still reserve: both budgets must have room for it."""
        return min(self.total_fen, self.today_fen)


def headroom(budget: Budget, committed: Committed) -> Headroom:
    return Headroom(
        budget.total_fen - committed.reserved_fen - committed.spent_fen,
        budget.daily_fen - committed.today_fen,
    )


def pacing_horizon(end: datetime, now: datetime, tz: ZoneInfo) -> tuple[float, float]:
    """Seconds left in the campaign and in the local day: the pacer spreads each budget over its own."""
    midnight = datetime.combine(now.astimezone(tz).date() + timedelta(days=1), datetime.min.time(), tz)
    return (end - now).total_seconds(), (midnight - now).total_seconds()
