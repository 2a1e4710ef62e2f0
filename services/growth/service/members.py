"""Members: enrolment, and what a member reads about themselves (balance, statement, expiry dates)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.point_reads import ReadSession
from services.growth.domain.standing import Progress, effective_level
from services.growth.models import EntryRow, HoldRow, LotRow, MemberRow, TransactionRow
from services.growth.service.context import Deps
from services.growth.service.levels import member_progress
from services.growth.store import holds, lots, members, transactions
from services.growth.store.ledger import Ledger


@dataclass(frozen=True)
class BalanceView:
    customer: str
    points_available: int
    points_held: int
    points_pending: int
    growth_total: int
    level: str  # effective level


@dataclass(frozen=True)
class StatementView:
    balance: BalanceView
    lots: Sequence[LotRow]
    holds: Sequence[HoldRow]
    progress: Progress
    history: Sequence[TransactionRow]  # newest first
    entries: dict[int, list[EntryRow]]  # transaction id → its entry lines
    more: bool  # older history follows the page


async def enroll(session: AsyncSession, deps: Deps, customer: str, referrer: str) -> tuple[MemberRow, str]:
    """EnrollMember: a new member starts at the first level with empty accounts; enrolling again
    changes nothing. Returns the member and their effective level."""
    row = await members.find_member(session, customer)
    if row is None:
        row = MemberRow(
            customer=customer,
            level=deps.cfg.levels.tiers[0].id,
            enrolled_at=deps.now,
            referrer=referrer or None,
            grace_until=None,
            override_level=None,
            override_until=None,
            override_reason=None,
            override_operator=None,
            reviewed_at=None,
        )
        await members.add_member(session, row)
        await Ledger(session, deps.dialect, deps.now).open_accounts(customer)
    return row, effective_level(deps.cfg, row, deps.now)


async def balance(session: ReadSession, deps: Deps, customer: str) -> BalanceView:
    row = await members.balance(session, customer)
    return BalanceView(
        customer,
        row.points_available,
        row.points_held,
        row.points_pending,
        row.growth_total,
        effective_level(deps.cfg, row, deps.now),
    )


async def statement(session: AsyncSession, deps: Deps, customer: str, before: int | None, size: int) -> StatementView:
    """GetStatement: balances, lots, open holds, level progress and one page of history."""
    current = await balance(session, deps, customer)
    member = await members.get_member(session, customer)
    unsettled = await lots.unsettled_lots(session, customer)
    open_holds = await holds.open_holds(session, customer)
    page, more, entries = await transactions.history_page(session, customer, before, size)
    progress = await member_progress(session, deps.cfg, member, deps.now)
    return StatementView(current, unsettled, open_holds, progress, page, entries, more)


async def expiries(session: AsyncSession, customer: str) -> list[tuple[datetime, int]]:
    """ListExpiries: points that will expire, summed per expiry instant, soonest first."""
    await members.get_member(session, customer)
    grouped: dict[datetime, int] = {}
    for r in await lots.expiring_points(session, customer):
        grouped[r.expires_at] = grouped.get(r.expires_at, 0) + r.remaining
    return list(grouped.items())
