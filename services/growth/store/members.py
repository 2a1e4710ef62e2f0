"""Member rows: enrolment, level and override changes, review bookkeeping, and the balance read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Select, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_ignoring_conflicts
from services.common.errors import NotFound
from services.common.point_reads import ReadSession
from services.growth.domain.standing import Standing
from services.growth.models import BalanceRow, MemberRow, ReviewRow


async def get_member(session: AsyncSession, customer: str, *, lock: bool = False) -> MemberRow:
    stmt = select(MemberRow).where(MemberRow.customer == customer)
    if lock:
        # populate_existing: a copy loaded earlier in this unit must not hide the locked row's values.
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise member_not_found(customer)
    return row


_MEMBERS = cast(Table, MemberRow.__table__)
_STANDING = select(_MEMBERS.c.level, _MEMBERS.c.override_level, _MEMBERS.c.override_until).where(
    _MEMBERS.c.customer == bindparam("customer")
)


async def standing(session: AsyncSession, customer: str) -> Standing:
    """What decides the member's effective level, read as one row (no ORM object); MEMBER_NOT_FOUND
    when not enrolled."""
    row = (await session.execute(_STANDING, {"customer": customer})).first()
    if row is None:
        raise member_not_found(customer)
    return cast(Standing, row)  # the row's level, override_level and override_until


def member_not_found(customer: str) -> NotFound:
    return NotFound("member", customer, "member not enrolled; call EnrollMember first", reason="MEMBER_NOT_FOUND")


async def find_member(session: AsyncSession, customer: str) -> MemberRow | None:
    return (await session.execute(select(MemberRow).where(MemberRow.customer == customer))).scalar_one_or_none()


async def is_member(session: AsyncSession, customer: str) -> bool:
    found = await session.execute(select(MemberRow.customer).where(MemberRow.customer == customer))
    return found.scalar_one_or_none() is not None


async def add_member(session: AsyncSession, row: MemberRow) -> None:
    session.add(row)
    await session.flush()


def _balance_query() -> Select[Any]:
    """The member and both balance rows in one SELECT on primary keys (no ORM objects)."""
    members, balances = cast(Table, MemberRow.__table__), cast(Table, BalanceRow.__table__)
    points, growth = balances.alias("p"), balances.alias("g")
    return (
        select(
            members.c.level,
            members.c.override_level,
            members.c.override_until,
            func.coalesce(points.c.available, 0).label("points_available"),
            func.coalesce(points.c.held, 0).label("points_held"),
            func.coalesce(points.c.pending, 0).label("points_pending"),
            func.coalesce(growth.c.available, 0).label("growth_total"),
        )
        .select_from(
            members.outerjoin(
                points, and_(points.c.member == members.c.customer, points.c.asset == "points")
            ).outerjoin(growth, and_(growth.c.member == members.c.customer, growth.c.asset == "growth"))
        )
        .where(members.c.customer == bindparam("customer"))
    )


BALANCE_QUERY = _balance_query()


async def balance(session: ReadSession, customer: str) -> Row[Any]:
    """Level standing and balances of a member; MEMBER_NOT_FOUND when not enrolled."""
    row = (await session.execute(BALANCE_QUERY, {"customer": customer})).first()
    if row is None:
        raise member_not_found(customer)
    return row


async def points_available(session: AsyncSession, customer: str) -> int:
    found = await session.execute(
        select(BalanceRow.available).where(BalanceRow.member == customer, BalanceRow.asset == "points")
    )
    return int(found.scalar_one())


async def set_level(session: AsyncSession, customer: str, level: str) -> None:
    """An upgrade: the new earned level, ending any grace period."""
    await session.execute(update(MemberRow).where(MemberRow.customer == customer).values(level=level, grace_until=None))


async def set_override(
    session: AsyncSession, member: MemberRow, level: str, until: datetime, reason: str, operator: str
) -> None:
    member.override_level = level
    member.override_until = until
    member.override_reason = reason
    member.override_operator = operator
    await session.flush()


async def review_recorded(session: AsyncSession, review_at: datetime) -> bool:
    found = await session.execute(select(ReviewRow.review_at).where(ReviewRow.review_at == review_at))
    return found.scalar_one_or_none() is not None


async def due_for_review(session: AsyncSession, review_at: datetime, now: datetime, *, recorded: bool) -> Sequence[str]:
    """Members whose grace has ended, and (while the review instant is not recorded as done) members not
    yet reviewed at it."""
    unreviewed = [] if recorded else [MemberRow.reviewed_at.is_(None), MemberRow.reviewed_at < review_at]
    found = await session.execute(select(MemberRow.customer).where(or_(MemberRow.grace_until <= now, *unreviewed)))
    return found.scalars().all()


async def lock_for_review(session: AsyncSession, customer: str) -> MemberRow:
    found = await session.execute(select(MemberRow).where(MemberRow.customer == customer).with_for_update())
    return found.scalar_one()


async def mark_reviewed(session: AsyncSession, customer: str, review_at: datetime) -> None:
    await session.execute(update(MemberRow).where(MemberRow.customer == customer).values(reviewed_at=review_at))


async def apply_review(
    session: AsyncSession, customer: str, level: str, grace_until: datetime | None, review_at: datetime
) -> None:
    await session.execute(
        update(MemberRow)
        .where(MemberRow.customer == customer)
        .values(level=level, grace_until=grace_until, reviewed_at=review_at)
    )


async def record_review(session: AsyncSession, dialect: str, review_at: datetime, now: datetime) -> None:
    """Marks a review instant done; a concurrent pass may have recorded it already."""
    await session.execute(
        insert_ignoring_conflicts(dialect, ReviewRow.__table__).values(review_at=review_at, completed_at=now)
    )


async def points_outstanding(session: AsyncSession) -> int:
    """Points issued and neither spent nor expired, over every member: available (less any debts) plus held
    for redemptions not yet confirmed. Pending awards are not issued yet."""
    total = await session.execute(
        select(func.coalesce(func.sum(BalanceRow.available + BalanceRow.held), 0)).where(BalanceRow.asset == "points")
    )
    return int(total.scalar_one())
