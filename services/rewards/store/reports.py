"""The campaign report's aggregates: the funnel per arm × segment and the outcome per holdout group."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.rewards.models import Assignment, Coupon, Decision, Redemption


async def offers_and_claims(session: AsyncSession, campaign_id: str) -> list[Any]:
    """(arm, segment, offers, claims) of the campaign's offers."""
    rows = await session.execute(
        select(Decision.arm_id, Decision.segment, func.count(), func.sum(case((Decision.claimed, 1), else_=0)))
        .where(Decision.campaign_id == campaign_id, Decision.outcome == "OFFERED")
        .group_by(Decision.arm_id, Decision.segment)
    )
    return list(rows.all())


async def redemptions(session: AsyncSession, campaign_id: str) -> list[Any]:
    """(arm, segment, redemptions, order amount, discount) of the campaign's redemptions not refunded."""
    rows = await session.execute(
        select(
            Coupon.arm_id,
            Coupon.segment,
            func.count(),
            func.sum(Redemption.amount_fen),
            func.sum(Redemption.discount_fen),
        )
        .join(Coupon, Coupon.id == Redemption.coupon_id)
        .where(Redemption.campaign_id == campaign_id, Redemption.refunded.is_(False))
        .group_by(Coupon.arm_id, Coupon.segment)
    )
    return list(rows.all())


async def groups(session: AsyncSession, campaign_id: str) -> list[Any]:
    """(group, customers, payment-active customers, value sum, sum of squared values) per holdout group."""
    rows = await session.execute(
        select(
            Assignment.grp,
            func.count(),
            func.sum(case((Assignment.payments > 0, 1), else_=0)),
            func.sum(Assignment.value_fen),
            func.sum(cast(Assignment.value_fen, Float) * cast(Assignment.value_fen, Float)),
        )
        .where(Assignment.campaign_id == campaign_id)
        .group_by(Assignment.grp)
    )
    return list(rows.all())


CONTACT_REASONS = ("OPTED_OUT", "QUIET_HOURS", "CONTACT_CAP_DAY", "CONTACT_CAP_WEEK")


async def requested_fates(session: AsyncSession, campaign_id: str) -> list[Any]:
    """(outcome, reason, count) of the campaign's requested offers that were shown or that the contact
    policy refused (fallback waves, wave > 0, are counted by their own fates)."""
    rows = await session.execute(
        select(Decision.outcome, Decision.reason, func.count())
        .where(
            Decision.campaign_id == campaign_id,
            Decision.wave == 0,
            (Decision.outcome == "OFFERED") | Decision.reason.in_(CONTACT_REASONS),
        )
        .group_by(Decision.outcome, Decision.reason)
    )
    return list(rows.all())
