"""Coupons: claimed from an offer, redeemed by one order, expired past their validity, and the fallback
waves sent to their holders."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.rewards.store.tables import assignments, coupons, moment, param, rowcount

_k, _a = coupons.c, assignments.c

CLAIMED, REDEEMED, EXPIRED = "CLAIMED", "REDEEMED", "EXPIRED"

COUPON_COLUMNS = (
    _k.id,
    _k.campaign_id,
    _k.customer_ref,
    _k.decision_id,
    _k.arm_id,
    _k.segment,
    _k.threshold_fen,
    _k.discount_fen,
    _k.validity_days,
    _k.state,
    _k.claimed_at,
    _k.valid_until,
    _k.order_id,
    _k.claim_day,
    _k.is_fallback,
)
_INSERT = coupons.insert()
_COUPON = select(*COUPON_COLUMNS).where(_k.id == param("p_id"))
_REDEEM = (
    update(coupons)
    .where(
        _k.id == param("p_id"),
        _k.customer_ref == param("p_customer"),
        _k.state == CLAIMED,
        _k.valid_until > moment("p_now"),
        _k.campaign_id.in_(param("p_campaigns", expanding=True)),
        _k.threshold_fen <= param("p_amount"),
    )
    .values(state=REDEEMED, order_id=param("p_order"))
    .returning(*COUPON_COLUMNS)
)
_REOPEN = update(coupons).where(_k.id == param("p_id")).values(state=param("p_state"), order_id=None)
_NEXT_WAVE = (
    update(coupons)
    .where(_k.id == param("p_id"), _k.fallback_sent == param("p_sent"))
    .values(fallback_sent=_k.fallback_sent + 1)
)


async def insert_coupon(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(_INSERT, values)


async def coupon_row(conn: AsyncConnection, coupon_id: str) -> Any:
    return (await conn.execute(_COUPON, {"p_id": coupon_id})).first()


async def redeem_coupon(
    conn: AsyncConnection,
    coupon_id: str,
    customer: str,
    order_id: str,
    amount: int,
    now: datetime,
    campaign_ids: list[str],
) -> Any:
    """Marks a usable coupon redeemed when every rule holds; returns its row, or None (caller diagnoses)."""
    params = {
        "p_id": coupon_id,
        "p_customer": customer,
        "p_now": now,
        "p_campaigns": campaign_ids or [""],
        "p_amount": amount,
        "p_order": order_id,
    }
    return (await conn.execute(_REDEEM, params)).first()


async def reopen(conn: AsyncConnection, coupon_id: str, state: str) -> None:
    """A refunded order's coupon: no longer tied to the order, CLAIMED again or EXPIRED."""
    await conn.execute(_REOPEN, {"p_id": coupon_id, "p_state": state})


class Expired(NamedTuple):
    due: int  # coupons past their validity this call looked at
    budget: list[tuple[str, str, int]]  # (campaign id, claim day, face value) of those it expired
    gone: list[tuple[str, str, str]]  # (coupon id, customer, campaign id)
    learned: list[tuple[str, str, str, datetime]]  # (campaign, segment, arm, claimed at) of wave-0 offers


async def expire_due(session: AsyncSession, now: datetime, limit: int) -> Expired:
    """Expires up to `limit` claimed coupons past their validity."""
    # SKIP LOCKED (PostgreSQL; SQLite has one writer): a concurrent pass takes other coupons instead of
    # queueing behind this one for the same batch.
    due = select(_k.id).where(_k.state == CLAIMED, _k.valid_until <= now).limit(limit).with_for_update(skip_locked=True)
    ids = list((await session.execute(due)).scalars())
    if not ids:
        return Expired(0, [], [], [])
    # The state guard makes a concurrent redemption and this pass exclusive per coupon.
    rows = await session.execute(
        update(coupons)
        .where(_k.id.in_(ids), _k.state == CLAIMED)
        .values(state=EXPIRED)
        .returning(
            _k.campaign_id,
            _k.claim_day,
            _k.discount_fen,
            _k.id,
            _k.customer_ref,
            _k.segment,
            _k.arm_id,
            _k.is_fallback,
            _k.claimed_at,
        )
    )
    expired = rows.all()
    return Expired(
        len(ids),
        [(str(r[0]), str(r[1]), int(r[2])) for r in expired],
        [(str(r[3]), str(r[4]), str(r[0])) for r in expired],
        [(str(r[0]), str(r[5]), str(r[6]), r[8]) for r in expired if not r[7]],
    )


def _unredeemed(*columns: Any) -> Any:
    """Coupons of the policy's own offers (not fallback coupons), claimed or expired, whose holder has
    redeemed nothing in the campaign: the ones a fallback wave may follow."""
    return (
        select(*columns)
        .join(assignments, (_a.campaign_id == _k.campaign_id) & (_a.customer_ref == _k.customer_ref))
        .where(_k.is_fallback.is_(False), _k.state.in_([CLAIMED, EXPIRED]), _a.redemptions == 0)
    )


async def fallback_candidates(
    session: AsyncSession, campaign_id: str, waves: int, claimed_before: datetime, limit: int
) -> list[Any]:
    """Coupons of the policy's own offers, claimed before `claimed_before`, whose holder has redeemed
    nothing in the campaign and has waves left: (id, customer_ref, claimed_at, fallback_sent, segment)."""
    query = _unredeemed(_k.id, _k.customer_ref, _k.claimed_at, _k.fallback_sent, _k.segment).where(
        _k.campaign_id == campaign_id, _k.fallback_sent < waves, _k.claimed_at <= claimed_before
    )
    return list((await session.execute(query.limit(limit))).all())


_CANDIDATES_OF = _unredeemed(_k.id, _k.campaign_id, _k.claimed_at, _k.fallback_sent, _k.segment).where(
    _k.customer_ref == param("p_customer")
)  # built once: every touch pass asks it per customer


async def fallback_candidates_of(conn: AsyncConnection, customer: str) -> list[Any]:
    """The customer's coupons that may still have a fallback wave to come, in any campaign: (id,
    campaign_id, claimed_at, fallback_sent, segment); the caller checks each campaign's waves and delay."""
    return list((await conn.execute(_CANDIDATES_OF, {"p_customer": customer})).all())


async def take_wave(conn: AsyncConnection, coupon_id: str, sent: int) -> bool:
    """Counts the next fallback wave of a coupon; False when another pass counted it first."""
    return rowcount(await conn.execute(_NEXT_WAVE, {"p_id": coupon_id, "p_sent": sent})) == 1
