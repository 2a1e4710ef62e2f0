"""Campaign report: spend vs budget, the funnel per arm × segment, and uplift against the holdout."""

from __future__ import annotations

from sqlalchemy import Float, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.rewards import store
from services.rewards.config import Campaign
from services.rewards.domain import holdout, uplift
from services.rewards.models import Assignment, Coupon, Decision, Redemption
from skylane.common.v1 import types_pb2
from skylane.rewards.v1 import rewards_pb2


def _interval(e: uplift.Estimate) -> rewards_pb2.Interval:
    return rewards_pb2.Interval(estimate=e.point, low=e.low, high=e.high, defined=e.defined)


def _group(g: uplift.GroupStats) -> rewards_pb2.GroupOutcome:
    return rewards_pb2.GroupOutcome(
        customers=g.customers, payment_active=g.active, payment_active_rate=g.rate, value_per_customer_fen=g.mean_value
    )


async def group_stats(session: AsyncSession, campaign_id: str) -> dict[str, uplift.GroupStats]:
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
    out = {g: uplift.GroupStats(0, 0, 0.0, 0.0) for g in (holdout.HOLDOUT, holdout.TREATMENT)}
    for grp, n, active, value, sq in rows.all():
        out[str(grp)] = uplift.GroupStats(int(n), int(active or 0), float(value or 0), float(sq or 0))
    return out


async def campaign_report(session: AsyncSession, campaign: Campaign, day: str) -> rewards_pb2.CampaignReport:
    reserved, spent, today = await store.budget_committed(session, campaign.id, day)
    funnel: dict[tuple[str, str], rewards_pb2.FunnelRow] = {}
    offered = await session.execute(
        select(Decision.arm_id, Decision.segment, func.count(), func.sum(case((Decision.claimed, 1), else_=0)))
        .where(Decision.campaign_id == campaign.id, Decision.outcome == "OFFERED")
        .group_by(Decision.arm_id, Decision.segment)
    )
    for arm, seg, n, claims in offered.all():
        funnel[(arm, seg)] = rewards_pb2.FunnelRow(arm_id=arm, segment=seg, offers=int(n), claims=int(claims or 0))
    redeemed = await session.execute(
        select(
            Coupon.arm_id,
            Coupon.segment,
            func.count(),
            func.sum(Redemption.amount_fen),
            func.sum(Redemption.discount_fen),
        )
        .join(Coupon, Coupon.id == Redemption.coupon_id)
        .where(Redemption.campaign_id == campaign.id, Redemption.refunded.is_(False))
        .group_by(Coupon.arm_id, Coupon.segment)
    )
    for arm, seg, n, gmv, disc in redeemed.all():
        row = funnel.setdefault((arm, seg), rewards_pb2.FunnelRow(arm_id=arm, segment=seg))
        row.redemptions = int(n)
        row.gmv.fen = int(gmv or 0)
        row.spend.fen = int(disc or 0)
    groups = await group_stats(session, campaign.id)
    t, c = groups[holdout.TREATMENT], groups[holdout.HOLDOUT]
    return rewards_pb2.CampaignReport(
        campaign_id=campaign.id,
        budget_total=types_pb2.Money(fen=campaign.budget.total_fen),
        budget_daily=types_pb2.Money(fen=campaign.budget.daily_fen),
        spent=types_pb2.Money(fen=spent),
        reserved=types_pb2.Money(fen=reserved),
        today_committed=types_pb2.Money(fen=today),
        funnel=[funnel[k] for k in sorted(funnel)],
        uplift=rewards_pb2.Uplift(
            treated=_group(t),
            holdout=_group(c),
            active_rate_ratio=_interval(uplift.rate_ratio(t, c)),
            active_rate_difference=_interval(uplift.rate_difference(t, c)),
            value_ratio=_interval(uplift.value_ratio(t, c)),
            value_difference_fen=_interval(uplift.value_difference(t, c)),
        ),
    )
