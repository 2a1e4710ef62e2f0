"""Reads of posted ledger transactions: one with its entry lines, a page of history, reversal lookups."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.growth.models import EntryRow, TransactionRow


async def with_entries(session: AsyncSession, txn_id: int) -> tuple[TransactionRow, list[EntryRow]]:
    txn = (await session.execute(select(TransactionRow).where(TransactionRow.id == txn_id))).scalar_one()
    entries = await session.execute(select(EntryRow).where(EntryRow.txn_id == txn_id).order_by(EntryRow.id))
    return txn, list(entries.scalars().all())


async def history_page(
    session: AsyncSession, customer: str, before: int | None, size: int
) -> tuple[Sequence[TransactionRow], bool, dict[int, list[EntryRow]]]:
    """Up to `size` transactions newest first (older than `before`), whether more follow, and their lines."""
    query = select(TransactionRow).where(TransactionRow.member == customer)
    if before is not None:
        query = query.where(TransactionRow.id < before)
    txns = (await session.execute(query.order_by(TransactionRow.id.desc()).limit(size + 1))).scalars().all()
    page, more = txns[:size], len(txns) > size
    entries: dict[int, list[EntryRow]] = {}
    if page:
        lines = await session.execute(
            select(EntryRow).where(EntryRow.txn_id.in_([t.id for t in page])).order_by(EntryRow.id)
        )
        for e in lines.scalars():
            entries.setdefault(e.txn_id, []).append(e)
    return page, more, entries


async def lock_transaction(session: AsyncSession, txn_id: int) -> TransactionRow | None:
    """The transaction, row-locked (PostgreSQL) so that concurrent reversals of it queue."""
    found = await session.execute(select(TransactionRow).where(TransactionRow.id == txn_id).with_for_update())
    return found.scalar_one_or_none()


async def reversal_of(session: AsyncSession, txn_id: int) -> int | None:
    """Id of the transaction that reverses `txn_id`, if any."""
    found = await session.execute(select(TransactionRow.id).where(TransactionRow.reverses == txn_id))
    return found.scalar_one_or_none()


async def points_moved(session: AsyncSession, txn_id: int) -> int:
    """How a posted transaction changed its member's available points (negative: taken away)."""
    found = await session.execute(select(TransactionRow.points).where(TransactionRow.id == txn_id))
    return int(found.scalar_one())
