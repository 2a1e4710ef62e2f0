"""Hold rows: two-phase spends and pending awards, claimed open → closed by one conditional UPDATE."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_entity
from services.common.errors import NotFound
from services.growth.models import HoldRow

_holds = cast(Table, HoldRow.__table__)


async def add_hold(session: AsyncSession, row: HoldRow) -> None:
    await insert_entity(session, row)


async def insert_pending(
    session: AsyncSession,
    *,
    hold_id: str,
    customer: str,
    points: int,
    growth: int,
    expires_at: datetime,
    on_timeout: str,
    task_id: str,
    open_txn_id: int,
    now: datetime,
) -> None:
    """An award held pending (Core INSERT: the activity path builds no ORM objects)."""
    await session.execute(
        insert(_holds).values(
            id=hold_id,
            member=customer,
            kind="pending",
            points=points,
            growth=growth,
            status="open",
            expires_at=expires_at,
            on_timeout=on_timeout,
            reason=f"task:{task_id}",
            task_id=task_id,
            open_txn_id=open_txn_id,
            close_txn_id=None,
            created_at=now,
        )
    )


async def get_hold(session: AsyncSession, hold_id: str, *, lock: bool = False) -> HoldRow:
    stmt = select(HoldRow).where(HoldRow.id == hold_id)
    if lock:
        # populate_existing: a copy loaded earlier in this unit must not hide the locked row's status.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound("hold", hold_id, reason="HOLD_NOT_FOUND")
    return row


async def find_hold(session: AsyncSession, hold_id: str) -> HoldRow | None:
    return (await session.execute(select(HoldRow).where(HoldRow.id == hold_id))).scalar_one_or_none()


async def claim(session: AsyncSession, hold_id: str, status: str) -> bool:
    """Moves an open hold to `status`; False when it was no longer open."""
    claimed = await session.execute(
        update(HoldRow).where(HoldRow.id == hold_id, HoldRow.status == "open").values(status=status)
    )
    return int(claimed.rowcount) == 1  # type: ignore[attr-defined]


async def set_closing_transaction(session: AsyncSession, hold_id: str, txn_id: int) -> None:
    await session.execute(update(HoldRow).where(HoldRow.id == hold_id).values(close_txn_id=txn_id))


async def open_holds(session: AsyncSession, customer: str) -> Sequence[HoldRow]:
    found = await session.execute(
        select(HoldRow).where(HoldRow.member == customer, HoldRow.status == "open").order_by(HoldRow.created_at)
    )
    return found.scalars().all()


async def due_holds(session: AsyncSession, now: datetime, limit: int) -> Sequence[Any]:
    """(id, on_timeout) of open holds past their expiry, oldest first."""
    found = await session.execute(
        select(HoldRow.id, HoldRow.on_timeout)
        .where(HoldRow.status == "open", HoldRow.expires_at <= now)
        .order_by(HoldRow.expires_at)
        .limit(limit)
    )
    return found.all()
