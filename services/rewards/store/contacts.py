"""The contact row of a customer: opt-out and the touches counted against the day and week caps."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import and_, case, false, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.rewards.domain.contact import ContactState, state_on
from services.rewards.store.tables import contacts, param, upsert

_c = contacts.c

# The contact row as scalar subqueries by primary key, for statements that read it along the way.
CONTACT_COLUMNS = tuple(
    select(col).where(_c.customer_ref == param("p_customer")).scalar_subquery()
    for col in (_c.opted_out, _c.day_key, _c.day_count, _c.week_key, _c.week_count)
)
_CONTACT = select(_c.opted_out, _c.day_key, _c.day_count, _c.week_key, _c.week_count).where(
    _c.customer_ref == param("p_customer")
)


@cache
def _statements(dialect: str) -> tuple[Any, Any]:
    """The touch and opt-out upserts of one dialect, built once."""
    touch = (
        upsert(dialect, contacts)
        .values(
            customer_ref=param("p_customer"),
            opted_out=False,
            day_key=param("p_day"),
            day_count=1,
            week_key=param("p_week"),
            week_count=1,
        )
        .on_conflict_do_update(
            index_elements=[_c.customer_ref],
            set_={
                "day_count": case((_c.day_key == param("p_day"), _c.day_count + 1), else_=1),
                "day_key": param("p_day"),
                "week_count": case((_c.week_key == param("p_week"), _c.week_count + 1), else_=1),
                "week_key": param("p_week"),
            },
            where=and_(
                _c.opted_out == false(),
                or_(_c.day_key != param("p_day"), _c.day_count < param("p_per_day")),
                or_(_c.week_key != param("p_week"), _c.week_count < param("p_per_week")),
            ),
        )
        .returning(_c.customer_ref)
    )
    opt_out = (
        upsert(dialect, contacts)
        .values(
            customer_ref=param("p_customer"),
            opted_out=param("p_opted_out"),
            day_key="",
            day_count=0,
            week_key="",
            week_count=0,
        )
        .on_conflict_do_update(index_elements=[_c.customer_ref], set_={"opted_out": param("p_opted_out")})
    )
    return touch, opt_out


async def contact_state(conn: AsyncConnection | AsyncSession, customer: str, day: str, week: str) -> ContactState:
    row = (await conn.execute(_CONTACT, {"p_customer": customer})).one_or_none()
    if row is None:
        return ContactState(False, 0, 0)
    return state_on(*row, day, week)


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
    return (await conn.execute(_statements(dialect)[0], params)).first() is not None


async def set_opt_out(conn: AsyncConnection, dialect: str, customer: str, opted_out: bool) -> None:
    await conn.execute(_statements(dialect)[1], {"p_customer": customer, "p_opted_out": opted_out})
