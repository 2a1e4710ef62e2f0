"""The campaign budget, applied: every fen of a campaign's budget moves through this module.

- Offer reads what is left only to steer the policy and the pacer; it reserves nothing.
- Claim reserves the coupon's face value against the campaign total and against the local day's budget.
  This is where the budget holds: each reservation is a conditional upsert, so concurrent claims never
  overdraw either budget, on either engine.
- Redeem turns the reservation into spend.
- A refund turns the spend back into a reservation while the coupon is still valid; otherwise it gives
  the face value back to the total and to the day it was claimed on.
- Expiry gives back the reservations of coupons nobody used, and their days' commitments.

The arithmetic (what is left, the pacing horizon) is services/rewards/domain/budget.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.errors import QuotaExceeded
from services.rewards.config import Campaign
from services.rewards.domain.budget import Committed, Headroom, headroom
from services.rewards.store import budget as store


def left_for_offer(campaign: Campaign, committed: Committed) -> Headroom:
    """What is left of the campaign's total and of today's budget, as the Offer's snapshot read it.
    Advisory: concurrent claims may take it first, and Claim refuses then."""
    return headroom(campaign.budget, committed)


async def reserve(conn: AsyncConnection, dialect: str, campaign: Campaign, face: int, day: str) -> None:
    """Reserves a claimed coupon's face value against the total, then against the local day's budget.

    The store's upsert creates a missing row without checking, hence the face-value guards first.
    """
    limits, subject = campaign.budget, f"campaign/{campaign.id}"
    if face > limits.total_fen or not await store.reserve_total(conn, dialect, campaign.id, face, limits.total_fen):
        raise QuotaExceeded("BUDGET_EXHAUSTED", "the campaign budget is used up", subject=subject)
    if face > limits.daily_fen or not await store.reserve_day(conn, dialect, campaign.id, day, face, limits.daily_fen):
        raise QuotaExceeded("DAILY_BUDGET_EXHAUSTED", "today's campaign budget is used up", subject=f"{subject}/{day}")


async def spend(conn: AsyncConnection, campaign_id: str, face: int) -> None:
    """A redeemed coupon: its reservation becomes spend."""
    await store.move(conn, campaign_id, -face, face)


async def unspend(conn: AsyncConnection, campaign_id: str, face: int, claim_day: str, *, still_valid: bool) -> None:
    """A refunded order: its coupon's spend is reserved again while the coupon can still be used,
    otherwise it goes back to the total and to the day the coupon was claimed on."""
    if still_valid:
        await store.move(conn, campaign_id, face, -face)
    else:
        await store.move(conn, campaign_id, 0, -face)
        await store.release_day(conn, campaign_id, claim_day, face)


async def release_expired(session: AsyncSession, expired: Iterable[tuple[str, str, int]]) -> None:
    """Gives back the reservations of expired coupons, given as (campaign id, claim day, face value):
    one statement per campaign and per campaign day, in a fixed order (the lock order)."""
    per_campaign: dict[str, int] = defaultdict(int)
    per_day: dict[tuple[str, str], int] = defaultdict(int)
    for campaign_id, day, face in expired:
        per_campaign[campaign_id] += face
        per_day[(campaign_id, day)] += face
    for campaign_id, face in sorted(per_campaign.items()):
        await store.move(session, campaign_id, -face, 0)
    for (campaign_id, day), face in sorted(per_day.items()):
        await store.release_day(session, campaign_id, day, face)
