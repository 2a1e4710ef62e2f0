"""What the running policy learned, as far as it is durable: outcomes rebuilt from the decisions, and λ
flushed per campaign."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_ignoring_conflicts
from services.rewards.models import Coupon, Decision, PolicyStateRow, Redemption


async def learned_outcomes(session: AsyncSession) -> list[Any]:
    """(campaign, segment, arm, outcome, trials, successes, claims, expired) of the policy's own
    decisions (wave 0).

    An offer converted when its coupon is redeemed (and not refunded); a holdout decision when
    RecordPayment marked it converted. Claims and expiries let a pending claim count at the rate claims
    redeem, as the running policy does.
    """
    won = or_(and_(Decision.outcome == "HOLDOUT", Decision.converted), Coupon.state == "REDEEMED")
    rows = await session.execute(
        select(
            Decision.campaign_id,
            Decision.segment,
            Decision.arm_id,
            Decision.outcome,
            func.count(),
            func.sum(case((won, 1), else_=0)),
            func.count(Coupon.id),
            func.sum(case((Coupon.state == "EXPIRED", 1), else_=0)),
        )
        .outerjoin(Coupon, Coupon.decision_id == Decision.id)
        .where(Decision.outcome.in_(["OFFERED", "HOLDOUT"]), Decision.wave == 0)
        .group_by(Decision.campaign_id, Decision.segment, Decision.arm_id, Decision.outcome)
    )
    return list(rows.all())


async def claim_clocks(session: AsyncSession) -> tuple[list[Any], list[Any], list[Any]]:
    """What the claim clocks are rebuilt from, for the policy's own coupons (not fallback ones):
    (campaign, claimed at) of each coupon still claimed, (campaign, claimed at, redeemed at) of each
    redemption not refunded, and (campaign, count) of the coupons expired."""
    own = Coupon.is_fallback.is_(False)
    pending = await session.execute(select(Coupon.campaign_id, Coupon.claimed_at).where(own, Coupon.state == "CLAIMED"))
    redeemed = await session.execute(
        select(Coupon.campaign_id, Coupon.claimed_at, Redemption.redeemed_at)
        .join(Redemption, Redemption.coupon_id == Coupon.id)
        .where(own, Coupon.state == "REDEEMED", Redemption.refunded.is_(False))
    )
    expired = await session.execute(
        select(Coupon.campaign_id, func.count()).where(own, Coupon.state == "EXPIRED").group_by(Coupon.campaign_id)
    )
    return list(pending.all()), list(redeemed.all()), list(expired.all())


async def lambdas(session: AsyncSession) -> list[tuple[str, float]]:
    rows = await session.execute(select(PolicyStateRow.campaign_id, PolicyStateRow.lam))
    return [(str(campaign_id), float(lam)) for campaign_id, lam in rows.all()]


async def save_lambda(session: AsyncSession, dialect: str, campaign_id: str, lam: float, now: datetime) -> None:
    done = await session.execute(
        update(PolicyStateRow).where(PolicyStateRow.campaign_id == campaign_id).values(lam=lam, updated_at=now)
    )
    if int(done.rowcount) == 0:  # type: ignore[attr-defined]
        await session.execute(
            insert_ignoring_conflicts(dialect, PolicyStateRow.__table__).values(
                campaign_id=campaign_id, lam=lam, updated_at=now
            )
        )
