"""The contact ledger row of a customer: opt-out and the touches of the last 7 local days, counted against
the day cap and the rolling-week cap by a compare-and-set at the moment of the touch."""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import false, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.db import dialect_insert
from services.rewards.config import ContactPolicy
from services.rewards.domain import contact
from services.rewards.domain.contact import ContactState, state_on
from services.rewards.models import Base
from services.rewards.store.tables import contacts, param, rowcount

_c = contacts.c
ATTEMPTS = 64  # each failed compare-and-set means another touch or opt-out of the customer committed first

_zones = Base.metadata.tables["customer_zones"].c  # kept by the ingest of outside events
# The contact row and the customer's kept zone as scalar subqueries by primary key, for statements that
# read them along the way.
CONTACT_COLUMNS = (
    *(
        select(col).where(_c.customer_ref == param("p_customer")).scalar_subquery()
        for col in (_c.opted_out, _c.day_key, _c.recent)
    ),
    select(_zones.zone).where(_zones.customer == param("p_customer")).scalar_subquery(),
)
_ZONE = select(_zones.zone).where(_zones.customer == param("p_customer"))
_CONTACT = select(_c.opted_out, _c.day_key, _c.recent).where(_c.customer_ref == param("p_customer"))
# The touch: the row moves only if it is still what was read (a concurrent touch makes it match nothing;
# PostgreSQL re-checks the condition on the row version a concurrent writer committed).
_SWAP = (
    update(contacts)
    .where(
        _c.customer_ref == param("p_customer"),
        _c.opted_out == false(),
        _c.day_key == param("p_was_day"),
        _c.recent == param("p_was_recent"),
    )
    .values(day_key=param("p_day"), recent=param("p_recent"))
)


@cache
def _statements(dialect: str) -> tuple[Any, Any]:
    """The first-touch insert and the opt-out upsert of one dialect, built once."""
    first = (
        dialect_insert(dialect, contacts)
        .values(customer_ref=param("p_customer"), opted_out=False, day_key=param("p_day"), recent=param("p_recent"))
        .on_conflict_do_nothing(index_elements=[_c.customer_ref])
        .returning(_c.customer_ref)
    )
    opt_out = (
        dialect_insert(dialect, contacts)
        .values(customer_ref=param("p_customer"), opted_out=param("p_opted_out"), day_key="", recent="")
        .on_conflict_do_update(index_elements=[_c.customer_ref], set_={"opted_out": param("p_opted_out")})
    )
    return first, opt_out


async def kept_zone(conn: AsyncConnection | AsyncSession, customer: str) -> str | None:
    """The customer's own time zone, if their outside events gave one (contact.zone_of falls back)."""
    return (await conn.execute(_ZONE, {"p_customer": customer})).scalar()


async def contact_state(conn: AsyncConnection | AsyncSession, customer: str, day: str) -> ContactState:
    row = (await conn.execute(_CONTACT, {"p_customer": customer})).one_or_none()
    if row is None:
        return ContactState(False, 0, 0)
    return state_on(*row, day)


async def take_touch(
    conn: AsyncConnection | AsyncSession, dialect: str, customer: str, day: str, policy: ContactPolicy
) -> str | None:
    """Counts one touch on local `day` if the customer is not opted out and both caps have room; returns
    None when counted, else why not (OPTED_OUT, CONTACT_CAP_DAY, CONTACT_CAP_WEEK).

    The row is read, judged and swapped for its successor only if it is unchanged, so a touch counts
    against exactly the ledger it was judged on, whichever engine and however many callers at once.
    """
    for _ in range(ATTEMPTS):
        row = (await conn.execute(_CONTACT, {"p_customer": customer})).one_or_none()
        opted_out, was_day, was_recent = row if row is not None else (False, "", "")
        if opted_out:
            return contact.OPTED_OUT
        refused = contact.cap_reached(state_on(False, was_day, was_recent, day), policy)
        if refused:
            return refused
        new_day, new_recent = contact.after_touch(was_day, was_recent, day)
        params = {"p_customer": customer, "p_day": new_day, "p_recent": new_recent}
        if row is None:
            if (await conn.execute(_statements(dialect)[0], params)).first() is not None:
                return None
            continue  # a concurrent first touch or opt-out created the row: judge it
        swap = {**params, "p_was_day": was_day, "p_was_recent": was_recent}
        if rowcount(await conn.execute(_SWAP, swap)) == 1:
            return None
    raise RuntimeError(f"the contact row of {customer!r} kept changing during {ATTEMPTS} attempts to touch")


async def set_opt_out(conn: AsyncConnection, dialect: str, customer: str, opted_out: bool) -> None:
    await conn.execute(_statements(dialect)[1], {"p_customer": customer, "p_opted_out": opted_out})
