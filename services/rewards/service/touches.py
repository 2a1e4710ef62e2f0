"""A customer's due touches of every kind, tried together in one unit of work in campaign priority order.

Triggered touches (service/journeys.py) and fallback waves (service/fallback.py) are made by two passes on
their own periods. When a customer has both due and the contact ledger leaves room for fewer, the campaign
priority must decide, not which pass happened to run first: so each pass, for every customer it has
touches for, also asks the other kinds for that customer's due touches (inside the same unit of work) and
tries them all, highest priority first. Every attempt is guarded by its own compare-and-set (the entry or
the wave count), so two passes meeting on the same customer still make each touch once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.rewards.domain import contact
from services.rewards.runtime import ConfigView
from services.rewards.store import contacts


class DueTouch(Protocol):
    """One touch due now: its rank (-campaign priority, campaign id, kind, id: the smallest goes first), a
    key naming it across passes, and the attempt, which returns 1 when the customer was touched."""

    @property
    def rank(self) -> tuple[int, str, str, str]: ...

    @property
    def key(self) -> str: ...

    async def attempt(self, conn: AsyncConnection, tz: ZoneInfo) -> int: ...


# The due touches of one customer, of one kind, read inside the unit of work.
Finder = Callable[[AsyncConnection, ConfigView, str, datetime], Awaitable[Sequence[DueTouch]]]


async def touch_customer(
    conn: AsyncConnection,
    view: ConfigView,
    customer: str,
    own: Sequence[DueTouch],
    others: Sequence[Finder],
    now: datetime,
) -> int:
    """Tries `own` and the customer's due touches of the `others` kinds in rank order, inside the caller's
    unit of work; returns how many touches were made."""
    tz = contact.zone_of(await contacts.kept_zone(conn, customer), view.tz)  # the customer's local day
    due = {t.key: t for t in own}
    for find in others:
        for found in await find(conn, view, customer, now):
            due.setdefault(found.key, found)
    touched = 0
    for touch in sorted(due.values(), key=lambda t: t.rank):
        touched += await touch.attempt(conn, tz)
    return touched


def customer_unit(
    view: ConfigView, customer: str, own: Sequence[DueTouch], others: Sequence[Finder], now: datetime
) -> Callable[[AsyncSession], Awaitable[int]]:
    """touch_customer as a unit of work of its own (a pass's)."""

    async def unit(session: AsyncSession) -> int:
        return await touch_customer(await session.connection(), view, customer, own, others, now)

    return unit
