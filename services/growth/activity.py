"""RecordActivity / PreviewActivity: turn one customer event into awards per the configured tasks.

Runs inside one write unit of work. A preview runs the very same code and the caller rolls it back,
so a dry run answers exactly what a real run would have awarded at that moment.

This is the service's hottest write, so it is kept to a handful of statements: one SELECT for the
member, its growth total and the duplicate check; one upsert for every cap counter of every matching
task; the ledger posting (ledger.earn); and the event row written last with its response.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Select, Table, and_, bindparam, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_ignoring_conflicts
from services.growth.config import GrowthConfig, Task
from services.growth.domain import calendar, rules
from services.growth.models import (
    ActivityRow,
    BalanceRow,
    HoldRow,
    MemberRow,
    ReferralRow,
    StreakRow,
    TaskCounterRow,
)
from services.growth.store.ledger import Ledger, Provenance, dialect_insert
from services.growth.store.members import MemberState, effective_index, get_member, maybe_upgrade, member_not_found

_activities = cast(Table, ActivityRow.__table__)
_counters = cast(Table, TaskCounterRow.__table__)
_holds = cast(Table, HoldRow.__table__)
_streaks = cast(Table, StreakRow.__table__)

# Text, not dialect insert(): SQLAlchemy cannot cache ON CONFLICT DO UPDATE constructs and recompiled the
# multi-row form on every call. One statement per counter; a counter at its cap is left alone (the
# conditional DO UPDATE returns no row). SQLite (3.35+) and PostgreSQL share the syntax.
_UPSERT_COUNT = (
    "INSERT INTO task_counters (member, task_id, period, count) VALUES (:member, :task_id, :period, 1) "
    "ON CONFLICT (member, task_id, period) DO UPDATE SET count = task_counters.count + 1"
)
_COUNT = text(f"{_UPSERT_COUNT} RETURNING count")
_COUNT_BELOW_CAP = text(f"{_UPSERT_COUNT} WHERE task_counters.count < :cap RETURNING count")


@dataclass(frozen=True)
class ActivityIn:
    source: str
    event_id: str
    type: str
    occurred_at: datetime
    attributes: Mapping[str, str]


@dataclass
class AwardOut:
    task_id: str
    customer: str
    points: int
    growth: int
    kind: str
    pending: bool = False
    hold_id: str = ""
    transaction_id: str = ""


@dataclass
class ActivityResult:
    awards: list[AwardOut] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    duplicate: bool = False
    stored_response: bytes | None = None
    level: str = ""


class ConcurrentDuplicate(Exception):
    """Another transaction recorded the same event first (PostgreSQL); the caller runs the unit again."""


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
    stmt = insert_ignoring_conflicts(dialect, _activities).values(
        source=activity.source,
        event_id=activity.event_id,
        member=customer,
        type=activity.type,
        occurred_at=activity.occurred_at,
        recorded_at=now,
        config_version=version,
        response=response,
    )
    return int((await session.execute(stmt)).rowcount) == 1  # type: ignore[attr-defined]


class ActivityProcessor:
    def __init__(
        self,
        session: AsyncSession,
        dialect: str,
        cfg: GrowthConfig,
        version: str,
        now: datetime,
        new_id: Callable[[], str],
    ) -> None:
        self.s, self.dialect, self.cfg, self.version, self.now = session, dialect, cfg, version, now
        self.tz = ZoneInfo(cfg.timezone)
        self.ledger = Ledger(session, dialect, now)
        self.new_id = new_id

    async def run(self, customer: str, activity: ActivityIn, tasks: Sequence[Task]) -> ActivityResult:
        """Awards `activity` per the matching `tasks`; a duplicate event returns the stored response.

        The caller stores the event (record_once) with the response it builds from the result.
        """
        row = (
            await self.s.execute(
                _PREFETCH, {"customer": customer, "source": activity.source, "event_id": activity.event_id}
            )
        ).first()
        if row is None:
            raise member_not_found(customer)
        if row.stored is not None:
            return ActivityResult(duplicate=True, stored_response=row.stored)
        member = MemberState(
            row.customer, row.level, row.referrer, row.override_level, row.override_until, int(row.growth_total)
        )
        result = ActivityResult()
        grew: set[str] = set()
        matching = [t for t in tasks if rules.matches(t, activity.type, activity.attributes)]
        counts = await self._count(customer, matching, activity.occurred_at)
        for task in matching:
            refusal, lifetime = counts[task.id]
            if refusal:
                result.skipped.append((task.id, refusal))
                continue
            await self._apply_task(task, member, lifetime, activity, result, grew)
        total = self.ledger.growth_totals.get(customer, member.growth_total)
        result.level = await maybe_upgrade(self.s, self.dialect, self.cfg, member, self.now, growth_total=total)
        for other in sorted(grew - {customer}):
            await maybe_upgrade(self.s, self.dialect, self.cfg, await get_member(self.s, other), self.now)
        return result

    async def _count(self, member: str, tasks: list[Task], occurred_at: datetime) -> dict[str, tuple[str | None, int]]:
        """Counts the awards against every cap period of every task in one upsert.

        Returns per task (refusal reason, lifetime count). A counter at its cap is left alone (the
        conditional DO UPDATE returns no row); a refused task's other counters are taken back.
        """
        wanted = [
            (task.id, period, calendar.period_key(period, occurred_at, self.tz), cap)
            for task in tasks
            for period, cap in rules.cap_periods(task)
        ]
        if not wanted:
            return {}
        counted: dict[tuple[str, str], int] = {}
        for task_id, _, key, cap in wanted:
            params = {"member": member, "task_id": task_id, "period": key}
            if cap is None:
                row = (await self.s.execute(_COUNT, params)).first()
            else:
                row = (await self.s.execute(_COUNT_BELOW_CAP, {**params, "cap": cap})).first()
            if row is not None:
                counted[(task_id, key)] = int(row[0])
        out: dict[str, tuple[str | None, int]] = {}
        undo: list[dict[str, str]] = []
        for task in tasks:
            mine = [(period, key) for task_id, period, key, _ in wanted if task_id == task.id]
            refused = next((period for period, key in mine if (task.id, key) not in counted), None)
            if refused is None:
                out[task.id] = (None, counted[(task.id, "life")])
                continue
            out[task.id] = (f"CAP_{'LIFETIME' if refused == 'lifetime' else 'PER_' + refused.upper()}", 0)
            undo += [{"b_task": task.id, "b_period": key} for _, key in mine if (task.id, key) in counted]
        if undo:
            await self.s.execute(
                update(_counters)
                .where(
                    _counters.c.member == member,
                    _counters.c.task_id == bindparam("b_task"),
                    _counters.c.period == bindparam("b_period"),
                )
                .values(count=_counters.c.count - 1),
                undo,
            )
        return out

    async def _streak(self, member: str, task: Task, occurred_at: datetime) -> bool:
        assert task.streak is not None
        today = calendar.local_day(occurred_at, self.tz)
        row = (
            await self.s.execute(
                select(_streaks.c.last_day, _streaks.c.length).where(
                    _streaks.c.member == member, _streaks.c.task_id == task.id
                )
            )
        ).first()
        length, changed = rules.streak_after(
            row.last_day if row else None,
            row.length if row else 0,
            today.isoformat(),
            (today - timedelta(days=1)).isoformat(),
        )
        if not changed:
            return False
        stmt = dialect_insert(self.dialect, _streaks).values(
            member=member, task_id=task.id, last_day=today.isoformat(), length=length
        )
        await self.s.execute(
            stmt.on_conflict_do_update(
                index_elements=["member", "task_id"], set_={"last_day": today.isoformat(), "length": length}
            )
        )
        return length % task.streak.days == 0

    async def _apply_task(
        self,
        task: Task,
        member: MemberState,
        lifetime: int,
        activity: ActivityIn,
        result: ActivityResult,
        grew: set[str],
    ) -> None:
        multiplier = self.cfg.levels.tiers[effective_index(self.cfg, member, self.now)].points_multiplier
        parts: list[tuple[str, int, int]] = []
        base = rules.with_multiplier(
            rules.base_points(task, activity.attributes), multiplier, task.apply_level_multiplier
        )
        if base or task.growth:
            parts.append(("base", base, task.growth))
        if task.first_time_bonus and lifetime == 1:
            bonus = task.first_time_bonus
            parts.append(
                (
                    "first_time",
                    rules.with_multiplier(bonus.points, multiplier, task.apply_level_multiplier),
                    bonus.growth,
                )
            )
        if task.streak and await self._streak(member.customer, task, activity.occurred_at):
            bonus = task.streak.bonus
            parts.append(
                ("streak", rules.with_multiplier(bonus.points, multiplier, task.apply_level_multiplier), bonus.growth)
            )
        if parts:
            await self._post(task, member.customer, activity, parts, result)
            if any(g for _, _, g in parts):
                grew.add(member.customer)
        if task.referral:
            await self._referral(task, member, activity, result, grew)

    async def _post(
        self, task: Task, customer: str, activity: ActivityIn, parts: list[tuple[str, int, int]], result: ActivityResult
    ) -> None:
        points = sum(p for _, p, _ in parts)
        growth = sum(g for _, _, g in parts)
        prov = Provenance(
            config_version=self.version,
            event_source=activity.source,
            event_id=activity.event_id,
            task_id=task.id,
            reason="+".join(kind for kind, _, _ in parts),
        )
        if task.pending:
            hold_id = self.new_id()
            txn = await self.ledger.hold_pending(customer, points, growth, prov, hold_id)
            await self.s.execute(
                insert(_holds).values(
                    id=hold_id,
                    member=customer,
                    kind="pending",
                    points=points,
                    growth=growth,
                    status="open",
                    expires_at=self.now + timedelta(days=task.pending.days),
                    on_timeout=task.pending.on_timeout,
                    reason=f"task:{task.id}",
                    task_id=task.id,
                    open_txn_id=txn,
                    close_txn_id=None,
                    created_at=self.now,
                )
            )
            result.awards.extend(AwardOut(task.id, customer, p, g, kind, True, hold_id, "") for kind, p, g in parts)
            return
        expires = calendar.expiry_for(self.cfg.expiry, self.now, self.tz)
        day = calendar.local_day(self.now, self.tz)
        txn = await self.ledger.earn(customer, points, growth, expires, day, prov)
        result.awards.extend(AwardOut(task.id, customer, p, g, kind, False, "", str(txn)) for kind, p, g in parts)

    async def _referral(
        self, task: Task, member: MemberState, activity: ActivityIn, result: ActivityResult, grew: set[str]
    ) -> None:
        assert task.referral is not None
        referrer = activity.attributes.get(task.referral.referrer_attribute) or member.referrer
        if not referrer or referrer == member.customer:
            result.skipped.append((task.id, "REFERRER_UNKNOWN"))
            return
        exists = (
            await self.s.execute(select(MemberRow.customer).where(MemberRow.customer == referrer))
        ).scalar_one_or_none()
        if exists is None:
            result.skipped.append((task.id, "REFERRER_UNKNOWN"))
            return
        claim = insert_ignoring_conflicts(self.dialect, ReferralRow.__table__).values(
            referee=member.customer, referrer=referrer, task_id=task.id, rewarded_at=self.now
        )
        if int((await self.s.execute(claim)).rowcount) == 0:  # type: ignore[attr-defined]
            result.skipped.append((task.id, "REFERRAL_ALREADY_REWARDED"))
            return
        bonus = task.referral.bonus
        if bonus.points or bonus.growth:
            await self._post(task, referrer, activity, [("referral", bonus.points, bonus.growth)], result)
            if bonus.growth:
                grew.add(referrer)
