"""What the running policy learned, as far as it is durable: outcomes rebuilt from the decisions, and λ
flushed per campaign."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, and_, case, cast, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from services.common.db import insert_ignoring_conflicts
from services.rewards.models import Coupon, Decision, PolicyStateRow, Redemption
from services.rewards.store.decisions import PASSED_OVER


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


async def passed_over(session: AsyncSession, dialect: str, window_days: float) -> tuple[list[Any], list[Any]]:
    """What the passed-over visits taught (domain/policy.py, Untreated), aggregated in SQL: (campaign, segment,
    visits, visits that paid) of the policy's passes made before the campaign first offered the customer
    a coupon, and (campaign, segment, whole hours from the visit to that first offer, visits) of those
    that had not paid when that offer came within the window."""
    offer = aliased(Decision)
    same = and_(
        offer.customer_ref == Decision.customer_ref,
        offer.campaign_id == Decision.campaign_id,
        offer.outcome == "OFFERED",
    )
    first_offer = select(func.min(offer.decided_at)).where(same, offer.decided_at > Decision.decided_at)
    passes = (
        select(
            Decision.campaign_id,
            Decision.segment,
            Decision.converted,
            Decision.decided_at,
            first_offer.scalar_subquery().label("first_offer"),
        )
        .where(
            Decision.outcome == "NOT_OFFERED",
            Decision.reason.in_(PASSED_OVER),
            Decision.wave == 0,
            ~select(offer.id).where(same, offer.decided_at <= Decision.decided_at).exists(),
        )
        .subquery()
    )
    counted = await session.execute(
        select(
            passes.c.campaign_id, passes.c.segment, func.count(), func.sum(case((passes.c.converted, 1), else_=0))
        ).group_by(passes.c.campaign_id, passes.c.segment)
    )
    age = _epoch_hours(dialect, passes.c.first_offer) - _epoch_hours(dialect, passes.c.decided_at)
    hour = _whole(dialect, age)
    censored = await session.execute(
        select(passes.c.campaign_id, passes.c.segment, hour, func.count())
        .where(passes.c.converted.is_(False), passes.c.first_offer.is_not(None), age < 24.0 * window_days)
        .group_by(passes.c.campaign_id, passes.c.segment, hour)
    )
    return list(counted.all()), list(censored.all())


def _whole(dialect: str, hours: Any) -> Any:
    """Whole hours of a non-negative number of hours, as SQL (PostgreSQL's cast rounds, SQLite's truncates)."""
    if dialect == "postgresql":
        return cast(func.floor(hours), Integer)
    return cast(hours, Integer)


def _epoch_hours(dialect: str, at: Any) -> Any:
    """Hours since the epoch of a stored UTC time, as SQL (times are stored without a zone on both engines)."""
    if dialect == "postgresql":
        return func.extract("epoch", at) / 3600.0
    return (func.julianday(at) - 2440587.5) * 24.0


def _claim_hour(dialect: str, at: Any) -> Any:
    """The whole hour since the epoch a stored UTC time falls in, as SQL: the claim clock's bucket.

    Whole seconds first, so a time on the hour lands in that hour exactly as ``int(hours)`` does in Python
    (a floating julianday can sit a hair below it)."""
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", at) / 3600), BigInteger)
    return cast(func.strftime("%s", at), Integer) / 3600  # integer division: seconds are never negative here


async def claim_clocks(session: AsyncSession, dialect: str) -> tuple[list[Any], list[Any], list[Any]]:
    """What the claim clocks are rebuilt from, for the policy's own coupons (not fallback ones), aggregated
    in SQL so the read costs one row per campaign and claim hour whatever the number of coupons:
    (campaign, claim hour, claims still pending, latest claim time) of the coupons still claimed,
    (campaign, redemptions not refunded, hours they took together, latest redemption time), and
    (campaign, coupons expired, latest claim time among them): the latest times set the clock's "now"."""
    own = Coupon.is_fallback.is_(False)
    hour = _claim_hour(dialect, Coupon.claimed_at)
    pending = await session.execute(
        select(Coupon.campaign_id, hour, func.count(), func.max(Coupon.claimed_at))
        .where(own, Coupon.state == "CLAIMED")
        .group_by(Coupon.campaign_id, hour)
    )
    # A redemption stamped before its claim (clock skew) took no time, as the live clock counts it.
    took = _epoch_hours(dialect, Redemption.redeemed_at) - _epoch_hours(dialect, Coupon.claimed_at)
    # A refunded redemption no longer counts, but the clock saw its moment: it still sets the clock's "now".
    counted = and_(Coupon.state == "REDEEMED", Redemption.refunded.is_(False))
    redeemed = await session.execute(
        select(
            Coupon.campaign_id,
            func.sum(case((counted, 1), else_=0)),
            func.sum(case((and_(counted, took > 0), took), else_=0.0)),
            func.max(Redemption.redeemed_at),
        )
        .join(Redemption, Redemption.coupon_id == Coupon.id)
        .where(own)
        .group_by(Coupon.campaign_id)
    )
    expired = await session.execute(
        select(Coupon.campaign_id, func.count(), func.max(Coupon.claimed_at))
        .where(own, Coupon.state == "EXPIRED")
        .group_by(Coupon.campaign_id)
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
