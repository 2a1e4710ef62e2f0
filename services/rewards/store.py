"""Queries of the rewards database. Every counter change is one conditional UPDATE whose rowcount says
whether it fitted, executed inside the caller's transaction (so it commits or rolls back with its effect).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_ignoring_conflicts
from services.rewards.models import Assignment, BudgetDay, CampaignBudget, Contact


def _rowcount(result: Any) -> int:
    return int(result.rowcount)


@dataclass(frozen=True)
class ContactState:
    opted_out: bool
    day_count: int
    week_count: int


async def ensure_contact(session: AsyncSession, dialect: str, customer: str) -> None:
    await session.execute(
        insert_ignoring_conflicts(dialect, Contact.__table__).values(
            customer_ref=customer, opted_out=False, day_key="", day_count=0, week_key="", week_count=0
        )
    )


async def contact_state(session: AsyncSession, customer: str, day: str, week: str) -> ContactState:
    row = (
        await session.execute(
            select(Contact.opted_out, Contact.day_key, Contact.day_count, Contact.week_key, Contact.week_count).where(
                Contact.customer_ref == customer
            )
        )
    ).one_or_none()
    if row is None:
        return ContactState(False, 0, 0)
    return ContactState(
        bool(row.opted_out),
        row.day_count if row.day_key == day else 0,
        row.week_count if row.week_key == week else 0,
    )


async def take_touch(session: AsyncSession, customer: str, day: str, week: str, per_day: int, per_week: int) -> bool:
    """Counts one touch if the customer is not opted out and both caps have room (the contact row must exist)."""
    result = await session.execute(
        update(Contact)
        .where(
            Contact.customer_ref == customer,
            Contact.opted_out.is_(False),
            (Contact.day_key != day) | (Contact.day_count < per_day),
            (Contact.week_key != week) | (Contact.week_count < per_week),
        )
        .values(
            day_count=case((Contact.day_key == day, Contact.day_count + 1), else_=1),
            day_key=day,
            week_count=case((Contact.week_key == week, Contact.week_count + 1), else_=1),
            week_key=week,
        )
    )
    return _rowcount(result) == 1


async def ensure_assignment(
    session: AsyncSession, dialect: str, campaign_id: str, customer: str, grp: str, now: datetime
) -> tuple[str, int]:
    """Records the customer's group on first sight; returns the recorded (group, claims)."""
    await session.execute(
        insert_ignoring_conflicts(dialect, Assignment.__table__).values(
            campaign_id=campaign_id,
            customer_ref=customer,
            grp=grp,
            assigned_at=now,
            claims=0,
            redemptions=0,
            payments=0,
            value_fen=0,
        )
    )
    row = (
        await session.execute(
            select(Assignment.grp, Assignment.claims).where(
                Assignment.campaign_id == campaign_id, Assignment.customer_ref == customer
            )
        )
    ).one()
    return str(row.grp), int(row.claims)


async def take_claim_slot(session: AsyncSession, campaign_id: str, customer: str, limit: int) -> bool:
    result = await session.execute(
        update(Assignment)
        .where(
            Assignment.campaign_id == campaign_id,
            Assignment.customer_ref == customer,
            Assignment.claims < limit,
        )
        .values(claims=Assignment.claims + 1)
    )
    return _rowcount(result) == 1


async def ensure_budget_rows(session: AsyncSession, dialect: str, campaign_id: str, day: str) -> None:
    await session.execute(
        insert_ignoring_conflicts(dialect, CampaignBudget.__table__).values(
            campaign_id=campaign_id, reserved_fen=0, spent_fen=0
        )
    )
    await session.execute(
        insert_ignoring_conflicts(dialect, BudgetDay.__table__).values(
            campaign_id=campaign_id, day_key=day, committed_fen=0
        )
    )


async def budget_committed(session: AsyncSession, campaign_id: str, day: str) -> tuple[int, int, int]:
    """(reserved, spent, committed today) of a campaign; zeros before its first claim."""
    total = (
        await session.execute(
            select(CampaignBudget.reserved_fen, CampaignBudget.spent_fen).where(
                CampaignBudget.campaign_id == campaign_id
            )
        )
    ).one_or_none()
    today = await session.scalar(
        select(BudgetDay.committed_fen).where(BudgetDay.campaign_id == campaign_id, BudgetDay.day_key == day)
    )
    reserved, spent = (int(total.reserved_fen), int(total.spent_fen)) if total else (0, 0)
    return reserved, spent, int(today or 0)


async def reserve_total(session: AsyncSession, campaign_id: str, face: int, total: int) -> bool:
    result = await session.execute(
        update(CampaignBudget)
        .where(
            CampaignBudget.campaign_id == campaign_id,
            CampaignBudget.reserved_fen + CampaignBudget.spent_fen + face <= total,
        )
        .values(reserved_fen=CampaignBudget.reserved_fen + face)
    )
    return _rowcount(result) == 1


async def reserve_day(session: AsyncSession, campaign_id: str, day: str, face: int, daily: int) -> bool:
    result = await session.execute(
        update(BudgetDay)
        .where(
            BudgetDay.campaign_id == campaign_id,
            BudgetDay.day_key == day,
            BudgetDay.committed_fen + face <= daily,
        )
        .values(committed_fen=BudgetDay.committed_fen + face)
    )
    return _rowcount(result) == 1


async def move_budget(session: AsyncSession, campaign_id: str, reserved_delta: int, spent_delta: int) -> None:
    await session.execute(
        update(CampaignBudget)
        .where(CampaignBudget.campaign_id == campaign_id)
        .values(
            reserved_fen=CampaignBudget.reserved_fen + reserved_delta,
            spent_fen=CampaignBudget.spent_fen + spent_delta,
        )
    )


async def release_day(session: AsyncSession, campaign_id: str, day: str, face: int) -> None:
    await session.execute(
        update(BudgetDay)
        .where(BudgetDay.campaign_id == campaign_id, BudgetDay.day_key == day)
        .values(committed_fen=BudgetDay.committed_fen - face)
    )


async def add_payment(
    session: AsyncSession, campaign_ids: list[str], customer: str, amount: int, now: datetime, redemption: int = 0
) -> list[str]:
    """Counts a payment for the customer's assignments in these campaigns; returns the campaigns counted."""
    if not campaign_ids:
        return []
    result = await session.execute(
        update(Assignment)
        .where(
            Assignment.customer_ref == customer,
            Assignment.campaign_id.in_(campaign_ids),
            Assignment.assigned_at <= now,
        )
        .values(
            payments=Assignment.payments + (1 if amount > 0 else -1),
            value_fen=Assignment.value_fen + amount,
            redemptions=Assignment.redemptions + redemption,
        )
        .returning(Assignment.campaign_id)
    )
    return sorted(str(r[0]) for r in result.all())


def count_(column: Any) -> Any:
    return func.count(column)
