"""In-house loans drawn: one row per decision, and the decision a drawdown belongs to."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_ignoring_conflicts
from services.router.models import DecisionRow, LoanDrawnRow

_loans = LoanDrawnRow.__table__
_decisions = DecisionRow.__table__


async def live_decision(session: AsyncSession, decision_id: str) -> Any:
    """(applicant_ref, destination, product_id, tier) of a live decision, or None."""
    d = _decisions.c
    query = select(d.applicant_ref, d.destination, d.product_id, d.tier).where(d.id == decision_id, d.kind == "live")
    return (await session.execute(query)).one_or_none()


async def record_once(session: AsyncSession, dialect: str, row: dict[str, Any]) -> bool:
    """Records a drawdown; False when the decision's drawdown was recorded before."""
    inserted = await session.execute(insert_ignoring_conflicts(dialect, _loans).values(**row))
    return int(inserted.rowcount) == 1  # type: ignore[attr-defined]


async def recorded(session: AsyncSession, decision_id: str) -> Any:
    return (await session.execute(select(_loans).where(_loans.c.decision_id == decision_id))).one()
