"""Rows behind RecordActivity: the event record with its response, cap counters, streaks and referral
claims. Kept to few statements: this is the service's hottest write."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Select, Table, and_, bindparam, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import dialect_insert, insert_ignoring_conflicts
from services.growth.domain.awards import ActivityIn
from services.growth.models import ActivityRow, BalanceRow, MemberRow, ReferralRow, StreakRow, TaskCounterRow

_activities = cast(Table, ActivityRow.__table__)
_counters = cast(Table, TaskCounterRow.__table__)
_streaks = cast(Table, StreakRow.__table__)

# Text, not dialect insert(): SQLAlchemy cannot cache ON CONFLICT DO UPDATE constructs and would
# recompile the statement on every call. One statement per counter; a counter at its cap is left alone
# (the conditional DO UPDATE returns no row). SQLite (3.35+) and PostgreSQL share the syntax.
_UPSERT_COUNT = (
    "INSERT INTO task_counters (member, task_id, period, count) VALUES (:member, :task_id, :period, 1) "
    "ON CONFLICT (member, task_id, period) DO UPDATE SET count = task_counters.count + 1"
)
_COUNT = text(f"{_UPSERT_COUNT} RETURNING count")
_COUNT_BELOW_CAP = text(f"{_UPSERT_COUNT} WHERE task_counters.count < :cap RETURNING count")


def _prefetch() -> Select[Any]:
    """Member standing, all-time growth and the event's stored response (if any): one indexed SELECT."""
    members, growth = cast(Table, MemberRow.__table__), cast(Table, BalanceRow.__table__).alias("g")
    stored = (
        select(_activities.c.response)
        .where(_activities.c.source == bindparam("source"), _activities.c.event_id == bindparam("event_id"))
        .scalar_subquery()
    )
    return (
        select(
            members.c.customer,
            members.c.level,
            members.c.referrer,
            members.c.override_level,
            members.c.override_until,
            func.coalesce(growth.c.available, 0).label("growth_total"),
            stored.label("stored"),
        )
        .select_from(members.outerjoin(growth, and_(growth.c.member == members.c.customer, growth.c.asset == "growth")))
        .where(members.c.customer == bindparam("customer"))
    )


_PREFETCH = _prefetch()


async def prefetch(session: AsyncSession, customer: str, activity: ActivityIn) -> Row[Any] | None:
    """The member's standing and the event's stored response; None when the member is not enrolled."""
    params = {"customer": customer, "source": activity.source, "event_id": activity.event_id}
    return (await session.execute(_PREFETCH, params)).first()


async def count(session: AsyncSession, member: str, task_id: str, key: str, cap: int | None) -> int | None:
    """Counts one award on a counter; the new count, or None when the counter is at its cap."""
    params: dict[str, Any] = {"member": member, "task_id": task_id, "period": key}
    if cap is None:
        row = (await session.execute(_COUNT, params)).first()
    else:
        row = (await session.execute(_COUNT_BELOW_CAP, {**params, "cap": cap})).first()
    return None if row is None else int(row[0])


async def uncount(session: AsyncSession, member: str, counters: list[tuple[str, str]]) -> None:
    """Takes one count back from each (task id, key) counter, in one executemany."""
    if not counters:
        return
    await session.execute(
        update(_counters)
        .where(
            _counters.c.member == member,
            _counters.c.task_id == bindparam("b_task"),
            _counters.c.period == bindparam("b_period"),
        )
        .values(count=_counters.c.count - 1),
        [{"b_task": task_id, "b_period": key} for task_id, key in counters],
    )


async def streak(session: AsyncSession, member: str, task_id: str) -> tuple[str | None, int]:
    """(last local day, length) of a member's streak on a task; (None, 0) before the first day."""
    row = (
        await session.execute(
            select(_streaks.c.last_day, _streaks.c.length).where(
                _streaks.c.member == member, _streaks.c.task_id == task_id
            )
        )
    ).first()
    return (row.last_day, row.length) if row else (None, 0)


async def save_streak(session: AsyncSession, dialect: str, member: str, task_id: str, day: str, length: int) -> None:
    stmt = dialect_insert(dialect, _streaks).values(member=member, task_id=task_id, last_day=day, length=length)
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["member", "task_id"], set_={"last_day": day, "length": length})
    )


async def claim_referral(
    session: AsyncSession, dialect: str, referee: str, referrer: str, task_id: str, now: datetime
) -> bool:
    """Records that a referee's referral was rewarded; False when it already was."""
    claim = insert_ignoring_conflicts(dialect, ReferralRow.__table__).values(
        referee=referee, referrer=referrer, task_id=task_id, rewarded_at=now
    )
    return int((await session.execute(claim)).rowcount) != 0  # type: ignore[attr-defined]


async def record_once(
    session: AsyncSession,
    dialect: str,
    customer: str,
    activity: ActivityIn,
    version: str,
    now: datetime,
    response: bytes,
) -> bool:
    """Stores the event with its response; False when the same (source, id) is already there.

    Written last, with the response, in the same transaction as the awards: one statement instead
    of a claim and an update. A concurrent duplicate on PostgreSQL waits on the unique key here and
    then inserts nothing; its caller rolls back and retries, and the retry answers as a duplicate.
    """
    row = {
        "source": activity.source,
        "event_id": activity.event_id,
        "member": customer,
        "type": activity.type,
        "occurred_at": activity.occurred_at,
        "recorded_at": now,
        "config_version": version,
        "response": response,
    }
    stmt = insert_ignoring_conflicts(dialect, _activities)  # one object per dialect: its plan is found by object
    return int((await session.execute(stmt, row)).rowcount) == 1  # type: ignore[attr-defined]
