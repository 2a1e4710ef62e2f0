"""RecordActivity / PreviewActivity: turn one customer event into awards per the configured tasks.

Runs inside one write transaction. A preview runs the very same code and the caller rolls the
transaction back, so a dry run answers exactly what a real run would have awarded at that moment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_ignoring_conflicts
from services.growth.config import GrowthConfig, Task
from services.growth.domain import calendar, rules
from services.growth.models import ActivityRow, HoldRow, MemberRow, ReferralRow, StreakRow, TaskCounterRow
from services.growth.store.ledger import Ledger, Provenance, dialect_insert
from services.growth.store.members import effective_index, get_member, maybe_upgrade


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

    async def run(self, customer: str, activity: ActivityIn, *, dry_run: bool) -> ActivityResult:
        member = await get_member(self.s, customer)
        if dry_run:
            stored = (
                await self.s.execute(
                    select(ActivityRow.response).where(
                        ActivityRow.source == activity.source, ActivityRow.event_id == activity.event_id
                    )
                )
            ).first()
            if stored is not None:
                return ActivityResult(duplicate=True, stored_response=stored.response)
        claim = insert_ignoring_conflicts(self.dialect, ActivityRow.__table__).values(
            source=activity.source,
            event_id=activity.event_id,
            member=customer,
            type=activity.type,
            occurred_at=activity.occurred_at,
            recorded_at=self.now,
            config_version=self.version,
            response=None,
        )
        if int((await self.s.execute(claim)).rowcount) == 0:  # type: ignore[attr-defined]
            response = (
                await self.s.execute(
                    select(ActivityRow.response).where(
                        ActivityRow.source == activity.source, ActivityRow.event_id == activity.event_id
                    )
                )
            ).scalar_one()
            return ActivityResult(duplicate=True, stored_response=response)

        result = ActivityResult()
        grew: set[str] = set()
        for task in self.cfg.tasks:
            if not rules.matches(task, activity.type, activity.attributes):
                continue
            await self._apply_task(task, member, activity, result, grew)
        level = await maybe_upgrade(self.s, self.dialect, self.cfg, member, self.now)
        for other in grew - {customer}:
            await maybe_upgrade(self.s, self.dialect, self.cfg, await get_member(self.s, other), self.now)
        result.level = level
        return result

    async def _count(self, member: str, task: Task, occurred_at: datetime) -> tuple[str | None, int]:
        """Counts the award against every cap period; returns (refusal reason, lifetime count)."""
        done: list[str] = []
        lifetime = 0
        for period, cap in rules.cap_periods(task):
            key = calendar.period_key(period, occurred_at, self.tz)
            count = await self._increment(member, task.id, key, cap)
            if count is None:
                for undo in done:
                    await self.s.execute(
                        update(TaskCounterRow)
                        .where(
                            TaskCounterRow.member == member,
                            TaskCounterRow.task_id == task.id,
                            TaskCounterRow.period == undo,
                        )
                        .values(count=TaskCounterRow.count - 1)
                    )
                return f"CAP_{'LIFETIME' if period == 'lifetime' else 'PER_' + period.upper()}", 0
            done.append(key)
            if period == "lifetime":
                lifetime = count
        return None, lifetime

    async def _increment(self, member: str, task_id: str, period: str, cap: int | None) -> int | None:
        """One atomic upsert: +1 unless the cap is reached (then no row comes back)."""
        table = cast(Table, TaskCounterRow.__table__)
        stmt = dialect_insert(self.dialect, table).values(member=member, task_id=task_id, period=period, count=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=["member", "task_id", "period"],
            set_={"count": table.c.count + 1},
            where=(table.c.count < cap) if cap is not None else None,
        ).returning(table.c.count)
        row = (await self.s.execute(stmt)).first()
        return int(row[0]) if row is not None else None

    async def _streak(self, member: str, task: Task, occurred_at: datetime) -> bool:
        assert task.streak is not None
        today = calendar.local_day(occurred_at, self.tz)
        row = (
            await self.s.execute(select(StreakRow).where(StreakRow.member == member, StreakRow.task_id == task.id))
        ).scalar_one_or_none()
        length, changed = rules.streak_after(
            row.last_day if row else None,
            row.length if row else 0,
            today.isoformat(),
            (today - timedelta(days=1)).isoformat(),
        )
        if not changed:
            return False
        if row is None:
            self.s.add(StreakRow(member=member, task_id=task.id, last_day=today.isoformat(), length=length))
            await self.s.flush()
        else:
            await self.s.execute(
                update(StreakRow)
                .where(StreakRow.member == member, StreakRow.task_id == task.id)
                .values(last_day=today.isoformat(), length=length)
            )
        return length % task.streak.days == 0

    async def _apply_task(
        self, task: Task, member: MemberRow, activity: ActivityIn, result: ActivityResult, grew: set[str]
    ) -> None:
        refusal, lifetime = await self._count(member.customer, task, activity.occurred_at)
        if refusal:
            result.skipped.append((task.id, refusal))
            return
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
            self.s.add(
                HoldRow(
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
            await self.s.flush()
            result.awards.extend(AwardOut(task.id, customer, p, g, kind, True, hold_id, "") for kind, p, g in parts)
            return
        expires = calendar.expiry_for(self.cfg.expiry, self.now, self.tz)
        day = calendar.local_day(self.now, self.tz)
        txn = await self.ledger.earn(customer, points, growth, expires, day, prov)
        result.awards.extend(AwardOut(task.id, customer, p, g, kind, False, "", str(txn)) for kind, p, g in parts)

    async def _referral(
        self, task: Task, member: MemberRow, activity: ActivityIn, result: ActivityResult, grew: set[str]
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


async def save_response(session: AsyncSession, activity: ActivityIn, response: bytes) -> None:
    await session.execute(
        update(ActivityRow)
        .where(ActivityRow.source == activity.source, ActivityRow.event_id == activity.event_id)
        .values(response=response)
    )
