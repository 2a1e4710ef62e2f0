"""Maintenance passes: the expiry writer, hold timeouts, expiry warnings and level reviews.

Each job's `*_once()` does one pass at the clock's current time; the background loops (workers.py)
and the RunMaintenance RPC call the same passes. Every item is processed in its own short write
transaction, not one unit of work for the pass, so a pass never holds the single SQLite writer long
and a failure on one member does not stop the rest. Every item is idempotent, so passes running at
once (a loop, an ops call, another process) have one effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.errors import FailedPrecondition
from services.common.outbox import emit
from services.growth.domain import calendar
from services.growth.service.context import Deps, Runtime
from services.growth.service.holds import Holds
from services.growth.service.levels import review_member
from services.growth.service.rights import Rights
from services.growth.service.telemetry import EXPIRED
from services.growth.store import holds, lots, members, transactions
from services.growth.store.idempotency import key_recorded
from services.growth.store.ledger import Ledger, Provenance
from services.growth.store.rights import redemption_of_hold
from skylane.growth.v1 import growth_pb2

log = structlog.get_logger("skylane.growth.maintenance")

METHOD = "GrowthOpsService.RunMaintenance"


@dataclass
class PassResult:
    lots_expired: int = 0
    holds_timed_out: int = 0
    warnings_emitted: int = 0
    level_changes: int = 0


class Maintenance:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    async def expire_once(self) -> int:
        """Writes the expiry of every lot past its date (a batch per pass), each in its own transaction."""
        deps, db = self.rt.deps(), self.rt.db
        async with db.report() as s:
            due = await lots.due_to_expire(s, deps.now, deps.cfg.workers.batch_size)
        done = 0
        for lot in due:
            async with db.transaction() as s:
                txn = await Ledger(s, deps.dialect, deps.now).expire_lot(
                    lot.member, lot.id, Provenance(deps.version, reason="expiry")
                )
                if txn is None:
                    continue
                deps.telemetry.points(EXPIRED, -await transactions.points_moved(s, txn))
                await emit(
                    s,
                    deps.dialect,
                    type="points_expired",
                    customer=lot.member,
                    at=deps.now,
                    data={"lot_id": str(lot.id), "transaction_id": str(txn), "expires_at": lot.expires_at.isoformat()},
                    dedupe_key=f"expired:{lot.id}:{txn}",
                )
                done += 1
        return done

    async def warn_once(self) -> int:
        """Emits `points_expiring` once per lot, `expiry_warning_days` before it expires."""
        deps, db = self.rt.deps(), self.rt.db
        workers = deps.cfg.workers
        horizon = deps.now + timedelta(days=workers.expiry_warning_days)
        async with db.report() as s:
            due = await lots.due_for_warning(s, deps.now, horizon, workers.batch_size)
        if not due:
            return 0
        emitted = 0
        async with db.transaction() as s:
            for lot in due:
                if await emit(
                    s,
                    deps.dialect,
                    type="points_expiring",
                    customer=lot.member,
                    at=deps.now,
                    data={
                        "lot_id": str(lot.id),
                        "points": str(lot.remaining),
                        "expires_at": lot.expires_at.isoformat(),
                    },
                    dedupe_key=f"expiring:{lot.id}",
                ):
                    emitted += 1
            await lots.mark_warned(s, [lot.id for lot in due], deps.now)
        return emitted

    async def timeout_holds_once(self) -> int:
        """Closes holds past their expiry as their `on_timeout` says (a redemption's hold cancels it)."""
        deps, db = self.rt.deps(), self.rt.db
        async with db.report() as s:
            due = await holds.due_holds(s, deps.now, deps.cfg.workers.batch_size)
        done = 0
        for hold in due:
            try:
                async with db.transaction() as s:
                    await time_out(s, deps, hold.id, hold.on_timeout == "confirm")
                done += 1
            except FailedPrecondition as exc:
                # Closed since the scan (a concurrent pass, a confirm or a release): nothing left to do.
                log.debug("hold_timeout_skipped", hold_id=hold.id, reason=exc.reason)
            except Exception:  # one bad hold must not stop the pass; it is retried next pass
                log.exception("hold_timeout_failed", hold_id=hold.id)
        return done

    async def review_once(self) -> int:
        """Applies the latest review instant to every member not yet reviewed at it, and ends grace
        periods that are over; the instant is recorded once every member has been reviewed."""
        deps, db = self.rt.deps(), self.rt.db
        review_at = calendar.previous_review(deps.cfg.levels, deps.now, deps.tz)
        changes = 0
        async with db.report() as s:
            recorded = await members.review_recorded(s, review_at)
            due = await members.due_for_review(s, review_at, deps.now, recorded=recorded)
        for customer in due:
            async with db.transaction() as s:
                if await review_member(s, deps, customer, review_at):
                    changes += 1
        if not recorded:
            async with db.transaction() as s:
                await members.record_review(s, deps.dialect, review_at, deps.now)
        return changes

    async def run_once(self) -> PassResult:
        result = PassResult()
        result.holds_timed_out = await self.timeout_holds_once()
        result.lots_expired = await self.expire_once()
        result.warnings_emitted = await self.warn_once()
        result.level_changes = await self.review_once()
        return result


async def time_out(session: AsyncSession, deps: Deps, hold_id: str, confirm: bool) -> None:
    """One hold past its expiry: a redemption's hold cancels the redemption, any other closes."""
    redemption = await redemption_of_hold(session, hold_id)
    if redemption is not None:
        await Rights(session, deps).cancel(redemption, "hold timed out", timed_out=True)
    else:
        await Holds(session, deps).close(hold_id, confirm=confirm, timed_out=True)


async def run_maintenance(
    rt: Runtime, maintenance: Maintenance, request: growth_pb2.RunMaintenanceRequest
) -> growth_pb2.RunMaintenanceResponse:
    """RunMaintenance: one pass now, its counts recorded under the call's idempotency key.

    The pass runs its own short transactions (it cannot sit inside one unit of work); every job is
    idempotent, so two first calls racing on one key at worst both run a pass, and both answer the
    counts stored by whichever committed first. A retry answers the stored counts (or
    IDEMPOTENCY_KEY_REUSED) without another pass.
    """
    async with rt.db.read() as s:
        used = await key_recorded(s, rt.idempotency, METHOD, request.idempotency_key.value)
    if used:
        return await rt.write(METHOD, request, growth_pb2.RunMaintenanceResponse, _stored_only)
    done = await maintenance.run_once()
    response = growth_pb2.RunMaintenanceResponse(
        lots_expired=done.lots_expired,
        holds_timed_out=done.holds_timed_out,
        warnings_emitted=done.warnings_emitted,
        level_changes=done.level_changes,
    )

    async def record(s: AsyncSession) -> growth_pb2.RunMaintenanceResponse:
        return response

    return await rt.write(METHOD, request, growth_pb2.RunMaintenanceResponse, record)


async def _stored_only(s: AsyncSession) -> growth_pb2.RunMaintenanceResponse:
    raise RuntimeError("idempotency record vanished between its lookup and its replay")
