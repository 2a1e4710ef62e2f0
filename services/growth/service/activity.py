"""RecordActivity / PreviewActivity: turn one customer event into awards per the configured tasks.

Runs inside one write unit of work. A preview runs the very same code and is rolled back, so a dry
run answers exactly what a real run would have awarded at that moment.

This is the service's hottest write, so it is kept to a handful of statements: one SELECT for the
member, its growth total and the duplicate check; one upsert for every cap counter of every matching
task; the ledger posting (ledger.earn); and the event row written last with its response.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.batching import WriteBatcher
from services.common.clock import Clock
from services.growth.config import Task
from services.growth.domain import awards, calendar, caps, rules
from services.growth.domain.awards import ActivityIn, ActivityResult, AwardOut, Part
from services.growth.domain.standing import MemberState, multiplier
from services.growth.service import convert, outgoing
from services.growth.service.context import Deps
from services.growth.service.levels import maybe_upgrade
from services.growth.service.telemetry import ISSUED
from services.growth.store import activity as store
from services.growth.store.holds import insert_pending
from services.growth.store.ledger import Ledger, Provenance
from services.growth.store.members import get_member, is_member, member_not_found
from skylane.growth.v1 import growth_pb2

# A unit of work that lost the race to a concurrent copy of its event is run again this many times.
ATTEMPTS = 3


class ConcurrentDuplicate(Exception):
    """Another transaction recorded the same event first (PostgreSQL); the caller runs the unit again."""


class TaskIndex:
    """Tasks listening to each event type, indexed once per config version (kept in memory)."""

    def __init__(self) -> None:
        self._index: tuple[str, dict[str, list[Task]]] = ("", {})

    def tasks_for(self, deps: Deps, event_type: str) -> list[Task]:
        if self._index[0] != deps.version:
            index: dict[str, list[Task]] = {}
            for task in deps.cfg.tasks:
                index.setdefault(task.event_type, []).append(task)
            self._index = (deps.version, index)
        return self._index[1].get(event_type, [])


class ActivityProcessor:
    def __init__(self, session: AsyncSession, deps: Deps) -> None:
        self.s, self.deps, self.cfg, self.now = session, deps, deps.cfg, deps.now
        self.tz = deps.tz
        self.ledger = Ledger(session, deps.dialect, deps.now)

    async def run(self, customer: str, activity: ActivityIn, tasks: Sequence[Task]) -> ActivityResult:
        """Awards `activity` per the matching `tasks`; a duplicate event returns the stored response.

        The caller stores the event (store.record_once) with the response it builds from the result.
        """
        row = await store.prefetch(self.s, customer, activity)
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
        counts = await self._count(customer, matching, activity)
        for task in matching:
            refusal, lifetime = counts[task.id]
            if refusal:
                result.skipped.append((task.id, refusal))
                continue
            await self._apply_task(task, member, lifetime, activity, result, grew)
        total = self.ledger.growth_totals.get(customer, member.growth_total)
        result.level = await maybe_upgrade(self.s, self.deps.dialect, self.cfg, member, self.now, growth_total=total)
        for other in sorted(grew - {customer}):
            await maybe_upgrade(self.s, self.deps.dialect, self.cfg, await get_member(self.s, other), self.now)
        return result

    async def _count(self, member: str, tasks: list[Task], activity: ActivityIn) -> dict[str, tuple[str | None, int]]:
        """Counts the award against every cap period of every task, one upsert per counter.

        Returns per task (refusal reason, lifetime count); a refused task's other counters are taken back.
        """
        wanted = caps.counters(tasks, activity.occurred_at, self.tz)
        if not wanted:
            return {}
        counted: dict[tuple[str, str], int] = {}
        for c in wanted:
            now_counted = await store.count(self.s, member, c.task_id, c.key, c.cap)
            if now_counted is not None:
                counted[(c.task_id, c.key)] = now_counted
        outcome = caps.decide(tasks, wanted, counted)
        await store.uncount(self.s, member, outcome.undo)
        return outcome.refusals

    async def _streak_completed(self, member: str, task: Task, activity: ActivityIn) -> bool:
        """Extends the member's streak on the task; True when this event completes one."""
        assert task.streak is not None
        today = calendar.local_day(activity.occurred_at, self.tz)
        last_day, length = await store.streak(self.s, member, task.id)
        length, changed = rules.streak_after(
            last_day, length, today.isoformat(), (today - timedelta(days=1)).isoformat()
        )
        if not changed:
            return False
        await store.save_streak(self.s, self.deps.dialect, member, task.id, today.isoformat(), length)
        return awards.streak_completes(length, task.streak.days)

    async def _apply_task(
        self,
        task: Task,
        member: MemberState,
        lifetime: int,
        activity: ActivityIn,
        result: ActivityResult,
        grew: set[str],
    ) -> None:
        streak = task.streak is not None and await self._streak_completed(member.customer, task, activity)
        parts = awards.parts(task, activity.attributes, multiplier(self.cfg, member, self.now), lifetime, streak)
        if parts:
            await self._post(task, member.customer, activity, parts, result)
            if any(g for _, _, g in parts):
                grew.add(member.customer)
        if task.referral:
            await self._referral(task, member, activity, result, grew)

    async def _post(
        self, task: Task, customer: str, activity: ActivityIn, parts: list[Part], result: ActivityResult
    ) -> None:
        points = sum(p for _, p, _ in parts)
        growth = sum(g for _, _, g in parts)
        prov = Provenance(
            config_version=self.deps.version,
            event_source=activity.source,
            event_id=activity.event_id,
            task_id=task.id,
            reason="+".join(kind for kind, _, _ in parts),
        )
        if task.pending:
            hold_id = self.deps.new_id()
            txn = await self.ledger.hold_pending(customer, points, growth, prov, hold_id)
            await insert_pending(
                self.s,
                hold_id=hold_id,
                customer=customer,
                points=points,
                growth=growth,
                expires_at=self.now + timedelta(days=task.pending.days),
                on_timeout=task.pending.on_timeout,
                task_id=task.id,
                open_txn_id=txn,
                now=self.now,
            )
            result.awards.extend(AwardOut(task.id, customer, p, g, kind, True, hold_id, "") for kind, p, g in parts)
            return
        expires = calendar.expiry_for(self.cfg.expiry, self.now, self.tz)
        day = calendar.local_day(self.now, self.tz)
        txn = await self.ledger.earn(customer, points, growth, expires, day, prov)
        self.deps.telemetry.points(ISSUED, points)
        result.awards.extend(AwardOut(task.id, customer, p, g, kind, False, "", str(txn)) for kind, p, g in parts)

    async def _referral(
        self, task: Task, member: MemberState, activity: ActivityIn, result: ActivityResult, grew: set[str]
    ) -> None:
        assert task.referral is not None
        referrer = awards.referrer_for(task, activity.attributes, member.customer, member.referrer)
        if referrer is None or not await is_member(self.s, referrer):
            result.skipped.append((task.id, "REFERRER_UNKNOWN"))
            return
        if not await store.claim_referral(self.s, self.deps.dialect, member.customer, referrer, task.id, self.now):
            result.skipped.append((task.id, "REFERRAL_ALREADY_REWARDED"))
            return
        bonus = task.referral.bonus
        if bonus.points or bonus.growth:
            await self._post(task, referrer, activity, [("referral", bonus.points, bonus.growth)], result)
            if bonus.growth:
                grew.add(referrer)


async def record(
    session: AsyncSession, deps: Deps, customer: str, activity: ActivityIn, tasks: Sequence[Task]
) -> growth_pb2.RecordActivityResponse:
    """RecordActivity: the awards, and the event stored with the response a replay of it answers."""
    result = await ActivityProcessor(session, deps).run(customer, activity, tasks)
    if result.duplicate:
        return convert.stored_activity_response(result, dry_run=False)
    response = convert.activity_response(result, deps.version, dry_run=False)
    stored = response.SerializeToString(deterministic=True)
    if not await store.record_once(session, deps.dialect, customer, activity, deps.version, deps.now, stored):
        raise ConcurrentDuplicate(activity.event_id)
    await outgoing.points_earned(session, deps, activity, result)
    return response


async def retrying_duplicates(
    unit: Callable[[], Awaitable[growth_pb2.RecordActivityResponse]],
) -> growth_pb2.RecordActivityResponse:
    """Runs a RecordActivity unit of work; one that lost the race with a concurrent copy of its event
    rolled back, and its retry answers as a duplicate."""
    for attempt in range(ATTEMPTS):
        try:
            return await unit()
        except ConcurrentDuplicate:
            if attempt == ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


class _Rollback(Exception):
    """Carries a dry run's result out of the transaction it must not commit."""

    def __init__(self, result: Any) -> None:
        super().__init__("dry run")
        self.result = result


async def preview(
    writes: WriteBatcher, clock: Clock, deps: Deps, customer: str, activity: ActivityIn, tasks: Sequence[Task]
) -> ActivityResult:
    """PreviewActivity: what RecordActivity would award now, computed in a unit of work that rolls back.

    It goes through the batcher like a real write (the unit's savepoint is rolled back by _Rollback),
    so it sees and locks exactly what a real write would.
    """

    async def dry_run(s: AsyncSession) -> None:
        raise _Rollback(await ActivityProcessor(s, deps.at(clock.now())).run(customer, activity, tasks))

    try:
        await writes.run(dry_run)
        raise AssertionError("a dry run always rolls back")
    except _Rollback as done:
        result: ActivityResult = done.result
    return result
