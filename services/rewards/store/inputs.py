"""The inputs rewards keeps per customer from its peers' events: the growth level, the router's risk verdict.

Each value carries the peer stream position it came from and is only replaced by a later one, so the row
ends the same whatever order or how many times the events arrive."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.db import insert_ignoring_conflicts
from services.rewards.models import CustomerInputs

_t = CustomerInputs.__table__
_c = _t.c


async def _keep(
    session: AsyncSession, dialect: str, customer: str, position_column: str, values: dict[str, Any]
) -> bool:
    """Sets `values` for the customer unless a later position is kept already; True when it changed."""
    blank = {"customer_ref": customer, "growth_position": 0, "risk_position": 0}
    first = insert_ignoring_conflicts(dialect, _t).values(**{**blank, **values})
    if int((await session.execute(first)).rowcount) == 1:  # type: ignore[attr-defined]
        return True
    later = (
        update(CustomerInputs)
        .where(CustomerInputs.customer_ref == customer, _c[position_column] < values[position_column])
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int((await session.execute(later)).rowcount) == 1  # type: ignore[attr-defined]


async def keep_level(
    session: AsyncSession, dialect: str, customer: str, level: str, position: int, at: datetime
) -> bool:
    values = {"growth_level": level, "growth_position": position, "growth_at": at}
    return await _keep(session, dialect, customer, "growth_position", values)


async def keep_verdict(
    session: AsyncSession,
    dialect: str,
    customer: str,
    *,
    tier: str,
    destination: str,
    reasons: str,
    position: int,
    at: datetime,
) -> bool:
    values = {
        "risk_tier": tier,
        "risk_destination": destination,
        "risk_reasons": reasons[:512],
        "risk_position": position,
        "risk_at": at,
    }
    return await _keep(session, dialect, customer, "risk_position", values)


async def inputs_of(session: AsyncSession | AsyncConnection, customer: str) -> Any:
    """The customer's kept inputs (growth_level, risk_tier, risk_destination, risk_reasons …) or None."""
    return (await session.execute(select(_t).where(_c.customer_ref == customer))).one_or_none()
