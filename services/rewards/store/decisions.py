"""Decisions: every Offer answer and every fallback wave, recorded with what the policy knew, and the
offers' claimed and converted flags."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, false, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.point_reads import ReadSession
from services.rewards.store.tables import assignments, decisions, moment, param

_d, _a = decisions.c, assignments.c

_INSERT = decisions.insert()
_CLAIM = (
    update(decisions)
    .where(
        _d.id == param("p_id"),
        _d.outcome == "OFFERED",
        _d.customer_ref == param("p_customer"),
        _d.claimed == false(),
        or_(_d.claim_by.is_(None), _d.claim_by > moment("p_now")),
    )
    .values(claimed=True)
    .returning(_d.campaign_id, _d.arm_id, _d.segment, _d.wave)
)
_FOR_CLAIM = select(_d.id, _d.outcome, _d.customer_ref, _d.campaign_id, _d.arm_id, _d.claim_by).where(
    _d.id == param("p_id")
)
_CONVERT_HOLDOUT = (
    update(decisions)
    .where(
        and_(
            _d.customer_ref == param("p_customer"),
            _d.campaign_id.in_(param("p_campaigns", expanding=True)),
            _d.outcome == "HOLDOUT",
            _d.converted == false(),
            _d.decided_at >= moment("p_since"),
        )
    )
    .values(converted=True)
    .returning(_d.campaign_id, _d.segment)
)


async def insert_decision(conn: AsyncConnection | AsyncSession, values: dict[str, Any]) -> None:
    await conn.execute(_INSERT, values)


async def claim_offer(conn: AsyncConnection, offer_id: str, customer: str, now: datetime) -> Any:
    """Marks an open offer claimed; returns (campaign_id, arm_id, segment, wave) or None when it cannot be."""
    return (await conn.execute(_CLAIM, {"p_id": offer_id, "p_customer": customer, "p_now": now})).first()


async def decision_for_claim(conn: AsyncConnection, offer_id: str) -> Any:
    return (await conn.execute(_FOR_CLAIM, {"p_id": offer_id})).first()


async def convert_holdout(
    conn: AsyncConnection, customer: str, campaign_ids: list[str], since: datetime
) -> list[tuple[str, str]]:
    """Marks the customer's unconverted holdout decisions since `since` converted; returns their
    (campaign id, segment)."""
    params = {"p_customer": customer, "p_campaigns": campaign_ids or [""], "p_since": since}
    return [(str(c), str(s)) for c, s in (await conn.execute(_CONVERT_HOLDOUT, params)).all()]


async def pending_offers(session: ReadSession, customer: str, now: datetime, limit: int, offset: int) -> list[Any]:
    """The customer's offers that can still be claimed, newest first (found through ix_decisions_customer).

    A first-wave offer of a campaign whose claims-per-customer the customer has used up is left out by
    the caller (``claims`` comes along for that).
    """
    rows = await session.execute(
        select(_d.id, _d.campaign_id, _d.arm_id, _d.reason, _d.wave, _d.decided_at, _d.claim_by, _a.claims)
        .outerjoin(assignments, and_(_a.campaign_id == _d.campaign_id, _a.customer_ref == _d.customer_ref))
        .where(
            _d.customer_ref == customer,
            _d.outcome == "OFFERED",
            _d.claimed == false(),
            _d.claim_by > now,
        )
        .order_by(_d.decided_at.desc(), _d.id)
        .limit(limit)
        .offset(offset)
    )
    return list(rows.all())
