"""Queries of the rewards database.

Every counter change is one conditional statement whose returned row (or rowcount) says whether it
fitted, executed inside the caller's transaction so it commits or rolls back with its effect. The hot
calls (Offer, Claim, Redeem) fold "insert if missing, then read or change" into one
INSERT … ON CONFLICT … RETURNING (SQLite ≥ 3.35 and PostgreSQL both have it), touch rows by primary
key only, and run statements that are built once with bind parameters: on SQLite, building and
compiling a statement costs more than running it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from types import SimpleNamespace
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, case, false, func, or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.db import UTCDateTime
from services.rewards.models import (
    Assignment,
    BudgetDay,
    CampaignBudget,
    Contact,
    Coupon,
    Decision,
    Payment,
    Redemption,
)

contacts = cast(Table, Contact.__table__)
assignments = cast(Table, Assignment.__table__)
budgets = cast(Table, CampaignBudget.__table__)
budget_days = cast(Table, BudgetDay.__table__)
decisions = cast(Table, Decision.__table__)
coupons = cast(Table, Coupon.__table__)
redemptions = cast(Table, Redemption.__table__)
payments = cast(Table, Payment.__table__)


def upsert(dialect: str, table: Any) -> Any:
    """INSERT for the dialect in use, with its on_conflict_do_update / do_nothing."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table)


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


def _p(name: str, **kw: Any) -> Any:
    return bindparam(name, **kw)


def _t(name: str) -> Any:
    return bindparam(name, type_=UTCDateTime())


_a, _c, _b, _bd = assignments.c, contacts.c, budgets.c, budget_days.c
_d, _k, _r = decisions.c, coupons.c, redemptions.c

_CONTACT_COLUMNS = tuple(
    select(col).where(_c.customer_ref == _p("p_customer")).scalar_subquery()
    for col in (_c.opted_out, _c.day_key, _c.day_count, _c.week_key, _c.week_count)
)
_BUDGET_COLUMNS = (
    select(_b.reserved_fen).where(_b.campaign_id == _p("p_campaign")).scalar_subquery(),
    select(_b.spent_fen).where(_b.campaign_id == _p("p_campaign")).scalar_subquery(),
    select(_bd.committed_fen).where(_bd.campaign_id == _p("p_campaign"), _bd.day_key == _p("p_day")).scalar_subquery(),
)
_REDEMPTION_VALUES = {
    "coupon_id": _p("p_coupon_id"),
    "campaign_id": _p("p_campaign_id"),
    "customer_ref": _p("p_customer_ref"),
    "amount_fen": _p("p_amount_fen"),
    "discount_fen": _p("p_discount_fen"),
    "redeemed_at": _t("p_redeemed_at"),
    "refunded": False,
}


@cache
def _upserts(dialect: str) -> SimpleNamespace:
    """The INSERT … ON CONFLICT statements of one dialect, built once."""
    snapshot = (
        upsert(dialect, assignments)
        .values(
            campaign_id=_p("p_campaign"),
            customer_ref=_p("p_customer"),
            grp=_p("p_grp"),
            assigned_at=_t("p_now"),
            claims=0,
            redemptions=0,
            payments=0,
            value_fen=0,
        )
        .on_conflict_do_update(index_elements=[_a.campaign_id, _a.customer_ref], set_={"grp": _a.grp})
        .returning(_a.grp, _a.claims, *_CONTACT_COLUMNS, *_BUDGET_COLUMNS)
    )
    touch = (
        upsert(dialect, contacts)
        .values(
            customer_ref=_p("p_customer"),
            opted_out=False,
            day_key=_p("p_day"),
            day_count=1,
            week_key=_p("p_week"),
            week_count=1,
        )
        .on_conflict_do_update(
            index_elements=[_c.customer_ref],
            set_={
                "day_count": case((_c.day_key == _p("p_day"), _c.day_count + 1), else_=1),
                "day_key": _p("p_day"),
                "week_count": case((_c.week_key == _p("p_week"), _c.week_count + 1), else_=1),
                "week_key": _p("p_week"),
            },
            where=and_(
                _c.opted_out == false(),
                or_(_c.day_key != _p("p_day"), _c.day_count < _p("p_per_day")),
                or_(_c.week_key != _p("p_week"), _c.week_count < _p("p_per_week")),
            ),
        )
        .returning(_c.customer_ref)
    )
    reserve_total = (
        upsert(dialect, budgets)
        .values(campaign_id=_p("p_campaign"), reserved_fen=_p("p_face"), spent_fen=0)
        .on_conflict_do_update(
            index_elements=[_b.campaign_id],
            set_={"reserved_fen": _b.reserved_fen + _p("p_face")},
            where=_b.reserved_fen + _b.spent_fen + _p("p_face") <= _p("p_total"),
        )
        .returning(_b.campaign_id)
    )
    reserve_day = (
        upsert(dialect, budget_days)
        .values(campaign_id=_p("p_campaign"), day_key=_p("p_day"), committed_fen=_p("p_face"))
        .on_conflict_do_update(
            index_elements=[_bd.campaign_id, _bd.day_key],
            set_={"committed_fen": _bd.committed_fen + _p("p_face")},
            where=_bd.committed_fen + _p("p_face") <= _p("p_daily"),
        )
        .returning(_bd.campaign_id)
    )
    record_redemption = (
        upsert(dialect, redemptions)
        .values(order_id=_p("p_order"), **_REDEMPTION_VALUES)
        .on_conflict_do_update(index_elements=[_r.order_id], set_=_REDEMPTION_VALUES, where=_r.refunded == true())
        .returning(_r.order_id)
    )
    opt_out = (
        upsert(dialect, contacts)
        .values(
            customer_ref=_p("p_customer"),
            opted_out=_p("p_opted_out"),
            day_key="",
            day_count=0,
            week_key="",
            week_count=0,
        )
        .on_conflict_do_update(index_elements=[_c.customer_ref], set_={"opted_out": _p("p_opted_out")})
    )
    return SimpleNamespace(
        snapshot=snapshot,
        touch=touch,
        reserve_total=reserve_total,
        reserve_day=reserve_day,
        record_redemption=record_redemption,
        opt_out=opt_out,
    )


_CLAIM_OFFER = (
    update(decisions)
    .where(
        _d.id == _p("p_id"),
        _d.outcome == "OFFERED",
        _d.customer_ref == _p("p_customer"),
        _d.claimed == false(),
        or_(_d.claim_by.is_(None), _d.claim_by > _t("p_now")),
    )
    .values(claimed=True)
    .returning(_d.campaign_id, _d.arm_id, _d.segment, _d.wave)
)
_CLAIM_SLOT = (
    update(assignments)
    .where(_a.campaign_id == _p("p_campaign"), _a.customer_ref == _p("p_customer"), _a.claims < _p("p_limit"))
    .values(claims=_a.claims + 1)
)
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
_REDEEM_COUPON = (
    update(coupons)
    .where(
        _k.id == _p("p_id"),
        _k.customer_ref == _p("p_customer"),
        _k.state == "CLAIMED",
        _k.valid_until > _t("p_now"),
        _k.campaign_id.in_(_p("p_campaigns", expanding=True)),
        _k.threshold_fen <= _p("p_amount"),
    )
    .values(state="REDEEMED", order_id=_p("p_order"))
    .returning(*COUPON_COLUMNS)
)
_ADD_PAYMENT = (
    update(assignments)
    .where(
        _a.customer_ref == _p("p_customer"),
        _a.campaign_id.in_(_p("p_campaigns", expanding=True)),
        _a.assigned_at <= _t("p_now"),
    )
    .values(
        payments=_a.payments + _p("p_count"),
        value_fen=_a.value_fen + _p("p_amount"),
        redemptions=_a.redemptions + _p("p_redemption"),
    )
    .returning(_a.campaign_id)
)
_MOVE_BUDGET = (
    update(budgets)
    .where(_b.campaign_id == _p("p_campaign"))
    .values(reserved_fen=_b.reserved_fen + _p("p_reserved"), spent_fen=_b.spent_fen + _p("p_spent"))
)
_RELEASE_DAY = (
    update(budget_days)
    .where(_bd.campaign_id == _p("p_campaign"), _bd.day_key == _p("p_day"))
    .values(committed_fen=_bd.committed_fen - _p("p_face"))
)
_INSERT_DECISION = decisions.insert()
_INSERT_COUPON = coupons.insert()
_CONTACT = select(_c.opted_out, _c.day_key, _c.day_count, _c.week_key, _c.week_count).where(
    _c.customer_ref == _p("p_customer")
)
_DECISION_FOR_CLAIM = select(_d.id, _d.outcome, _d.customer_ref, _d.campaign_id, _d.arm_id, _d.claim_by).where(
    _d.id == _p("p_id")
)
_COUPON = select(*COUPON_COLUMNS).where(_k.id == _p("p_id"))
_REDEMPTION = select(_r.order_id, _r.coupon_id, _r.customer_ref, _r.amount_fen, _r.discount_fen, _r.refunded).where(
    _r.order_id == _p("p_order")
)


@dataclass(frozen=True)
class ContactState:
    opted_out: bool
    day_count: int
    week_count: int


@dataclass(frozen=True)
class OfferSnapshot:
    """Everything Offer needs from the database, read in one statement."""

    grp: str  # the recorded holdout group (the first one recorded wins)
    claims: int
    contact: ContactState
    reserved_fen: int
    spent_fen: int
    today_fen: int  # committed against today's daily budget


def _contact_state(
    opted_out: Any, day_key: Any, day_count: Any, week_key: Any, week_count: Any, day: str, week: str
) -> ContactState:
    return ContactState(
        bool(opted_out),
        int(day_count or 0) if day_key == day else 0,
        int(week_count or 0) if week_key == week else 0,
    )


async def offer_snapshot(
    conn: AsyncConnection,
    dialect: str,
    campaign_id: str,
    customer: str,
    grp: str,
    now: datetime,
    day: str,
    week: str,
) -> OfferSnapshot:
    """Records the customer's group on first sight and returns it with the contact and budget state.

    One statement: the assignment upsert (a no-op update when the row exists, so RETURNING always
    yields it) returns the contact row and the budget counters through primary-key subqueries.
    """
    params = {"p_campaign": campaign_id, "p_customer": customer, "p_grp": grp, "p_now": now, "p_day": day}
    row = (await conn.execute(_upserts(dialect).snapshot, params)).one()
    return OfferSnapshot(
        str(row[0]),
        int(row[1]),
        _contact_state(row[2], row[3], row[4], row[5], row[6], day, week),
        int(row[7] or 0),
        int(row[8] or 0),
        int(row[9] or 0),
    )


async def contact_state(conn: AsyncConnection | AsyncSession, customer: str, day: str, week: str) -> ContactState:
    row = (await conn.execute(_CONTACT, {"p_customer": customer})).one_or_none()
    if row is None:
        return ContactState(False, 0, 0)
    return _contact_state(*row, day, week)


async def take_touch(
    conn: AsyncConnection | AsyncSession,
    dialect: str,
    customer: str,
    day: str,
    week: str,
    per_day: int,
    per_week: int,
) -> bool:
    """Counts one touch if the customer is not opted out and both caps have room (creating the row).

    One atomic upsert: a new customer starts at 1/1; an existing row is bumped only where its WHERE
    holds, evaluated on the latest row version (PostgreSQL locks it; SQLite has one writer).
    """
    params = {"p_customer": customer, "p_day": day, "p_week": week, "p_per_day": per_day, "p_per_week": per_week}
    return (await conn.execute(_upserts(dialect).touch, params)).first() is not None


async def set_opt_out(conn: AsyncConnection, dialect: str, customer: str, opted_out: bool) -> None:
    await conn.execute(_upserts(dialect).opt_out, {"p_customer": customer, "p_opted_out": opted_out})


async def insert_decision(conn: AsyncConnection | AsyncSession, values: dict[str, Any]) -> None:
    await conn.execute(_INSERT_DECISION, values)


async def claim_offer(conn: AsyncConnection, offer_id: str, customer: str, now: datetime) -> Any:
    """Marks an open offer claimed; returns (campaign_id, arm_id, segment, wave) or None when it cannot be."""
    return (await conn.execute(_CLAIM_OFFER, {"p_id": offer_id, "p_customer": customer, "p_now": now})).first()


async def decision_for_claim(conn: AsyncConnection, offer_id: str) -> Any:
    return (await conn.execute(_DECISION_FOR_CLAIM, {"p_id": offer_id})).first()


async def take_claim_slot(conn: AsyncConnection, campaign_id: str, customer: str, limit: int) -> bool:
    result = await conn.execute(_CLAIM_SLOT, {"p_campaign": campaign_id, "p_customer": customer, "p_limit": limit})
    return _rowcount(result) == 1


async def reserve_total(conn: AsyncConnection, dialect: str, campaign_id: str, face: int, total: int) -> bool:
    """Reserves face value against the campaign total (creating the row); caller checks face <= total."""
    params = {"p_campaign": campaign_id, "p_face": face, "p_total": total}
    return (await conn.execute(_upserts(dialect).reserve_total, params)).first() is not None


async def reserve_day(conn: AsyncConnection, dialect: str, campaign_id: str, day: str, face: int, daily: int) -> bool:
    """Commits face value against one local day's budget (creating the row); caller checks face <= daily."""
    params = {"p_campaign": campaign_id, "p_day": day, "p_face": face, "p_daily": daily}
    return (await conn.execute(_upserts(dialect).reserve_day, params)).first() is not None


async def insert_coupon(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(_INSERT_COUPON, values)


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
    return (await conn.execute(_REDEEM_COUPON, params)).first()


async def coupon_row(conn: AsyncConnection, coupon_id: str) -> Any:
    return (await conn.execute(_COUPON, {"p_id": coupon_id})).first()


async def redemption_row(conn: AsyncConnection, order_id: str) -> Any:
    return (await conn.execute(_REDEMPTION, {"p_order": order_id})).first()


async def record_redemption(conn: AsyncConnection, dialect: str, values: dict[str, Any]) -> bool:
    """Records the order's redemption; False when the order already has one that was not refunded.

    A refunded order may be paid again with a coupon: its old row is overwritten in the same statement.
    """
    params = {"p_order" if k == "order_id" else f"p_{k}": v for k, v in values.items() if k != "refunded"}
    return (await conn.execute(_upserts(dialect).record_redemption, params)).first() is not None


async def pending_offers(session: AsyncSession, customer: str, now: datetime, limit: int, offset: int) -> list[Any]:
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


async def budget_committed(session: AsyncSession, campaign_id: str, day: str) -> tuple[int, int, int]:
    """(reserved, spent, committed today) of a campaign; zeros before its first claim."""
    row = (await session.execute(select(*_BUDGET_COLUMNS), {"p_campaign": campaign_id, "p_day": day})).one()
    return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)


async def move_budget(
    conn: AsyncConnection | AsyncSession, campaign_id: str, reserved_delta: int, spent_delta: int
) -> None:
    await conn.execute(_MOVE_BUDGET, {"p_campaign": campaign_id, "p_reserved": reserved_delta, "p_spent": spent_delta})


async def release_day(conn: AsyncConnection | AsyncSession, campaign_id: str, day: str, face: int) -> None:
    await conn.execute(_RELEASE_DAY, {"p_campaign": campaign_id, "p_day": day, "p_face": face})


async def add_payment(
    conn: AsyncConnection | AsyncSession,
    campaign_ids: list[str],
    customer: str,
    amount: int,
    now: datetime,
    redemption: int = 0,
) -> list[str]:
    """Counts a payment for the customer's assignments in these campaigns; returns the campaigns counted."""
    if not campaign_ids:
        return []
    params = {
        "p_customer": customer,
        "p_campaigns": campaign_ids,
        "p_now": now,
        "p_count": 1 if amount > 0 else -1,
        "p_amount": amount,
        "p_redemption": redemption,
    }
    result = await conn.execute(_ADD_PAYMENT, params)
    return sorted(str(r[0]) for r in result.all())


def count_(column: Any) -> Any:
    return func.count(column)
