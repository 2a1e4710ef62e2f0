"""Reads of point lots (what a member holds and when it expires) and the expiry-warning mark."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.growth.models import LotRow


async def unsettled_lots(session: AsyncSession, customer: str) -> Sequence[LotRow]:
    """Lots with points left (or owed), soonest expiry first and never-expiring last."""
    found = await session.execute(
        select(LotRow)
        .where(LotRow.member == customer, LotRow.remaining != 0)
        .order_by(LotRow.expires_at.is_(None), LotRow.expires_at, LotRow.id)
    )
    return found.scalars().all()


async def expiring_points(session: AsyncSession, customer: str) -> Sequence[Any]:
    """(expires_at, remaining) of every lot that will expire, soonest first."""
    found = await session.execute(
        select(LotRow.expires_at, LotRow.remaining)
        .where(LotRow.member == customer, LotRow.remaining > 0, LotRow.expires_at.is_not(None))
        .order_by(LotRow.expires_at)
    )
    return found.all()


async def due_to_expire(session: AsyncSession, now: datetime, limit: int) -> Sequence[Any]:
    found = await session.execute(
        select(LotRow.id, LotRow.member, LotRow.remaining, LotRow.expires_at)
        .where(LotRow.expires_at <= now, LotRow.remaining > 0)
        .order_by(LotRow.expires_at, LotRow.id)
        .limit(limit)
    )
    return found.all()


async def due_for_warning(session: AsyncSession, now: datetime, horizon: datetime, limit: int) -> Sequence[Any]:
    """Unwarned lots with points left that expire after now and by `horizon`."""
    found = await session.execute(
        select(LotRow.id, LotRow.member, LotRow.remaining, LotRow.expires_at)
        .where(
            LotRow.expires_at > now,
            LotRow.expires_at <= horizon,
            LotRow.remaining > 0,
            LotRow.warned_at.is_(None),
        )
        .order_by(LotRow.expires_at, LotRow.id)
        .limit(limit)
    )
    return found.all()


async def mark_warned(session: AsyncSession, lot_ids: list[int], now: datetime) -> None:
    await session.execute(update(LotRow).where(LotRow.id.in_(lot_ids)).values(warned_at=now))
