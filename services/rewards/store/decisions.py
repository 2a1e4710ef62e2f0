"""Decisions: every Offer answer and every fallback wave, recorded with what the policy knew, and the
offers' claimed and converted flags."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, false, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.point_reads import ReadSession
from services.rewards.config import Arm
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
    .returning(_d.campaign_id, _d.arm_id, _d.segment, _d.wave, _d.threshold_fen, _d.discount_fen, _d.validity_days)
)
_FOR_CLAIM = select(_d.id, _d.outcome, _d.customer_ref, _d.campaign_id, _d.arm_id, _d.claim_by).where(
    _d.id == param("p_id")
)
# Reasons of a policy decision that offered nothing although the customer could have been offered: the
# policy passed the visit over, so it is a trial of the no-coupon response (domain/policy.py, Untreated).
PASSED_OVER = ("NO_PROFITABLE_ARM", "BUDGET_EXHAUSTED")
_o = decisions.alias("later_offer")
# Whether the campaign ever offered the customer a coupon (any wave, any trigger): one who was, may hold
# it; a visit passed over after it is no trial of the no-coupon response, and one passed over before it
# is censored at it.
_EVER_OFFERED = exists().where(
    _o.c.customer_ref == _d.customer_ref, _o.c.campaign_id == _d.campaign_id, _o.c.outcome == "OFFERED"
)
# The customer's decisions since `p_since` that no payment has converted yet.
_UNCONVERTED = (_d.customer_ref == param("p_customer"), _d.converted == false(), _d.decided_at >= moment("p_since"))
# A visit the policy passed over (a first-wave decision that offered nothing the policy could have offered).
_PASS_VISIT = (_d.outcome == "NOT_OFFERED", _d.reason.in_(PASSED_OVER), _d.wave == 0)
# ... of a customer the campaign never offered a coupon.
_PASSED = (*_PASS_VISIT, ~_EVER_OFFERED)
_OF_CAMPAIGN = (_d.customer_ref == param("p_customer"), _d.campaign_id == param("p_campaign"))
# What Offer's snapshot (store/assignments.py) reads of the customer's decisions in the campaign, in its
# one statement: whether the campaign ever offered them a coupon (a visit passed over then is no trial of
# the no-coupon response), and whether visits of theirs passed over since `p_since` have not paid (what a
# first offer censors).
OFFER_HISTORY_COLUMNS = (
    exists().where(*_OF_CAMPAIGN, _d.outcome == "OFFERED"),
    exists().where(*_OF_CAMPAIGN, *_PASS_VISIT, _d.converted == false(), _d.decided_at >= moment("p_since")),
)


def _converting(*conditions: Any) -> Any:
    """Marks converted the customer's unconverted decisions in the campaigns `p_campaigns` that meet the
    conditions; returns their (campaign id, segment)."""
    return (
        update(decisions)
        .where(and_(*_UNCONVERTED, _d.campaign_id.in_(param("p_campaigns", expanding=True)), *conditions))
        .values(converted=True)
        .returning(_d.campaign_id, _d.segment)
    )


_CONVERT_HOLDOUT = _converting(_d.outcome == "HOLDOUT")
_CONVERT_PASSED = _converting(*_PASSED)
_OPEN_PASSES = select(_d.segment, _d.decided_at).where(*_UNCONVERTED, _d.campaign_id == param("p_campaign"), *_PASSED)


async def insert_decision(conn: AsyncConnection | AsyncSession, values: dict[str, Any]) -> None:
    await conn.execute(_INSERT, values)


def offered_terms(arm: Arm | None) -> dict[str, int | None]:
    """The decision's columns that keep the coupon's terms as offered (None: nothing offered)."""
    if arm is None:
        return {"threshold_fen": None, "discount_fen": None, "validity_days": None}
    return {"threshold_fen": arm.threshold_fen, "discount_fen": arm.discount_fen, "validity_days": arm.validity_days}


async def claim_offer(conn: AsyncConnection, offer_id: str, customer: str, now: datetime) -> Any:
    """Marks an open offer claimed; returns (campaign_id, arm_id, segment, wave, threshold_fen, discount_fen,
    validity_days) — the terms None on an offer recorded without them — or None when it cannot be."""
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
        select(
            _d.id,
            _d.campaign_id,
            _d.arm_id,
            _d.reason,
            _d.wave,
            _d.decided_at,
            _d.claim_by,
            _a.claims,
            _d.threshold_fen,
            _d.discount_fen,
            _d.validity_days,
        )
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


async def convert_passed(
    conn: AsyncConnection, customer: str, campaign_ids: list[str], since: datetime
) -> list[tuple[str, str]]:
    """Marks converted the customer's passed-over decisions since `since` of the campaigns that never
    offered them a coupon (an offer censors the visits passed over before it); returns their
    (campaign id, segment)."""
    params = {"p_customer": customer, "p_campaigns": campaign_ids or [""], "p_since": since}
    return [(str(c), str(s)) for c, s in (await conn.execute(_CONVERT_PASSED, params)).all()]


async def open_passes(conn: AsyncConnection, campaign_id: str, customer: str, since: datetime) -> list[Any]:
    """(segment, decided at) of the customer's passed-over decisions since `since` that have not paid, if the
    campaign never offered the customer a coupon: the visits its first offer censors (read before that
    offer is recorded; after any offer there is nothing left to censor)."""
    params = {"p_customer": customer, "p_campaign": campaign_id, "p_since": since}
    return list((await conn.execute(_OPEN_PASSES, params)).all())
