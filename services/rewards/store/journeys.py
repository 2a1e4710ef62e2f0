"""Journeys of event-triggered campaigns: the latest entry per trigger and customer, its steps (the
funnel's record, once per entry and step), the holdout group recorded per campaign, outside risk flags, and
the latest time of the events triggers' `after` windows count from (kept beside the flags as `after:<event>`)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.db import dialect_insert
from services.rewards.domain import journey
from services.rewards.store.tables import (
    assignments,
    coupons,
    journey_steps,
    journeys,
    moment,
    param,
    redemptions,
    risk_flags,
    rowcount,
)

_j, _s, _f, _a = journeys.c, journey_steps.c, risk_flags.c, assignments.c
_PK = and_(_j.trigger_id == param("p_trigger"), _j.customer_ref == param("p_customer"))
_ROW = select(_j.state, _j.entries, _j.entered_at, _j.grp).where(_PK)
_ACTIVE = select(_j.trigger_id, _j.entries).where(_j.customer_ref == param("p_customer"), _j.state == journey.ACTIVE)
_FINISH = (
    update(journeys)
    .where(_PK, _j.state == journey.ACTIVE, _j.entries == param("p_entries"))
    .values(state=param("p_state"), touch=param("p_touch"), decision_id=param("p_decision"), updated_at=moment("p_now"))
)
_DEFER = (
    update(journeys)
    .where(_PK, _j.state == journey.ACTIVE, _j.entries == param("p_entries"))
    .values(touch=journey.DEFERRED, updated_at=moment("p_now"))
)
_REOPEN = (
    update(journeys)
    .where(_PK, _j.state == journey.DONE, _j.entries == param("p_entries"), _j.decision_id == param("p_decision"))
    .values(state=journey.ACTIVE, touch=journey.DEFERRED, decision_id="", updated_at=moment("p_now"))
)
_GROUP = select(_a.grp).where(_a.campaign_id == param("p_campaign"), _a.customer_ref == param("p_customer"))
_FLAGS = select(_f.flag, _f.at).where(_f.customer_ref == param("p_customer"))


@cache
def _statements(dialect: str) -> tuple[Any, Any, Any, Any]:
    enter = (
        dialect_insert(dialect, journeys)
        .values(
            trigger_id=param("p_trigger"),
            customer_ref=param("p_customer"),
            campaign_id=param("p_campaign"),
            grp=param("p_grp"),
            state=param("p_state"),
            entries=1,
            entered_at=moment("p_now"),
            due_at=moment("p_due"),
            valid_until=moment("p_until"),
            touch=param("p_touch"),
            decision_id="",
            updated_at=moment("p_now"),
        )
        .on_conflict_do_update(
            index_elements=[_j.trigger_id, _j.customer_ref],
            set_={
                "grp": param("p_grp"),
                "state": param("p_state"),
                "entries": _j.entries + 1,
                "entered_at": moment("p_now"),
                "due_at": moment("p_due"),
                "valid_until": moment("p_until"),
                "touch": param("p_touch"),
                "decision_id": "",
                "updated_at": moment("p_now"),
            },
        )
        .returning(_j.entries)
    )
    step = (
        dialect_insert(dialect, journey_steps)
        .values(
            trigger_id=param("p_trigger"),
            customer_ref=param("p_customer"),
            entry=param("p_entry"),
            step=param("p_step"),
            campaign_id=param("p_campaign"),
            at=moment("p_now"),
            detail=param("p_detail"),
        )
        .on_conflict_do_nothing(index_elements=[_s.trigger_id, _s.customer_ref, _s.entry, _s.step])
    )
    group = (
        dialect_insert(dialect, assignments)
        .values(
            campaign_id=param("p_campaign"),
            customer_ref=param("p_customer"),
            grp=param("p_grp"),
            assigned_at=moment("p_now"),
            claims=0,
            redemptions=0,
            payments=0,
            value_fen=0,
        )
        .on_conflict_do_nothing(index_elements=[_a.campaign_id, _a.customer_ref])
        .returning(_a.grp)
    )
    flag = (
        dialect_insert(dialect, risk_flags)
        .values(customer_ref=param("p_customer"), flag=param("p_flag"), at=moment("p_at"))
        .on_conflict_do_update(
            index_elements=[_f.customer_ref, _f.flag],
            set_={
                "at": func.max(_f.at, moment("p_at")) if dialect == "sqlite" else func.greatest(_f.at, moment("p_at"))
            },
        )
    )
    return enter, step, group, flag


async def journey_of(conn: AsyncConnection, trigger: str, customer: str) -> Any:
    """(state, entries, entered_at, grp) of the customer's latest entry, or None."""
    return (await conn.execute(_ROW, {"p_trigger": trigger, "p_customer": customer})).one_or_none()


async def active_of(conn: AsyncConnection, customer: str) -> list[Any]:
    """(trigger id, entries) of the customer's active journeys."""
    return list((await conn.execute(_ACTIVE, {"p_customer": customer})).all())


async def enter(
    conn: AsyncConnection,
    dialect: str,
    trigger: str,
    campaign: str,
    customer: str,
    *,
    grp: str,
    state: str,
    touch: str,
    now: datetime,
    due: datetime,
    until: datetime,
) -> int:
    """Records an entry (the first, or one more); returns its number."""
    params = {
        "p_trigger": trigger,
        "p_customer": customer,
        "p_campaign": campaign,
        "p_grp": grp,
        "p_state": state,
        "p_touch": touch,
        "p_now": now,
        "p_due": due,
        "p_until": until,
    }
    return int((await conn.execute(_statements(dialect)[0], params)).scalar_one())


async def add_step(
    conn: AsyncConnection,
    dialect: str,
    trigger: str,
    campaign: str,
    customer: str,
    entry: int,
    step: str,
    now: datetime,
    detail: str = "",
) -> None:
    params = {
        "p_trigger": trigger,
        "p_customer": customer,
        "p_entry": entry,
        "p_step": step,
        "p_campaign": campaign,
        "p_now": now,
        "p_detail": detail[:96],
    }
    await conn.execute(_statements(dialect)[1], params)


async def group_of(conn: AsyncConnection, dialect: str, campaign: str, customer: str, grp: str, now: datetime) -> str:
    """The customer's recorded group in the campaign, recording `grp` on first sight: the same group for
    requested offers and every entry of every journey of the campaign."""
    params = {"p_campaign": campaign, "p_customer": customer, "p_grp": grp, "p_now": now}
    recorded = (await conn.execute(_statements(dialect)[2], params)).scalar()
    if recorded is not None:
        return str(recorded)  # first sight: recorded now
    return str((await conn.execute(_GROUP, params)).scalar_one())


async def finish(
    conn: AsyncConnection,
    trigger: str,
    customer: str,
    entries: int,
    state: str,
    touch: str,
    now: datetime,
    decision: str = "",
) -> bool:
    """Ends the entry if it is still the active one (False: an exit or another pass ended it first)."""
    params = {
        "p_trigger": trigger,
        "p_customer": customer,
        "p_entries": entries,
        "p_state": state,
        "p_touch": touch,
        "p_decision": decision,
        "p_now": now,
    }
    return rowcount(await conn.execute(_FINISH, params)) == 1


async def reopen(
    conn: AsyncConnection, trigger: str, customer: str, entries: int, decision: str, now: datetime
) -> None:
    """Opens again an entry `finish` ended for a touch that was then refused (its decision never made)."""
    params = {"p_trigger": trigger, "p_customer": customer, "p_entries": entries, "p_decision": decision, "p_now": now}
    await conn.execute(_REOPEN, params)


async def defer(conn: AsyncConnection, trigger: str, customer: str, entries: int, now: datetime) -> None:
    params = {"p_trigger": trigger, "p_customer": customer, "p_entries": entries, "p_now": now}
    await conn.execute(_DEFER, params)


async def due(session: AsyncSession, now: datetime, limit: int) -> list[Any]:
    """(trigger id, customer, entries, grp, valid_until) of active journeys whose touch is due."""
    rows = await session.execute(
        select(_j.trigger_id, _j.customer_ref, _j.entries, _j.grp, _j.valid_until)
        .where(_j.state == journey.ACTIVE, _j.due_at <= now)
        .order_by(_j.due_at)
        .limit(limit)
    )
    return list(rows.all())


async def due_of(conn: AsyncConnection, customer: str, now: datetime) -> list[Any]:
    """(trigger id, entries, grp, valid_until) of the customer's active journeys whose touch is due."""
    rows = await conn.execute(
        select(_j.trigger_id, _j.entries, _j.grp, _j.valid_until).where(
            _j.customer_ref == customer, _j.state == journey.ACTIVE, _j.due_at <= now
        )
    )
    return list(rows.all())


async def keep_flag(conn: AsyncConnection, dialect: str, customer: str, flag: str, at: datetime) -> None:
    await conn.execute(_statements(dialect)[3], {"p_customer": customer, "p_flag": flag, "p_at": at})


async def flags_of(conn: AsyncConnection, customer: str) -> dict[str, datetime]:
    return {str(f): at for f, at in (await conn.execute(_FLAGS, {"p_customer": customer})).all()}


# --- the funnel's reads ------------------------------------------------------------------------------


async def steps_of(session: AsyncSession, trigger: str) -> list[Any]:
    """(customer, entry, step, at, detail) of every step of the trigger's journeys."""
    rows = await session.execute(
        select(_s.customer_ref, _s.entry, _s.step, _s.at, _s.detail).where(_s.trigger_id == trigger)
    )
    return list(rows.all())


async def groups_of(session: AsyncSession, trigger: str) -> dict[str, str]:
    rows = await session.execute(select(_j.customer_ref, _j.grp).where(_j.trigger_id == trigger))
    return {str(c): str(g) for c, g in rows.all()}


async def coupon_times(session: AsyncSession, decision_ids: list[str]) -> dict[str, tuple[Any, Any]]:
    """Per decision id whose offer became a coupon: (claimed_at, first redemption not refunded or None)."""
    if not decision_ids:
        return {}
    _k, _r = coupons.c, redemptions.c
    rows = await session.execute(
        select(_k.decision_id, _k.claimed_at, func.min(_r.redeemed_at))
        .select_from(coupons.outerjoin(redemptions, and_(_r.coupon_id == _k.id, _r.refunded.is_(False))))
        .where(_k.decision_id.in_(decision_ids))
        .group_by(_k.decision_id, _k.claimed_at)
    )
    return {str(d): (claimed, redeemed) for d, claimed, redeemed in rows.all()}


async def converted_of(session: AsyncSession, trigger: str, campaign: str) -> set[str]:
    """The trigger's customers who paid in the campaign's scenes since their assignment."""
    rows = await session.execute(
        select(_a.customer_ref)
        .join(journeys, and_(_j.customer_ref == _a.customer_ref, _j.trigger_id == trigger))
        .where(_a.campaign_id == campaign, _a.payments > 0)
    )
    return {str(c) for (c,) in rows.all()}


async def first_touches(session: AsyncSession, triggers: list[str]) -> dict[str, Any]:
    """When the given triggers' journeys first touched each customer."""
    if not triggers:
        return {}
    rows = await session.execute(
        select(_s.customer_ref, func.min(_s.at))
        .where(_s.trigger_id.in_(triggers), _s.step == journey.TOUCHED)
        .group_by(_s.customer_ref)
    )
    return {str(c): at for c, at in rows.all()}
