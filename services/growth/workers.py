"""Background jobs: expiry writer, hold timeouts, expiry warnings and level reviews.

Each job has a `run_once()` that does one pass at the app clock's current time (tests move a
ManualClock and call it; ops call RunMaintenance) and the loop in `loop()` repeats it. Every item is
processed in its own short write transaction so a pass never holds the single SQLite writer long and
a failure on one member does not stop the rest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_ignoring_conflicts
from services.common.errors import FailedPrecondition
from services.growth.domain import calendar, levels
from services.growth.holds import Holds
from services.growth.models import HoldRow, LotRow, MemberRow, RedemptionRow, ReviewRow
from services.growth.rights import Rights
from services.growth.store.events import emit
from services.growth.store.ledger import Ledger, Provenance, growth_since

if TYPE_CHECKING:
    from services.growth.app import GrowthApp

log = structlog.get_logger("skylane.growth.workers")


@dataclass
class PassResult:
    lots_expired: int = 0
    holds_timed_out: int = 0
    warnings_emitted: int = 0
    level_changes: int = 0


class Maintenance:
    def __init__(self, app: GrowthApp) -> None:
        self.app = app

    # ---- expiry ---------------------------------------------------------------------------
    async def expire_once(self) -> int:
        app, now = self.app, self.app.clock.now()
        batch = app.config.model.workers.batch_size
        async with app.db.report() as s:
            due = (
                await s.execute(
                    select(LotRow.id, LotRow.member, LotRow.remaining, LotRow.expires_at)
                    .where(LotRow.expires_at <= now, LotRow.remaining > 0)
                    .order_by(LotRow.expires_at, LotRow.id)
                    .limit(batch)
                )
            ).all()
        done = 0
        for lot in due:
            async with app.db.transaction() as s:
                txn = await Ledger(s, app.db.dialect, now).expire_lot(
                    lot.member, lot.id, Provenance(app.config.current.version, reason="expiry")
                )
                if txn is None:
                    continue
                await emit(
                    s,
                    app.db.dialect,
                    type="points_expired",
                    member=lot.member,
                    at=now,
                    data={"lot_id": str(lot.id), "transaction_id": str(txn), "expires_at": lot.expires_at.isoformat()},
                    dedupe_key=f"expired:{lot.id}:{txn}",
                )
                done += 1
        return done

    async def warn_once(self) -> int:
        """Emits `points_expiring` once per lot, `expiry_warning_days` before it expires."""
        app, now = self.app, self.app.clock.now()
        cfg = app.config.model
        horizon = now + timedelta(days=cfg.workers.expiry_warning_days)
        async with app.db.report() as s:
            due = (
                await s.execute(
                    select(LotRow.id, LotRow.member, LotRow.remaining, LotRow.expires_at)
                    .where(
                        LotRow.expires_at > now,
                        LotRow.expires_at <= horizon,
                        LotRow.remaining > 0,
                        LotRow.warned_at.is_(None),
                    )
                    .order_by(LotRow.expires_at, LotRow.id)
                    .limit(cfg.workers.batch_size)
                )
            ).all()
        if not due:
            return 0
        emitted = 0
        async with app.db.transaction() as s:
            for lot in due:
                if await emit(
                    s,
                    app.db.dialect,
                    type="points_expiring",
                    member=lot.member,
                    at=now,
                    data={
                        "lot_id": str(lot.id),
                        "points": str(lot.remaining),
                        "expires_at": lot.expires_at.isoformat(),
                    },
                    dedupe_key=f"expiring:{lot.id}",
                ):
                    emitted += 1
            await s.execute(update(LotRow).where(LotRow.id.in_([lot.id for lot in due])).values(warned_at=now))
        return emitted

    # ---- holds -----------------------------------------------------------------------------
    async def timeout_holds_once(self) -> int:
        app, now = self.app, self.app.clock.now()
        async with app.db.report() as s:
            due = (
                await s.execute(
                    select(HoldRow.id, HoldRow.on_timeout)
                    .where(HoldRow.status == "open", HoldRow.expires_at <= now)
                    .order_by(HoldRow.expires_at)
                    .limit(app.config.model.workers.batch_size)
                )
            ).all()
        done = 0
        for hold in due:
            try:
                async with app.db.transaction() as s:
                    await self._time_out(s, hold.id, hold.on_timeout == "confirm", now)
                done += 1
            except FailedPrecondition as exc:
                # Closed since the scan (a concurrent pass, a confirm or a release): nothing left to do.
                log.debug("hold_timeout_skipped", hold_id=hold.id, reason=exc.reason)
            except Exception:  # one bad hold must not stop the pass; it is retried next pass
                log.exception("hold_timeout_failed", hold_id=hold.id)
        return done

    async def _time_out(self, s: AsyncSession, hold_id: str, confirm: bool, now: datetime) -> None:
        app = self.app
        cfg, version = app.config.model, app.config.current.version
        redemption = (
            await s.execute(select(RedemptionRow.id).where(RedemptionRow.hold_id == hold_id))
        ).scalar_one_or_none()
        if redemption is not None:
            await Rights(s, app.db.dialect, cfg, version, now, app.new_id, app.new_code).cancel(
                redemption, "hold timed out", timed_out=True
            )
        else:
            await Holds(s, app.db.dialect, cfg, version, now).close(hold_id, confirm=confirm, timed_out=True)

    # ---- levels ----------------------------------------------------------------------------
    async def review_once(self) -> int:
        app, now = self.app, self.app.clock.now()
        cfg = app.config.model
        tz = ZoneInfo(cfg.timezone)
        review_at = calendar.previous_review(cfg.levels, now, tz)
        changes = 0
        async with app.db.report() as s:
            reviewed = (
                await s.execute(select(ReviewRow.review_at).where(ReviewRow.review_at == review_at))
            ).scalar_one_or_none()
            members = (
                (
                    await s.execute(
                        select(MemberRow.customer).where(
                            or_(
                                MemberRow.grace_until <= now,
                                *(
                                    []
                                    if reviewed is not None
                                    else [MemberRow.reviewed_at.is_(None), MemberRow.reviewed_at < review_at]
                                ),
                            )
                        )
                    )
                )
                .scalars()
                .all()
            )
        for customer in members:
            async with app.db.transaction() as s:
                if await self._review_member(s, customer, review_at, now, tz):
                    changes += 1
        if reviewed is None:
            async with app.db.transaction() as s:
                # A concurrent pass (another process, an ops call racing the loop) may have recorded it.
                await s.execute(
                    insert_ignoring_conflicts(app.db.dialect, ReviewRow.__table__).values(
                        review_at=review_at, completed_at=now
                    )
                )
        return changes

    async def _review_member(
        self, s: AsyncSession, customer: str, review_at: datetime, now: datetime, tz: ZoneInfo
    ) -> bool:
        cfg = self.app.config.model
        member = (
            await s.execute(select(MemberRow).where(MemberRow.customer == customer).with_for_update())
        ).scalar_one()
        if not _review_due(member, review_at, now):
            # Reviewed by a concurrent pass after this one listed it: once is the whole effect.
            return False
        if member.enrolled_at >= review_at and member.grace_until is None:
            # Joined after this review: nothing to review yet.
            await s.execute(update(MemberRow).where(MemberRow.customer == customer).values(reviewed_at=review_at))
            return False
        in_grace_end = member.grace_until is not None and member.grace_until <= now
        if in_grace_end and cfg.levels.window != "rolling_12_months":
            start = calendar.window_start(cfg.levels, review_at, tz, at_review=True)
            growth = await growth_since(s, customer, start)
        elif in_grace_end:
            growth = await growth_since(s, customer, calendar.window_start(cfg.levels, now, tz))
        else:
            start = calendar.window_start(cfg.levels, review_at, tz, at_review=True)
            end = calendar.local_day(review_at, tz)
            growth = await growth_since(s, customer, start, end - timedelta(days=1))
        current, old = cfg.level_index(member.level), member.level
        outcome = levels.review(cfg.levels, current, levels.level_for(cfg.levels, growth), member.grace_until, now)
        new_level = cfg.levels.tiers[outcome.level].id
        await s.execute(
            update(MemberRow)
            .where(MemberRow.customer == customer)
            .values(level=new_level, grace_until=outcome.grace_until, reviewed_at=review_at)
        )
        if outcome.changed:
            await emit(
                s,
                self.app.db.dialect,
                type="level_changed",
                member=customer,
                at=now,
                data={"from": old, "to": new_level, "why": "review", "window_growth": str(growth)},
                dedupe_key=f"level:{customer}:{now.isoformat()}:{new_level}",
            )
        if outcome.grace_started:
            assert outcome.grace_until is not None
            await emit(
                s,
                self.app.db.dialect,
                type="level_grace_started",
                member=customer,
                at=now,
                data={"level": old, "grace_until": outcome.grace_until.isoformat(), "window_growth": str(growth)},
                dedupe_key=f"grace:{customer}:{review_at.isoformat()}",
            )
        return outcome.changed or outcome.grace_started

    # ---- all -------------------------------------------------------------------------------
    async def run_once(self) -> PassResult:
        result = PassResult()
        result.holds_timed_out = await self.timeout_holds_once()
        result.lots_expired = await self.expire_once()
        result.warnings_emitted = await self.warn_once()
        result.level_changes = await self.review_once()
        return result

    def loops(self) -> list[Callable[[], Awaitable[None]]]:
        """One background loop per job, as ServiceApp.workers() expects."""
        return [
            self._loop("expiry", self.expire_once),
            self._loop("hold_timeouts", self.timeout_holds_once),
            self._loop("expiry_warnings", self.warn_once),
            self._loop("level_reviews", self.review_once),
        ]

    def _loop(self, name: str, job: Callable[[], Awaitable[int]]) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            while True:
                # Sleep first: a pass at start-up would race tests that drive passes themselves.
                await asyncio.sleep(self.app.config.model.workers.interval_seconds)
                try:
                    count = await job()
                    if count:
                        log.info("growth_job_pass", job=name, items=count)
                except asyncio.CancelledError:
                    raise
                except Exception:  # keep the loop alive; the next pass retries
                    log.exception("growth_job_failed", job=name)

        return run


def _review_due(member: MemberRow, review_at: datetime, now: datetime) -> bool:
    """What the pass lists, re-read under the member's row lock: a grace period that has ended, or
    the review instant not yet applied."""
    if member.grace_until is not None and member.grace_until <= now:
        return True
    return member.reviewed_at is None or member.reviewed_at < review_at
